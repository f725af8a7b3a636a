import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Deployment } from '../../shared/release';
import { ProviderError, ProviderErrorKinds } from '../errors';
import type { DeploymentRef, DeploymentSpec, InfraProvider } from './types';
import { isAlive } from '../process';

interface InstanceFile {
  service: string;
  version: string;
  target: string;
  hostname: string;
  pid: number;
  /** 0 while it starts: recorded before it listens, so a worker killed meanwhile leaves no unknown process. */
  port: number;
  releaseId: string;
  startedAt: string;
  /** The program it runs: a pid is believed to be the instance only while it runs this. */
  program?: string;
}

/** The example service each local deployment runs by default (compiled code lives in `dist/`). */
export const EXAMPLE_SERVICE = resolve(__dirname, '..', '..', '..', '..', 'examples', 'service', 'server.js');

export interface LocalProcessOptions {
  stateDir: string;
  /** The program each instance runs with Node. Default: the example service. */
  entryPoint: string;
  /** How long an instance has to start listening. Default 15 s. */
  startTimeoutMs?: number;
}

/**
 * The embedded default infrastructure: each deployment is a detached local process running the
 * example service on its own port, described by `<stateDir>/infra/<hostname>.json`. Instances
 * outlive the worker, so releases survive worker restarts.
 */
export class LocalProcessInfra implements InfraProvider {
  private readonly dir: string;
  private readonly startTimeoutMs: number;

  constructor(private readonly options: LocalProcessOptions) {
    this.dir = join(options.stateDir, 'infra');
    this.startTimeoutMs = options.startTimeoutMs ?? 15_000;
  }

  async deploy(spec: DeploymentSpec, signal?: AbortSignal): Promise<Deployment> {
    // One that was still starting when its worker died is stopped, and started anew.
    const starting = await this.readInstance(spec.hostname);
    if (starting?.port === 0) await this.destroy(spec);
    const existing = await this.running(spec.hostname);
    if (existing) {
      if (existing.service === spec.service && existing.version === spec.version) return existing;
      throw new ProviderError(
        ProviderErrorKinds.deployFailed,
        `${spec.hostname} already runs ${existing.service} ${existing.version}; refusing to reuse it for ${spec.service} ${spec.version}`,
        false,
      );
    }
    const program = await this.programOf(spec);
    await mkdir(this.dir, { recursive: true });
    const readyFile = join(this.dir, `${spec.hostname}.ready`);
    await rm(readyFile, { force: true });
    const log = await open(join(this.dir, `${spec.hostname}.log`), 'a');
    try {
      const child = spawn(process.execPath, [program], {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
        env: {
          PATH: process.env.PATH ?? '',
          SERVICE: spec.service,
          VERSION: spec.version,
          HOST: '127.0.0.1',
          PORT: '0',
          READY_FILE: readyFile,
          // A bad version on demand, for trying metric analysis: see the README.
          FAILING_VERSIONS: process.env.GREENLIGHT_EXAMPLE_FAILING_VERSIONS?.slice(0, 1000) ?? '',
        },
      });
      child.unref();
      child.once('error', () => undefined); // not started at all: the wait below says so
      const instance: InstanceFile = {
        service: spec.service,
        version: spec.version,
        target: spec.target,
        hostname: spec.hostname,
        pid: child.pid ?? 0,
        port: 0,
        releaseId: spec.releaseId,
        startedAt: new Date().toISOString(),
        program,
      };
      // Written at once, synchronously: a worker killed from here on leaves a process it can find.
      if (child.pid) writeAtomically(this.instancePath(spec.hostname), instance);
      const ready = await this.waitForReady(readyFile, child.pid, signal).catch(async (e: unknown) => {
        await this.destroy(spec);
        throw e;
      });
      const started = { ...instance, pid: ready.pid, port: ready.port };
      writeAtomically(this.instancePath(spec.hostname), started);
      return toDeployment(started);
    } finally {
      await log.close();
      await rm(readyFile, { force: true });
    }
  }

