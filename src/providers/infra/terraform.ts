import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { z } from 'zod';
import type { Deployment } from '../../shared/release';
import { ProviderError, ProviderErrorKinds } from '../errors';
import type { DeploymentRef, DeploymentSpec, InfraProvider } from './types';

export interface TerraformOptions {
  /** The `tofu` or `terraform` binary. */
  binary: string;
  /** The module applied for each deployment; it takes service, app_version, target, hostname, release_id and outputs `endpoint`. */
  moduleDir: string;
  /** Where each deployment gets its working directory (root module, state, saved plan). */
  workDir: string;
  /** PATH and HOME for the binary; it gets no other variable of the worker's environment. */
  searchPath: string;
  home?: string;
  /** Each line the binary prints, for the log. */
  onOutput?: (line: string) => void;
  /** After SIGINT on cancellation, how long the binary has to release its state lock. Default 10 s. */
  killGraceMs?: number;
}

/** What the saved plan would do; shown to approvers. */
export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
}

const Outputs = z.object({ endpoint: z.object({ value: z.url() }) });

/**
 * Infrastructure through the OpenTofu/Terraform CLI. Each deployment gets a working directory with a
 * generated root module that calls the configured module with the release's values; `init`, `plan
 * -out`, `apply` of exactly that saved plan, `output -json`, and `destroy` run there, always
 * non-interactively. Values are written as JSON with `$` escaped, never as command-line or shell text.
 */
export class TerraformInfra implements InfraProvider {
  constructor(private readonly options: TerraformOptions) {}

  async deploy(spec: DeploymentSpec, signal?: AbortSignal): Promise<Deployment> {
    const dir = this.dirOf(spec.hostname);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'main.tf.json'), JSON.stringify(this.rootModule(spec, dir), null, 2));
    await this.run(dir, ['init', '-input=false', '-no-color'], signal);
    const planned = await this.run(dir, ['plan', '-input=false', '-no-color', '-out=tfplan'], signal);
    const plan = parsePlan(planned);
    await this.run(dir, ['apply', '-input=false', '-no-color', 'tfplan'], signal);
    const endpoint = await this.endpoint(dir, signal);
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
    if (!existsSync(join(dir, 'terraform.tfstate'))) return null;
    const outputs = Outputs.safeParse(JSON.parse(await this.run(dir, ['output', '-json', '-no-color'])));
    if (!outputs.success) return null; // nothing applied (yet), or destroyed
    // The values this deployment was applied with are the ones greenlight wrote into its root module.
    const root = JSON.parse(await readFile(join(dir, 'main.tf.json'), 'utf8')) as ReturnType<
      TerraformInfra['rootModule']
    >;
    const app = root.module.app;
    const unescape = (value: string) => value.replaceAll('$$', '$');
    return {
      service: unescape(app.service),
      version: unescape(app.app_version),
      target: unescape(app.target),
      hostname: ref.hostname,
      endpoint: outputs.data.endpoint.value,
      releaseId: unescape(app.release_id),
    };
  }

  async destroy(ref: Pick<DeploymentRef, 'hostname'>, signal?: AbortSignal): Promise<void> {
    const dir = this.dirOf(ref.hostname);
    if (!existsSync(join(dir, 'main.tf.json'))) return;
    await this.run(dir, ['init', '-input=false', '-no-color'], signal);
    await this.run(dir, ['destroy', '-input=false', '-no-color', '-auto-approve'], signal);
    await rm(dir, { recursive: true, force: true });
  }

  private dirOf(hostname: string): string {
    return join(this.options.workDir, hostname);
  }

  private rootModule(spec: DeploymentSpec, dir: string) {
    // `$` starts an interpolation in Terraform's JSON syntax; `$$` is a literal one.
    const literal = (value: string) => value.replaceAll('$', '$$$$');
    return {
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
        },
      },
      output: {
        endpoint: { value: '${module.app.endpoint}' },
        release_id: { value: literal(spec.releaseId) },
      },
    };
  }

  private async endpoint(dir: string, signal?: AbortSignal): Promise<string> {
    const parsed = Outputs.safeParse(
      JSON.parse(await this.run(dir, ['output', '-json', '-no-color'], signal)),
    );
    if (!parsed.success) {
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        'the module has no `endpoint` output with a URL',
        false,
      );
    }
    return parsed.data.endpoint.value;
  }

  /** Runs the binary in `dir`; streams its output; on cancellation sends SIGINT, then SIGKILL. */
  private run(dir: string, args: string[], signal?: AbortSignal): Promise<string> {
    const grace = this.options.killGraceMs ?? 10_000;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.binary, args, {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: this.options.searchPath,
          ...(this.options.home ? { HOME: this.options.home } : {}),
          TF_IN_AUTOMATION: '1',
          TF_INPUT: '0',
        },
      });
      let stdout = '';
      let stderrTail = '';
      let killer: NodeJS.Timeout | undefined;
      const lines = (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) if (line.trim()) this.options.onOutput?.(line);
      };
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (args[0] !== 'output' && args[0] !== 'show') lines(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString()).slice(-4000);
        lines(chunk);
      });
      const onAbort = () => {
        // SIGINT lets the binary stop cleanly and release its state lock.
        child.kill('SIGINT');
        killer = setTimeout(() => child.kill('SIGKILL'), grace);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(
          new ProviderError(
            ProviderErrorKinds.infraConfigInvalid,
            `cannot run ${this.options.binary}: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
            false,
          ),
        );
      });
      child.once('close', (code) => {
        clearTimeout(killer);
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(signal.reason);
        if (code === 0) return resolve(stdout);
        reject(classify(`${this.options.binary} ${args[0]}`, code, `${stderrTail}\n${stdout.slice(-2000)}`));
      });
    });
  }
}

/** Maps the binary's known failures to typed errors: a held lock is retryable, bad configuration is not. */
export function classify(command: string, code: number | null, output: string): ProviderError {
  const error =
    output
      .split('\n')
      .find((l) => /^\s*(Error|│ Error):/.test(l))
      ?.replace(/^[\s│]*/, '') ?? `exit ${code}`;
  const message = `${command} failed: ${error}`;
  if (/Error acquiring the state lock|state lock/i.test(output)) {
    return new ProviderError(ProviderErrorKinds.infraStateLocked, message, true);
  }
  if (
    /Error: (Invalid|Unsupported|Missing required|Reference to undeclared|Unreadable module|Module not found|Argument or block definition required|Unclosed|Incorrect|Duplicate|Variables not allowed|Extraneous|Unexpected|Unknown variable|Failed to read module)/.test(
      output,
    )
  ) {
    return new ProviderError(ProviderErrorKinds.infraConfigInvalid, message, false);
  }
  return new ProviderError(ProviderErrorKinds.deployFailed, message, true);
}

/** Reads "Plan: 1 to add, 0 to change, 0 to destroy." (or "No changes."). */
export function parsePlan(output: string): PlanSummary {
  const m = /Plan: (\d+) to add, (\d+) to change, (\d+) to destroy/.exec(output);
  if (m) return { add: Number(m[1]), change: Number(m[2]), destroy: Number(m[3]) };
  return { add: 0, change: 0, destroy: 0 };
}
