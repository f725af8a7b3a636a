import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import type { Deployment } from '../../shared/release';
import { ProviderError, ProviderErrorKinds } from '../errors';
import { DEFAULT_WORKSPACE, INIT, parsePlan, TerraformRunner } from './terraform-cli';
import type { TerraformRunnerOptions } from './terraform-cli';
import type { TerraformBackend } from './terraform-backend';
import type { DeploymentRef, DeploymentSpec, InfraProvider } from './types';

export interface TerraformOptions extends TerraformRunnerOptions {
  /** The module applied for each deployment; it takes service, app_version, target, hostname, release_id and outputs `endpoint`. */
  moduleDir: string;
  /** Where each deployment gets its working directory (root module, saved plan; local state). */
  workDir: string;
  /** Workspaces are named `<workspacePrefix>_<host name>`: the target, so targets never share one. Default `greenlight`. */
  workspacePrefix?: string;
}

export type { PlanSummary } from './terraform-cli';

const Outputs = z.object({ endpoint: z.object({ value: z.url() }) });
/** The values a deployment was applied with, kept in its state so any worker can read them. */
const AppliedValues = z.object({
  deployment: z.object({
    value: z.object({
      service: z.string(),
      version: z.string(),
      target: z.string(),
      hostname: z.string(),
      release_id: z.string(),
      artifact_uri: z.string().optional(),
      artifact_digest: z.string().optional(),
    }),
  }),
});

type RootModule = ReturnType<TerraformInfra['rootModule']>;
/** A root module read back from disk: written by deploy, or holding only the backend. */
type StoredRootModule = Partial<RootModule>;
/**
 * Infrastructure through the OpenTofu/Terraform CLI. Each deployment gets a working directory with a
 * generated root module that calls the configured module with the release's values; `init`, `plan
 * -out`, `apply` of exactly that saved plan, `output -json`, and `destroy` run there, always
 * non-interactively. Values are written as JSON with `${`/`%{` escaped, never as command-line or shell text.
 * With a backend, state is in the deployment's workspace there, and the values it was applied with
 * are an output of its state: a worker that never applied it describes it, rebuilds its root module
 * and destroys it.
 */
export class TerraformInfra implements InfraProvider {
  private readonly runner: TerraformRunner;
  private isArtifactTaken: boolean | undefined;

  constructor(private readonly options: TerraformOptions) {
    this.runner = new TerraformRunner(options);
  }

