import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';

/** The Temporal CLI release greenlight builds; later versions cannot be `go install`ed. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

/** The project's ignored cache folder for tools it builds. */
export const PROJECT_CACHE_DIR = resolve(__dirname, '..', '..', '..', '.cache');

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'built';

export interface FindCliOptions {
  /** Explicit path (TEMPORAL_CLI_PATH); wins over everything else. */
  cliPath?: string;
  /** The PATH to search. */
  searchPath: string;
  /** The environment for `go install` (GOPATH, GOPROXY, GOCACHE…). */
  env: NodeJS.ProcessEnv;
  /**
   * Folders searched for a cached build, in order; the first is where a new build goes.
   * Default: `$XDG_CACHE_HOME/greenlight` (or `~/.cache/greenlight`), shared by every clone, then
   * the project's ignored `.cache/`.
   */
  cacheDirs?: string[];
  /** Build with Go when no binary is found. Default true. */
  isBuildAllowed?: boolean;
  /** Progress lines (the build takes minutes). */
  progress?: (line: string) => void;
}

/**
 * Finds the `temporal` binary: TEMPORAL_CLI_PATH, then `temporal` on PATH, then a cached build
 * (the user's cache, then the project's ignored `.cache/`);
 * when none exists and Go is installed, builds one with `go install`. Returns null when there is
 * no binary and no Go: callers then fall back to the SDK's own download.
 */
export async function findTemporalCli(
  options: FindCliOptions,
): Promise<{ path: string; source: CliSource } | null> {
  if (options.cliPath) {
    if (!isExecutable(options.cliPath))
      throw new Error(`TEMPORAL_CLI_PATH ${JSON.stringify(options.cliPath)} is not an executable file`);
    return { path: options.cliPath, source: 'TEMPORAL_CLI_PATH' };
  }
  const onPath = which('temporal', options.searchPath);
  if (onPath) return { path: onPath, source: 'PATH' };
  const candidates = (options.cacheDirs ?? defaultCacheDirs(options.env)).map((dir) =>
    join(dir, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'),
  );
  const cached = candidates.find(isExecutable);
  if (cached) return { path: cached, source: 'cache' };
  if (options.isBuildAllowed === false) return null;
  const go = findGo(options.searchPath);
  if (!go) return null;
  const pkg = {
    label: 'the Temporal CLI',
    spec: `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`,
    binary: 'temporal',
  };
  await goInstall(go, pkg, candidates[0], options);
  return { path: candidates[0], source: 'built' };
}

export function defaultCacheDirs(env: NodeJS.ProcessEnv): string[] {
  const userCache = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, '.cache') : undefined);
  return userCache ? [join(userCache, 'greenlight'), PROJECT_CACHE_DIR] : [PROJECT_CACHE_DIR];
}

/** What `goInstall` builds: a Go package at a version, and what its binary is called. */
export interface GoPackage {
  /** For progress lines: "the Temporal CLI". */
  label: string;
  /** `module/path/cmd/name@version`. */
  spec: string;
  /** The binary `go install` writes (the package's last path element). */
  binary: string;
}

/** Builds a Go package with `go install` into a fresh folder, then moves the binary to `target`. */
export async function goInstall(
  go: string,
  pkg: GoPackage,
  target: string,
  options: { env: NodeJS.ProcessEnv; progress?: (line: string) => void },
): Promise<void> {
  const progress = options.progress ?? (() => undefined);
  const dir = join(target, '..');
  await mkdir(dir, { recursive: true });
  const gobin = await mkdtemp(join(dir, 'build-'));
  progress(`building ${pkg.label} (${pkg.spec}) with go install (a few minutes on the first run)…`);
  const started = Date.now();
  const ticker = setInterval(
    () => progress(`…still building ${pkg.label} (${Math.round((Date.now() - started) / 1000)} s)`),
    20_000,
  );
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const child = spawn(go, ['install', pkg.spec], {
        env: { ...options.env, GOBIN: gobin, GOFLAGS: '-buildvcs=false' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let tail = '';
      const onData = (chunk: Buffer) => {
        tail = (tail + chunk.toString()).slice(-4000);
        for (const line of chunk.toString().split('\n')) if (line.trim()) progress(`  ${line.trim()}`);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolvePromise()
          : reject(new Error(`go install of ${pkg.label} failed (exit ${code}):\n${tail}`)),
      );
    });
    await rename(join(gobin, pkg.binary), target);
    progress(`built ${pkg.label} in ${Math.round((Date.now() - started) / 1000)} s: ${target}`);
  } finally {
    clearInterval(ticker);
    await rm(gobin, { recursive: true, force: true });
  }
}

/** The `go` binary: on the PATH, or where Go's installers put it. */
export function findGo(searchPath: string): string | null {
  return which('go', searchPath) ?? ['/usr/local/go/bin/go', '/usr/lib/go/bin/go'].find(isExecutable) ?? null;
}

function which(command: string, searchPath: string): string | null {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path);
  } catch {
    return false;
  }
}
