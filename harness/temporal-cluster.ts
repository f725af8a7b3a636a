// The Temporal server itself (not the dev server) on PostgreSQL, on loopback ports: what the cluster
// tests run greenlight workers against. Its schemas are set up with the server's own SQL tool.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { freeLocalPort } from '../src/temporal/dev-server';
import { findTemporalServer } from '../src/temporal/server-binary';
import type { TemporalServerTools } from '../src/temporal/server-binary';
import { ensureSearchAttributes } from '../src/temporal/connection';

export interface TemporalCluster {
  /** The frontend's gRPC address. */
  address: string;
  namespace: string;
  /** Stops the server (SIGTERM, then SIGKILL) and starts it again on the same database and ports. */
  restart(): Promise<void>;
  /** Stops it; `start` brings it back. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The server's last log lines, for a failing test's message. */
  log(): string;
}

/** Where PostgreSQL is: the server connects as this user, which may create databases. */
export interface PostgresLocation {
  host: string;
  port: number;
  user: string;
  password: string;
}

const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;

/** Whether a loopback port is free (the port itself), or null. */
async function isFree(port: number): Promise<number | null> {
  const server = createServer();
  const bound = await new Promise<boolean>((r) => {
    server.once('error', () => r(false));
    server.listen(port, '127.0.0.1', () => r(true));
  });
  if (!bound) return null;
  const { port: chosen } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return chosen;
}

/**
 * A free port below 32768: the server records its membership ports in a PostgreSQL `smallint`,
 * so a port from the ephemeral range (above it on Linux) stops the server at start.
 */
async function freeMembershipPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = await isFree(12_000 + Math.floor(Math.random() * 8_000));
    if (port !== null) return port;
  }
  throw new Error('no free loopback port between 12000 and 20000');
}

export async function temporalServerTools(): Promise<TemporalServerTools> {
  const tools = await findTemporalServer({
    searchPath: process.env.PATH ?? '',
    env: process.env,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  if (!tools)
    throw new Error('no Temporal server build and no Go to build one (npm run temporal:ensure-server)');
  return tools;
}

/**
 * Creates Temporal's two databases on the PostgreSQL server and brings their schemas to the newest
 * version with the SQL tool (the password goes by environment, never on a command line).
 */
async function setUpSchemas(tools: TemporalServerTools, pg: PostgresLocation, prefix: string): Promise<void> {
  const run = promisify(execFile);
  const env = { ...process.env, SQL_PASSWORD: pg.password };
  for (const [database, schema] of [
    [`${prefix}`, 'temporal'],
    [`${prefix}_visibility`, 'visibility'],
  ] as const) {
    const base = [
      '--plugin',
      'postgres12',
      '--ep',
      pg.host,
      '-p',
      String(pg.port),
      '-u',
      pg.user,
      '--db',
      database,
    ];
    await run(tools.sql, [...base, 'create-database'], { env });
    await run(tools.sql, [...base, 'setup-schema', '-v', '0.0'], { env });
    await run(tools.sql, [...base, 'update-schema', '-d', join(tools.schemaDir, schema, 'versioned')], {
      env,
    });
  }
}

function serverConfig(
  pg: PostgresLocation,
  prefix: string,
  ports: Record<string, number>,
  dynamicConfig: string,
) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${pg.host}:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = Object.fromEntries(
    SERVICES.map((s) => [
      s,
      {
        rpc: {
          grpcPort: ports[`${s}Grpc`],
          membershipPort: ports[`${s}Membership`],
          bindOnLocalHost: true,
          ...(s === 'frontend' ? { httpPort: ports.frontendHttp } : {}),
        },
      },
    ]),
  );
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: 4,
      datastores: { default: store(prefix, 20), visibility: store(`${prefix}_visibility`, 4) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontendGrpc}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfig, pollInterval: '10s' },
  };
}

/** Settings that make a test cluster notice new namespaces and search attributes at once. */
const DYNAMIC_CONFIG = `system.namespaceCacheRefreshInterval:
  - value: 1s
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
`;

/**
 * Starts the Temporal server on PostgreSQL: sets up the schemas, starts all four services in one
 * process on free loopback ports, registers the namespace and greenlight's search attributes.
 */
export async function startTemporalCluster(
  pg: PostgresLocation,
  options: { namespace?: string; databasePrefix?: string } = {},
): Promise<TemporalCluster> {
  const tools = await temporalServerTools();
  const namespace = options.namespace ?? 'default';
  const prefix = options.databasePrefix ?? 'temporal';
  await setUpSchemas(tools, pg, prefix);
  const root = await mkdtemp(join(tmpdir(), 'greenlight-temporal-'));
  const ports: Record<string, number> = { frontendHttp: await freeLocalPort() };
  for (const s of SERVICES) {
    ports[`${s}Grpc`] = await freeLocalPort();
    ports[`${s}Membership`] = await freeMembershipPort();
  }
  await mkdir(join(root, 'config'));
  await writeFile(join(root, 'dynamic.yaml'), DYNAMIC_CONFIG);
  // JSON is YAML: the server reads the file as YAML.
  const config = serverConfig(pg, prefix, ports, join(root, 'dynamic.yaml'));
  await writeFile(join(root, 'config', 'development.yaml'), JSON.stringify(config, null, 2), { mode: 0o600 });
  const address = `127.0.0.1:${ports.frontendGrpc}`;
  let child: ChildProcess | undefined;
  let tail = '';
  const start = async () => {
    const proc = spawn(
      tools.server,
      ['--root', root, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-8000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    await untilServing(address, proc, () => tail);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  try {
    await registerNamespace(address, namespace);
  } catch (e) {
    await kill('SIGKILL');
    throw e;
  }
  return {
    address,
    namespace,
    start,
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(root, { recursive: true, force: true });
    },
    log: () => tail,
  };
}

/** Waits until the frontend answers, failing early when the server exits. */
async function untilServing(address: string, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the Temporal server exited (${proc.exitCode}):\n${log()}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`the Temporal server did not answer within 90 s:\n${log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Registers the namespace (one day's retention) and greenlight's search attributes, then waits until it is usable. */
async function registerNamespace(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService
      .registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })
      .catch((e: Error) => {
        if (!/already exists|AlreadyExists/i.test(e.message)) throw e;
      });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await ensureSearchAttributes(connection, namespace);
        await connection.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
}
