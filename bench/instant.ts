// Providers that answer at once, in memory: what the orchestration benchmarks release through, so
// that what they measure is greenlight's and Temporal's work, not a DNS server's or a deploy's.
// Benchmarks only: every test of a provider runs against the real one.
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../src/activities/deps';
import type { Config } from '../src/config/schema';
import type { ArtifactStore } from '../src/providers/artifacts/types';
import { Breakers } from '../src/breaker/registry';
import { composeDependencies } from '../src/worker';
import type { CheckRunner } from '../src/providers/checks/types';
import type {
  ArtifactRun,
  ChangeRecord,
  CmdbProvider,
  DeploymentItem,
  EnvironmentChange,
  EnvironmentItem,
  TrainRecord,
} from '../src/providers/cmdb/types';
import { dnsConflict } from '../src/providers/errors';
import { followCnames, normaliseName } from '../src/providers/dns/names';
import type { CompareAndSwap, DnsProvider, DnsRecord, Resolution } from '../src/providers/dns/types';
import type { DeploymentRef, DeploymentSpec, InfraProvider } from '../src/providers/infra/types';
import type { Deployment } from '../src/shared/release';

export class InstantInfra implements InfraProvider {
  private readonly deployments = new Map<string, Deployment>();

  async deploy(spec: DeploymentSpec): Promise<Deployment> {
    const deployment: Deployment = {
      service: spec.service,
      version: spec.version,
      target: spec.target,
      hostname: spec.hostname,
      endpoint: 'http://127.0.0.1:9',
      releaseId: spec.releaseId,
    };
    this.deployments.set(spec.hostname, deployment);
    return deployment;
  }

  async describe(ref: Pick<DeploymentRef, 'hostname'>): Promise<Deployment | null> {
    return this.deployments.get(ref.hostname) ?? null;
  }

  async destroy(ref: Pick<DeploymentRef, 'hostname'>): Promise<void> {
    this.deployments.delete(ref.hostname);
  }
}

export class MemoryDns implements DnsProvider {
  private readonly records = new Map<string, DnsRecord>();

  async get(name: string): Promise<DnsRecord | null> {
    return this.records.get(normaliseName(name)) ?? null;
  }

  async upsert(record: DnsRecord): Promise<void> {
    this.records.set(normaliseName(record.name), { ...record, name: normaliseName(record.name) });
  }

  async compareAndSwap(change: CompareAndSwap): Promise<void> {
    const name = normaliseName(change.name);
    const current = this.records.get(name)?.value ?? null;
    if (current !== change.expected) throw dnsConflict(name, change.expected, current);
    if (change.next === null) this.records.delete(name);
    else this.records.set(name, { name, type: change.type, value: change.next, ttl: change.ttl });
  }

  async remove(name: string): Promise<void> {
    this.records.delete(normaliseName(name));
  }

  resolve(name: string): Promise<Resolution> {
    return followCnames(name, (n) => Promise.resolve(this.records.get(n) ?? null));
  }

  async list(): Promise<DnsRecord[]> {
    return [...this.records.values()];
  }
}

/** Every check passes at once. */
export const passingChecks: CheckRunner = {
  async run(check) {
    return { name: check.name, passed: true, slow: check.slow, skipped: false, durationMs: 0, detail: 'ok' };
  },
};

/** A CMDB that keeps what it is told, in memory. */
export class MemoryCmdb implements CmdbProvider {
  private readonly changeLog: ChangeRecord[] = [];
  private readonly items = new Map<string, DeploymentItem>();
  private readonly environments = new Map<string, EnvironmentItem>();
  private readonly environmentLog: EnvironmentChange[] = [];
  private readonly trains = new Map<string, TrainRecord>();

  async recordChange(change: ChangeRecord): Promise<void> {
    this.changeLog.push(change);
  }
  async upsertDeployment(item: DeploymentItem): Promise<void> {
    this.items.set(item.hostname, item);
  }
  async deployments(service: string, target?: string): Promise<DeploymentItem[]> {
    return [...this.items.values()].filter((d) => d.service === service && (!target || d.target === target));
  }
  async changes(service: string, target?: string, limit = 50): Promise<ChangeRecord[]> {
    return this.changeLog
      .filter((c) => c.service === service && (!target || c.target === target))
      .slice(-limit)
      .reverse();
  }
  async upsertEnvironment(item: EnvironmentItem): Promise<void> {
    this.environments.set(item.name, item);
  }
  async environment(name: string): Promise<EnvironmentItem | null> {
    return this.environments.get(name) ?? null;
  }
  async recordEnvironmentChange(change: EnvironmentChange, item: EnvironmentItem): Promise<void> {
    this.environmentLog.push(change);
    this.environments.set(item.name, item);
  }
  async environmentChanges(environment: string, limit = 50): Promise<EnvironmentChange[]> {
    return this.environmentLog
      .filter((c) => c.environment === environment)
      .slice(-limit)
      .reverse();
  }
  async deploymentsIn(target: string, which: 'running' | 'all'): Promise<DeploymentItem[]> {
    return [...this.items.values()].filter(
      (d) => d.target === target && (which === 'all' || d.status === 'live' || d.status === 'candidate'),
    );
  }
  async artifactRuns(): Promise<ArtifactRun[]> {
    return [];
  }
  async recordTrain(train: TrainRecord): Promise<void> {
    this.trains.set(train.trainId, train);
  }
  async train(trainId: string): Promise<TrainRecord | null> {
    return this.trains.get(trainId) ?? null;
  }
}

/** Every version has an artifact, at once. */
export const instantArtifacts: ArtifactStore = {
  async resolve(service, version) {
    return {
      service,
      version,
      uri: `file:///dev/null#${service}-${version}`,
      digest: `sha256:${'0'.repeat(64)}`,
      size: 0,
    };
  },
  describe: () => 'instant artifacts (benchmark)',
};

/**
 * The worker's composition (breakers, outbox, settings) with every provider instant. The CMDB URL
 * names a server nobody listens on, so the embedded CMDB never starts: the CMDB is `MemoryCmdb`.
 * The composition keeps trying to reach that server through its breakers, so the activities get
 * breakers of their own: sharing those, they would find the CMDB's breaker open and measure the
 * outbox instead. `deferred()` counts CMDB writes deferred all the same; a benchmark refuses any.
 */
export async function composeInstant(
  config: Config,
  stateDir: string,
  client: Client,
): Promise<{ deps: ActivityDeps; deferred(): Promise<number>; close(): Promise<void> }> {
  const providers = await composeDependencies(config, stateDir, {
    searchPath: process.env.PATH ?? '',
    cmdbUrl: 'postgres://bench@127.0.0.1:1/bench',
    client,
  });
  const infra = new InstantInfra();
  const dns = new MemoryDns();
  return {
    deps: {
      ...providers.deps,
      infra: () => infra,
      dns: () => dns,
      checks: passingChecks,
      cmdb: new MemoryCmdb(),
      artifacts: instantArtifacts,
      breakers: new Breakers(config.breakers),
    },
    deferred: () => providers.outbox.size(),
    close: () => providers.close(),
  };
}
