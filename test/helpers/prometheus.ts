import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres';

/** A real Prometheus server (Debian's `prometheus`) for one test file, on a loopback port. */
export interface PrometheusServer {
  url: string;
  /** Scrapes these `host:port`s (every second) from now on, replacing the ones before; nothing once stopped. */
  scrape(targets: string[]): Promise<void>;
  stop(): Promise<void>;
  log(): string;
}

export function prometheusBinary(): string {
  const found = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
  if (!found) throw new Error('no prometheus found (apt-get install prometheus)');
  return found;
}

/** Starts Prometheus scraping the targets of a file it re-reads every second; resolves once ready. */
export async function startPrometheus(): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'greenlight-prometheus-'));
  const port = await freePort();
  const targetsFile = join(dir, 'targets.json');
  await writeFile(targetsFile, '[]');
  await writeFile(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: greenlight-example
    scrape_interval: 1s
    file_sd_configs: [{ files: ['${targetsFile}'], refresh_interval: 1s }]
`,
  );
  const server: ChildProcess = spawn(
    prometheusBinary(),
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir },
  );
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const url = `http://127.0.0.1:${port}`;
  let isStopped = false;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const isReady = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (isReady) break;
    if (server.exitCode !== null || Date.now() > deadline) {
      server.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`prometheus did not start:\n${log.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    async scrape(targets) {
      if (isStopped) return; // a stopped server scrapes nothing
      // Written whole and renamed, so Prometheus never reads half a file.
      await writeFile(`${targetsFile}.tmp`, JSON.stringify([{ targets, labels: {} }]));
      await rename(`${targetsFile}.tmp`, targetsFile);
    },
    async stop() {
      isStopped = true;
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