  /**
   * The program an instance runs: its artifact (a `file://` one, its bytes checked against the
   * digest it was resolved with, so what runs is what was resolved), else the example service.
   */
  private async programOf(spec: DeploymentSpec): Promise<string> {
    if (!spec.artifact) return this.options.entryPoint;
    const { uri, digest } = spec.artifact;
    if (!uri.startsWith('file://')) {
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        `the local infrastructure runs file:// artifacts only, not ${uri}`,
        false,
      );
    }
    const file = fileURLToPath(uri);
    const actual = `sha256:${createHash('sha256')
      .update(await readFile(file))
      .digest('hex')}`;
    if (actual !== digest) {
      throw new ProviderError(
        ProviderErrorKinds.artifactInvalid,
        `the artifact ${uri} is ${actual}, not the ${digest} it was resolved with`,
        false,
      );
    }
    return file;
  }

  async describe(ref: Pick<DeploymentRef, 'hostname'>): Promise<Deployment | null> {
    return this.running(ref.hostname);
  }

  async destroy(ref: Pick<DeploymentRef, 'hostname'>): Promise<void> {
    const instance = await this.readInstance(ref.hostname);
    if (instance && isInstance(instance)) {
      signal(instance.pid, 'SIGTERM');
      for (let i = 0; i < 50 && isInstance(instance); i++) await sleep(100);
      if (isInstance(instance)) signal(instance.pid, 'SIGKILL');
    }
    await rm(this.instancePath(ref.hostname), { force: true });
  }

  /** Every instance that runs now. */
  async list(): Promise<Deployment[]> {
    const files = await readdir(this.dir).catch(() => [] as string[]);
    const running: Deployment[] = [];
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      const deployment = await this.running(file.slice(0, -'.json'.length));
      if (deployment) running.push(deployment);
    }
    return running;
  }

  /** The process id of a deployment, for operators and tests. */
  async pidOf(hostname: string): Promise<number | null> {
    return (await this.readInstance(hostname))?.pid ?? null;
  }

  private async running(hostname: string): Promise<Deployment | null> {
    const instance = await this.readInstance(hostname);
    if (!instance || instance.port === 0 || !isInstance(instance)) return null;
    return toDeployment(instance);
  }

  private async readInstance(hostname: string): Promise<InstanceFile | null> {
    let text: string;
    try {
      text = await readFile(this.instancePath(hostname), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return JSON.parse(text) as InstanceFile;
    } catch {
      return null; // not one of ours (ours are written whole, by rename)
    }
  }

  private instancePath(hostname: string): string {
    return join(this.dir, `${hostname}.json`);
  }

  private async waitForReady(
    readyFile: string,
    pid: number | undefined,
    signal?: AbortSignal,
  ): Promise<{ port: number; pid: number }> {
    const deadline = Date.now() + this.startTimeoutMs;
    while (Date.now() < deadline) {
      if (signal?.aborted) {
        if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
        throw signal.reason;
      }
      try {
        const ready = JSON.parse(await readFile(readyFile, 'utf8')) as { port: number; pid: number };
        if (pid === undefined || ready.pid === pid) return ready;
        await sleep(50); // another attempt's instance: not this one
      } catch {
        if (pid !== undefined && !isAlive(pid)) break;
        await sleep(50);
      }
    }
    if (pid && isAlive(pid)) process.kill(pid, 'SIGKILL');
    throw new ProviderError(
      ProviderErrorKinds.deployFailed,
      `instance did not start listening within ${this.startTimeoutMs} ms (see ${readyFile.replace(/\.ready$/, '.log')})`,
      true,
    );
  }
}

/**
 * Whether the recorded process is still the instance: alive, and (where /proc tells) running the
 * instance's program. A pid reused by another process after a reboot is never signalled.
 */
function isInstance(instance: InstanceFile): boolean {
  if (instance.pid <= 0 || !isAlive(instance.pid)) return false;
  if (!instance.program) return true;
  if (!HAS_PROC) return true; // not Linux: alive is all there is to know
  try {
    return readFileSync(`/proc/${instance.pid}/cmdline`, 'utf8').split('\0').includes(instance.program);
  } catch {
    return false; // it ended since
  }
}

const HAS_PROC = existsSync('/proc/self/cmdline');

/** Sends a signal to a process that may have ended meanwhile. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Writes the file whole or not at all: a worker killed mid-write leaves the old one. */
function writeAtomically(path: string, instance: InstanceFile): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(instance, null, 2));
  renameSync(temporary, path);
}

function toDeployment(instance: InstanceFile): Deployment {
  return {
    service: instance.service,
    version: instance.version,
    target: instance.target,
    hostname: instance.hostname,
    endpoint: `http://127.0.0.1:${instance.port}`,
    releaseId: instance.releaseId,
  };
}
