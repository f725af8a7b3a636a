import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ConfigError } from '../config/errors';
import type { Config, SecretRef, TerraformBackendConfig } from '../config/schema';
import { TerraformInfra } from '../providers/infra/terraform';
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

/**
 * The Terraform/OpenTofu infrastructure of each target that has one. State is where every worker
 * reaches it: the target's own backend, else the CMDB's database when it is a PostgreSQL server;
 * with the embedded CMDB only, a file in each deployment's working directory under the state dir.
 */
export function openTerraformTargets(
  config: Config,
  stateDir: string,
  options: TerraformTargetsOptions,
): Map<string, TerraformInfra> {
  const byTarget = new Map<string, TerraformInfra>();
  for (const [target, t] of Object.entries(config.targets)) {
    if (t.infra.kind !== 'terraform') continue;
    const backend = t.infra.backend
      ? configuredBackend(t.infra.backend, `targets.${target}.infra.backend`, options.env)
      : options.cmdbUrl
        ? postgresStateBackend(options.cmdbUrl)
        : undefined;
    byTarget.set(
      target,
      new TerraformInfra({
        binary: t.infra.binary ?? findIacBinary(options.searchPath, target),
        moduleDir: t.infra.module,
        workDir: join(stateDir, 'terraform', target),
        backend,
        workspacePrefix: target,
        searchPath: options.searchPath,
        onOutput: (line) => options.onOutput?.(target, line),
      }),
    );
  }
  return byTarget;
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
function readSecret(ref: SecretRef, key: string, env: NodeJS.ProcessEnv): string {
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
    `targets.${target}.infra: no tofu or terraform on PATH; install one or set infra.binary`,
  );
}