  async deploy(spec: DeploymentSpec, signal?: AbortSignal): Promise<Deployment> {
    const dir = this.dirOf(spec.hostname);
    await mkdir(dir, { recursive: true });
    // Applied before the backend was configured: the state stays local (init cannot move it to a workspace).
    const isLocalState = existsSync(join(dir, 'terraform.tfstate'));
    const root = this.rootModule(spec, dir, isLocalState ? undefined : this.options.backend);
    await writeRootModule(dir, root);
    const workspace = this.workspaceOf(root, spec.hostname);
    await this.run(dir, INIT, DEFAULT_WORKSPACE, signal);
    if (workspace !== DEFAULT_WORKSPACE) await this.runner.createWorkspace(dir, workspace, signal);
    const planned = await this.run(
      dir,
      ['plan', '-input=false', '-no-color', '-out=tfplan'],
      workspace,
      signal,
    );
    const plan = parsePlan(planned);
    await this.run(dir, ['apply', '-input=false', '-no-color', 'tfplan'], workspace, signal);
    const { endpoint } = await this.readOutputs(dir, root, workspace, signal);
    if (!endpoint) {
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        'the module has no `endpoint` output with a URL',
        false,
      );
    }
    return {
      service: spec.service,
      version: spec.version,
      target: spec.target,
      hostname: spec.hostname,
      endpoint,
      releaseId: spec.releaseId,
      plan,
    };
  }

  async describe(ref: Pick<DeploymentRef, 'hostname'>): Promise<Deployment | null> {
    const dir = this.dirOf(ref.hostname);
    const root = await readRootModule(dir);
    const workspace = await this.findState(dir, root, ref.hostname);
    if (!workspace) {
      if (!root) await rm(dir, { recursive: true, force: true }); // a lookup leaves nothing behind
      return null;
    }
    const { values, endpoint } = await this.readOutputs(dir, root, workspace);
    if (!values || !endpoint) return null; // nothing applied (yet), or destroyed
    const { service, version, target, releaseId } = values;
    return { service, version, target, releaseId, hostname: ref.hostname, endpoint };
  }

  async destroy(ref: Pick<DeploymentRef, 'hostname'>, signal?: AbortSignal): Promise<void> {
    const dir = this.dirOf(ref.hostname);
    let root = await readRootModule(dir);
    const workspace = await this.findState(dir, root, ref.hostname, signal);
    if (workspace && !root?.module) root = await this.rebuildRootModule(dir, ref.hostname, workspace, signal);
    if (workspace && root) {
      await this.run(dir, INIT, DEFAULT_WORKSPACE, signal);
      await this.run(dir, ['destroy', '-input=false', '-no-color', '-auto-approve'], workspace, signal);
    }
    if (workspace && workspace !== DEFAULT_WORKSPACE) {
      // Refused while the workspace still holds resources: then the retried destroy tries again.
      await this.run(dir, ['workspace', 'delete', '-no-color', workspace], DEFAULT_WORKSPACE, signal);
    }
    await rm(dir, { recursive: true, force: true });
  }

  private dirOf(hostname: string): string {
    return join(this.options.workDir, hostname);
  }

  /** The deployment's own workspace when its root module has a backend; `default` (the local file) otherwise. */
  private workspaceOf(root: Pick<StoredRootModule, 'terraform'>, hostname: string): string {
    if (!root.terraform) return DEFAULT_WORKSPACE;
    return `${this.options.workspacePrefix ?? 'greenlight'}_${hostname}`;
  }

  /**
   * The workspace that holds the deployment's state, or null when it has none: the working
   * directory's file, or its workspace in the backend (looked up without creating it).
   */
  private async findState(
    dir: string,
    root: StoredRootModule | null,
    hostname: string,
    signal?: AbortSignal,
  ): Promise<string | null> {
    const terraform = root ? root.terraform : this.options.backend && this.backendOnly().terraform;
    if (!terraform) return existsSync(join(dir, 'terraform.tfstate')) ? DEFAULT_WORKSPACE : null;
    if (!root) {
      await mkdir(dir, { recursive: true });
      await writeRootModule(dir, this.backendOnly());
    }
    await this.run(dir, INIT, DEFAULT_WORKSPACE, signal);
    const workspace = this.workspaceOf({ terraform }, hostname);
    return (await this.runner.hasWorkspace(dir, workspace, signal)) ? workspace : null;
  }

  /** The root module of a deployment another worker applied, from the values its state keeps. */
  private async rebuildRootModule(
    dir: string,
    hostname: string,
    workspace: string,
    signal?: AbortSignal,
  ): Promise<StoredRootModule | null> {
    const { values } = await this.readOutputs(dir, null, workspace, signal);
    if (!values) {
      const resources = await this.run(dir, ['state', 'list'], workspace, signal);
      if (!resources.trim()) return null; // an empty workspace: nothing to destroy
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        `the state of ${hostname} (workspace ${workspace}) holds resources but not the values they were applied with; destroy them with the tool from the worker that applied them`,
        false,
      );
    }
    const root = this.rootModule(values, dir, this.options.backend);
    await writeRootModule(dir, root);
    return root;
  }

  /** The deployment's values and endpoint from `output -json`, read through the backend. */
  private async readOutputs(
    dir: string,
    root: StoredRootModule | null,
    workspace: string,
    signal?: AbortSignal,
  ): Promise<{ values: DeploymentSpec | null; endpoint: string | null }> {
    const outputs: unknown = JSON.parse(
      await this.run(dir, ['output', '-json', '-no-color'], workspace, signal),
    );
    const endpoint = Outputs.safeParse(outputs);
    const applied = AppliedValues.safeParse(outputs);
    const values = applied.success
      ? fromOutput(applied.data.deployment.value)
      : root?.module
        ? fromRootModule(root.module.app) // state written before the values were an output
        : null;
    return { values, endpoint: endpoint.success ? endpoint.data.endpoint.value : null };
  }

  private backendOnly() {
    return this.runner.backendBlock();
  }

  private rootModule(spec: DeploymentSpec, dir: string, backend: TerraformBackend | undefined) {
    // `${` and `%{` start a template sequence in Terraform's JSON syntax; `$${` and `%%{` are literal.
    const literal = (value: string) => value.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
    // The artifact goes to a module that declares `artifact_uri` (and `artifact_digest`): a module
    // written before artifacts keeps working unchanged.
    const artifact =
      spec.artifact && this.takesArtifact()
        ? { artifact_uri: literal(spec.artifact.uri), artifact_digest: literal(spec.artifact.digest) }
        : {};
    return {
      ...(backend ? { terraform: { backend: { [backend.type]: backend.config } } } : {}),
      module: {
        app: {
          source: `./${relative(dir, this.options.moduleDir).split('\\').join('/')}`.replace(
            /^\.\/\.\.\//,
            '../',
          ),
          service: literal(spec.service),
          app_version: literal(spec.version),
          target: literal(spec.target),
          hostname: literal(spec.hostname),
          release_id: literal(spec.releaseId),
          ...artifact,
        },
      },
      output: {
        endpoint: { value: '${module.app.endpoint}' },
        release_id: { value: literal(spec.releaseId) },
        deployment: {
          value: {
            service: literal(spec.service),
            version: literal(spec.version),
            target: literal(spec.target),
            hostname: literal(spec.hostname),
            release_id: literal(spec.releaseId),
            ...artifact,
          },
        },
      },
    };
  }

  /** Whether the module declares the variable `artifact_uri` (in HCL or JSON syntax). */
  private takesArtifact(): boolean {
    if (this.isArtifactTaken === undefined) {
      const files = readdirSync(this.options.moduleDir).filter((f) => /\.tf(\.json)?$/.test(f));
      this.isArtifactTaken = files.some((f) => {
        const text = readFileSync(join(this.options.moduleDir, f), 'utf8');
        return f.endsWith('.json')
          ? /"variable"\s*:\s*\{[^]*"artifact_uri"\s*:/.test(text)
          : /^\s*variable\s+"artifact_uri"/m.test(text);
      });
    }
    return this.isArtifactTaken;
  }

  private run(dir: string, args: string[], workspace: string, signal?: AbortSignal): Promise<string> {
    return this.runner.run(dir, args, workspace, signal);
  }
}

function fromOutput(value: z.output<typeof AppliedValues>['deployment']['value']): DeploymentSpec {
  return {
    service: value.service,
    version: value.version,
    target: value.target,
    hostname: value.hostname,
    releaseId: value.release_id,
    ...(value.artifact_uri && value.artifact_digest
      ? { artifact: { uri: value.artifact_uri, digest: value.artifact_digest } }
      : {}),
  };
}

/** The values an earlier greenlight wrote into the root module, escaped by doubling every `$`. */
function fromRootModule(app: RootModule['module']['app']): DeploymentSpec {
  const unescape = (value: string) => value.replaceAll('$$', '$');
  return {
    service: unescape(app.service),
    version: unescape(app.app_version),
    target: unescape(app.target),
    hostname: unescape(app.hostname),
    releaseId: unescape(app.release_id),
  };
}

async function readRootModule(dir: string): Promise<StoredRootModule | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'main.tf.json'), 'utf8')) as StoredRootModule;
  } catch {
    return null; // never written here, or cut short
  }
}

function writeRootModule(dir: string, root: object): Promise<void> {
  return writeFile(join(dir, 'main.tf.json'), JSON.stringify(root, null, 2));
}
