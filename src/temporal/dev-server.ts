// A Temporal dev server (`temporal server start-dev`) started as a child process, ready once it
// answers. The SDK's own launcher gives the server a fixed 5 s; on a busy machine it needs longer.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../shared/messages';
import { localAddress } from './connection';

export interface DevServerOptions {
  /** The `temporal` CLI binary. */
  cliPath: string;
  /** The frontend's port; a free one when not given. */
  port?: number;
  /** The Web UI's port; no Web UI when not given. */
  uiPort?: number;
  /** The remote codec the Web UI decodes payloads with (`greenlight codec-server`). */
  uiCodecEndpoint?: string;
  namespace?: string;
  /** Where the server keeps its state; in memory when not given. */
  dbFilename?: string;
  /** The server's own log level (its lines go to `onLog`); `error` when not given. */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** How long the server may take to answer. */
  readyWithinMs?: number;
  /** Each line the server writes until it is stopped: its banner on stdout, its log on stderr. */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface DevServer {
  address: string;
  namespace: string;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** How much of the server's output an error that it failed to start quotes. */
const LOG_TAIL_CHARS = 4_000;
const STOP_GRACE_MS = 10_000;

/** Whether something accepts connections on a loopback port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port nobody listens on at the moment (the server may still lose it to another process). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Starts a dev server on loopback with greenlight's search attributes, and resolves once its
 * namespace answers. Fails with the server's last output when it exits or does not answer in time.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freeLocalPort());
  const namespace = options.namespace ?? 'default';
  const address = localAddress(port);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-format',
    'pretty',
    '--log-level',
    options.logLevel ?? 'error',
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    ...ALL_SEARCH_ATTRIBUTES.flatMap((a) => ['--search-attribute', `${a.name}=Keyword`]),
    ...(options.uiPort ? ['--ui-ip', '127.0.0.1', '--ui-port', String(options.uiPort)] : ['--headless']),
    ...(options.uiPort && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
  ];
  const child = spawn(options.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  let isStopping = false;
  const onOutput = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-LOG_TAIL_CHARS);
    if (options.onLog && !isStopping)
      for (const line of text.split('\n')) if (line.trim()) options.onLog(line, stream);
  };
  child.stdout!.on('data', onOutput('stdout'));
  child.stderr!.on('data', onOutput('stderr'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  const stop = async () => {
    isStopping = true; // what a stopping server says about its own connections is noise
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const readyWithinMs = options.readyWithinMs ?? 60_000;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (spawnError || hasExited(child)) {
      await stop();
      throw new Error(
        `the Temporal dev server (${options.cliPath}) ${spawnError ? `could not be started: ${spawnError.message}` : `exited with ${child.exitCode ?? child.signalCode}`}:\n${tail}`,
      );
    }
    if (await answers(address, namespace)) return { address, namespace, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `the Temporal dev server did not answer on ${address} within ${readyWithinMs / 1000} s:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Whether the frontend answers and knows the namespace. */
async function answers(address: string, namespace: string): Promise<boolean> {
  // A lazy connection is one this function always holds, to close: a failed `connect` would leave
  // its channel retrying in the background, keeping the process alive.
  const connection = Connection.lazy({ address });
  try {
    await connection.withDeadline(Date.now() + 2_000, () =>
      connection.workflowService.describeNamespace({ namespace }),
    );
    return true;
  } catch {
    return false;
  } finally {
    await connection.close().catch(() => undefined);
  }
}
