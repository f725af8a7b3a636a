import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ConfigError } from '../config/errors';
import type { Config, SecretRef, TerraformBackendConfig } from '../config/schema';
import { environmentModule } from '../config/resolve';
import { TerraformInfra } from '../providers/infra/terraform';
import type { TerraformRunnerOptions } from '../providers/infra/terraform-cli';
import { TerraformEnvironment } from '../providers/infra/terraform-environment';
import { postgresStateBackend } from '../providers/infra/terraform-backend';
import type { TerraformBackend } from '../providers/infra/terraform-backend';

export interface TerraformTargetsOptions {
  /** The CMDB's PostgreSQL URL; absent: the embedded PGlite, and state in local files. */
  cmdbUrl?: string;
  searchPath: string;
  /** Where secrets that a backend names (`{ env: NAME }`) are read from. */
  env: NodeJS.ProcessEnv;
  onOutput?: (target: string, line: string) => void;
}

/** The Terraform/OpenTofu infrastructure of each target that has one (see `runnerOptions` for its state). */
export function openTerraformTargets(
  config: Config,
  stateDir: string,
  options: TerraformTargetsOptions,
): Map<string, TerraformInfra> {
  const byTarget = new Map<string, TerraformInfra>();
  for (const [target, t] of Object.entries(config.targets)) {
    if (t.infra.kind !== 'terraform') continue;
    byTarget.set(
      target,
      new TerraformInfra({
        ...runnerOptions(config, target, options),
        moduleDir: t.infra.module,
        workDir: join(stateDir, 'terraform', target),
        workspacePrefix: target,
      }),
    );
  }
  return byTarget;
}

/**
 * The environments' own modules: for an environment (and the template it was made from), its
 * module applied with the Terraform settings of its target, or null when it has none. The binary
 * is found at start-up for every target and template that names a module.
 */
export function openEnvironmentModules(
  config: Config,
  stateDir: string,
  options: TerraformTargetsOptions,
): (environment: string, template: string) => TerraformEnvironment | null {
  const byTarget = new Map<string, TerraformRunnerOptions>();
  const runnerOf = (target: string) => {
    if (!byTarget.has(target)) byTarget.set(target, runnerOptions(config, target, options));
    return byTarget.get(target)!;
  };
  for (const [name, t] of Object.entries(config.targets)) if (t.environment.module) runnerOf(name);
  for (const t of Object.values(config.environments.templates)) {
    if (t.module) runnerOf(t.like ?? Object.keys(config.targets)[0]!);
  }
  return (environment, template) => {
    const module = environmentModule(config, environment, template);
    if (!module) return null;
    return new TerraformEnvironment({
      ...runnerOf(module.target),
      moduleDir: module.moduleDir,
      workDir: join(stateDir, 'terraform-environments'),
    });
  };
}

/**
 * How a target's Terraform runs. State is where every worker reaches it: the target's own backend,
 * else the CMDB's database when it is a PostgreSQL server; with the embedded CMDB only, a file in
 * the working directory under the state dir.
 */
function runnerOptions(
  config: Config,
  target: string,
  options: TerraformTargetsOptions,
): TerraformRunnerOptions {
  const infra = config.targets[target]!.infra;
  const configured = infra.kind === 'terraform' ? infra : undefined;
  const backend = configured?.backend
    ? configuredBackend(configured.backend, `targets.${target}.infra.backend`, options.env)
    : options.cmdbUrl
      ? postgresStateBackend(options.cmdbUrl)
      : undefined;
  return {
    binary: configured?.binary ?? findIacBinary(options.searchPath, target),
    backend,
    searchPath: options.searchPath,
    onOutput: (line) => options.onOutput?.(target, line),
    ...(configured ? { timeoutMs: configured.timeout } : {}),
  };
}

/** A backend from the configuration, its variables read from where the configuration says they are. */
function configuredBackend(
  backend: TerraformBackendConfig,
  key: string,
  env: NodeJS.ProcessEnv,
): TerraformBackend {
  const variables: Record<string, string> = {};
  for (const [name, ref] of Object.entries(backend.env)) {
    variables[name] = readSecret(ref, `${key}.env.${name}`, env);
  }
  return { type: backend.type, config: backend.config, env: variables };
}

/** A secret's text: an environment variable, or a file's content without its final newline. */
export function readSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) throw new ConfigError(`${key}: the environment variable ${ref.env} is not set`);
    return value;
  }
  try {
    return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** `tofu`, then `terraform`, on PATH. */
function findIacBinary(searchPath: string, target: string): string {
  for (const name of ['tofu', 'terraform']) {
    for (const dir of searchPath.split(delimiter)) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  throw new ConfigError(
    `targets.${target}: its infrastructure or environment module needs tofu or terraform, and neither is on PATH; install one or set infra.binary`,
  );
}
