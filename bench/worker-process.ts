// A worker in a process of its own, so that a benchmark can read its memory: greenlight's worker on
// the instant providers (`greenlight`), or the baseline workflows' (`baseline`). It says `ready`
// once it polls, then its resident set size every 200 ms, over IPC.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { createWorker } from '../src/worker';
import { composeInstant } from './instant';

/** The workflow bundle's code is built by the benchmark beforehand: no bundler in this process's memory. */
const [kind, address, taskQueue, configJson, codePath] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];

/** How many CMDB writes the greenlight worker deferred to its outbox (a benchmark refuses any). */
let deferred: () => Promise<number> = async () => 0;

async function greenlightWorker(connection: NativeConnection): Promise<Worker> {
  const config = parseOrThrow(Config, JSON.parse(configJson), 'benchmark config');
  const client = new Client({ connection: await Connection.connect({ address }) });
  const providers = await composeInstant(config, await mkdtemp(join(tmpdir(), 'greenlight-bench-')), client);
  deferred = providers.deferred;
  return createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps: providers.deps,
    workflowBundle: { codePath },
  });
}

async function baselineWorker(connection: NativeConnection): Promise<Worker> {
  return Worker.create({
    connection,
    taskQueue,
    workflowBundle: { codePath },
    activities: { async noop() {} },
  });
}

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address });
  const worker = kind === 'baseline' ? await baselineWorker(connection) : await greenlightWorker(connection);
  const running = worker.run();
  process.send!('ready');
  const timer = setInterval(() => process.send!({ rss: process.memoryUsage().rss }), 200);
  process.once('SIGTERM', () => worker.shutdown());
  await running;
  clearInterval(timer);
  process.send!({ deferred: await deferred() }, () => process.exit(0));
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
