import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { freePort } from './postgres';

export interface MotoServer {
  endpoint: string;
  /** Credentials the tests use: distinctive, so a test can prove they never leak. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  createZone(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** moto's server (PyPI `moto[server]`): `.ci/run` installs it in a virtualenv in the user cache. */
export function motoServerBinary(): string {
  const candidates = [
    process.env.GREENLIGHT_MOTO_SERVER,
    join(
      process.env.XDG_CACHE_HOME || join(homedir(), '.cache'),
      'greenlight',
      'moto-venv',
      'bin',
      'moto_server',
    ),
    ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'moto_server')),
  ];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new Error("no moto_server found; run .ci/run or pip install 'moto[server]'");
  return found;
}

/** A real Route 53-compatible server on a loopback port, for one test file. */
export async function startMoto(): Promise<MotoServer> {
  const port = await freePort();
  const server: ChildProcess = spawn(motoServerBinary(), ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const collect = (d: Buffer) => (log = (log + d.toString()).slice(-4000));
  server.stdout!.on('data', collect);
  server.stderr!.on('data', collect);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (server.exitCode !== null || Date.now() > deadline) {
      server.kill('SIGKILL');
      throw new Error(`moto_server did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const credentials = {
    accessKeyId: 'AKIAGREENLIGHTTEST01',
    secretAccessKey: `never-log-me-${Math.random().toString(36).slice(2)}`,
  };
  const client = new Route53Client({ region: 'us-east-1', endpoint, credentials });
  return {
    endpoint,
    credentials,
    async createZone(name) {
      const out = await client.send(
        new CreateHostedZoneCommand({ Name: name, CallerReference: `${name}-${Date.now()}` }),
      );
      return out.HostedZone!.Id!.replace(/^\/hostedzone\//, '');
    },
    async stop() {
      client.destroy();
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
    },
  };
}
