import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultCacheDirs, findGo, goInstall, isExecutable } from './cli-binary';

/** The Temporal server release greenlight's cluster tests run: it builds from the Go module proxy. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const SERVER_MODULE = 'go.temporal.io/server';

/** A Temporal server build: the server, its SQL schema tool and the PostgreSQL schemas they ship with. */
export interface TemporalServerTools {
  server: string;
  sql: string;
  /** `…/schema/postgresql/v12`, with `temporal/versioned` and `visibility/versioned` under it. */
  schemaDir: string;
}

/**
 * Finds the Temporal server, its SQL tool and schemas in the cache (the user's, then the project's
 * ignored `.cache/`); builds what is missing with Go. Returns null when something is missing and
 * there is no Go to build it.
 */
export async function findTemporalServer(options: {
  searchPath: string;
  env: NodeJS.ProcessEnv;
  cacheDirs?: string[];
  progress?: (line: string) => void;
}): Promise<TemporalServerTools | null> {
  const dirs = (options.cacheDirs ?? defaultCacheDirs(options.env)).map((d) =>
    join(d, `temporal-server-${TEMPORAL_SERVER_VERSION}`),
  );
  const cached = dirs.map(toolsIn).find(isComplete);
  if (cached) return cached;
  const go = findGo(options.searchPath);
  if (!go) return null;
  const tools = toolsIn(dirs[0]);
  const build = { env: options.env, progress: options.progress };
  if (!isExecutable(tools.server)) {
    const spec = `${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`;
    await goInstall(go, { label: 'the Temporal server', spec, binary: 'server' }, tools.server, build);
  }
  if (!isExecutable(tools.sql)) {
    const spec = `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`;
    await goInstall(go, { label: "the Temporal server's SQL tool", spec, binary: 'sql' }, tools.sql, build);
  }
  if (!existsSync(join(tools.schemaDir, 'temporal', 'versioned')))
    await copySchemas(go, tools.schemaDir, options.env);
  return tools;
}

function toolsIn(dir: string): TemporalServerTools {
  return {
    server: join(dir, 'server'),
    sql: join(dir, 'sql'),
    schemaDir: join(dir, 'schema', 'postgresql', 'v12'),
  };
}

function isComplete(t: TemporalServerTools): boolean {
  return (
    isExecutable(t.server) && isExecutable(t.sql) && existsSync(join(t.schemaDir, 'visibility', 'versioned'))
  );
}

/** Copies the PostgreSQL schemas out of the server's module (already in Go's module cache after the build). */
async function copySchemas(go: string, target: string, env: NodeJS.ProcessEnv): Promise<void> {
  const { stdout } = await promisify(execFile)(
    go,
    ['mod', 'download', '-json', `${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`],
    // Outside any Go module, so the download is not recorded in one.
    { env: { ...env, GOFLAGS: '-mod=mod' }, cwd: '/', maxBuffer: 1 << 20 },
  );
  const moduleDir = (JSON.parse(stdout) as { Dir?: string }).Dir;
  if (!moduleDir)
    throw new Error(`go mod download found no folder for ${SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`);
  const partial = `${target}.partial`;
  await rm(partial, { recursive: true, force: true });
  await cp(join(moduleDir, 'schema', 'postgresql', 'v12'), partial, { recursive: true });
  // The module cache is read-only: the copy is made writable, so the cache can be cleared.
  await makeWritable(partial);
  await rename(partial, target);
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(path);
    else await chmod(path, 0o644);
  }
}
