// Outage: a dependency dies while releases are in flight. How many calls still reach it during the
// outage, with its circuit breaker (the default settings) and without (`mode: disabled`, each
// activity retrying on its own backoff); and how long the releases take to complete once it is back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { GreenlightClient } from '../src/client/api';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { ProviderError, ProviderErrorKinds } from '../src/providers/errors';
import type { CompareAndSwap, DnsProvider, DnsRecord, Resolution } from '../src/providers/dns/types';
import { createWorker } from '../src/worker';
import { releaseRequest } from '../harness/release';
import { startDevServer, workflowBundle } from '../harness/temporal';
import { composeInstant, MemoryDns } from './instant';
import { CONFIG } from './orchestration';
import type { Report } from './orchestration';

/**
 * The DNS provider, able to die: while it is down, every call that reaches it fails at once as a
 * refused connection does (retryable), and is counted.
 */
class MortalDns implements DnsProvider {
  isDown = false;
  reachedWhileDown = 0;
  private readonly dns = new MemoryDns();

  private async call<T>(work: () => Promise<T>): Promise<T> {
    if (this.isDown) {
      this.reachedWhileDown++;
      throw new ProviderError(ProviderErrorKinds.unavailable, 'DNS server: connection refused', true);
    }
    return work();
  }
  get(name: string): Promise<DnsRecord | null> {
    return this.call(() => this.dns.get(name));
  }
  upsert(record: DnsRecord): Promise<void> {
    return this.call(() => this.dns.upsert(record));
  }
  compareAndSwap(change: CompareAndSwap): Promise<void> {
    return this.call(() => this.dns.compareAndSwap(change));
  }
  remove(name: string): Promise<void> {
    return this.call(() => this.dns.remove(name));
  }
  resolve(name: string): Promise<Resolution> {
    return this.call(() => this.dns.resolve(name));
  }
  list(): Promise<DnsRecord[]> {
    return this.call(() => this.dns.list());
  }
}

interface Run {
  /** Calls that reached the dead DNS. */
  reached: number;
  /** From the DNS coming back to the last release completed (ms). */
  recoveryMs: number;
}

/** `n` releases started as the DNS dies, the DNS back after `outageMs`; the breaker as `mode` says. */
async function outage(
  env: TestWorkflowEnvironment,
  mode: 'normal' | 'disabled',
  n: number,
  outageMs: number,
): Promise<Run> {
  const config = parseOrThrow(
    Config,
    { ...CONFIG, breakers: { dependencies: { dns: { mode } } } },
    'benchmark config',
  );
  const stateDir = await mkdtemp(join(tmpdir(), 'greenlight-bench-'));
  const providers = await composeInstant(config, stateDir, env.client);
  const dns = new MortalDns();
  const taskQueue = `bench-outage-${mode}`;
  const worker = await createWorker({
    connection: env.nativeConnection,
    namespace: 'default',
    taskQueue,
    deps: { ...providers.deps, dns: () => dns },
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();
  try {
    const api = new GreenlightClient(env.client, { taskQueue });
    dns.isDown = true;
    let backAt = 0;
    const comesBack = new Promise<void>((resolve) =>
      setTimeout(() => {
        dns.isDown = false;
        backAt = performance.now();
        resolve();
      }, outageMs),
    );
    const ended = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const { releaseId } = await api.startRelease(
          releaseRequest(`${mode}${i}`, 'v1', 'bench', { initiator: 'bench' }),
        );
        return api.wait(releaseId);
      }),
    );
    await comesBack;
    const failed = ended.filter((s) => s.stage !== 'completed');
    if (failed.length)
      throw new Error(
        `${failed.length} of ${n} releases did not complete (${mode}): ${failed[0]!.releaseId} ${failed[0]!.stage}: ${failed[0]!.reason}`,
      );
    return { reached: dns.reachedWhileDown, recoveryMs: Math.max(0, performance.now() - backAt) };
  } finally {
    worker.shutdown();
    await running;
    await providers.close();
    await rm(stateDir, { recursive: true, force: true });
  }
}

export async function benchOutage(report: Report, n = 50, outageMs = 60_000): Promise<void> {
  const env = await startDevServer();
  try {
    const guarded = await outage(env, 'normal', n, outageMs);
    const unguarded = await outage(env, 'disabled', n, outageMs);
    const seconds = outageMs / 1000;
    report(
      `outage.${n} releases, calls reaching DNS during a ${seconds} s outage (vs no breaker)`,
      guarded.reached,
      'calls',
      unguarded.reached,
    );
    report(
      `outage.${n} releases, DNS back to all completed (vs no breaker)`,
      guarded.recoveryMs / 1000,
      's',
      unguarded.recoveryMs / 1000,
    );
  } finally {
    await env.teardown();
  }
}
