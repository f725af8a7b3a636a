import type { CmdbOutbox } from '../breaker/outbox';
import type { Breakers } from '../breaker/registry';
import type { PrometheusClient } from '../providers/metrics/prometheus';
import type { Config } from '../config/schema';
import type { CheckRunner } from '../providers/checks/types';
import type { ArtifactStore } from '../providers/artifacts/types';
import type { CmdbProvider } from '../providers/cmdb/types';
import type { DnsProvider } from '../providers/dns/types';
import type { EnvironmentModule, InfraProvider } from '../providers/infra/types';
import type { LaneHolder } from '../shared/messages';
import type { BreakerNotice, ReleaseStatus } from '../shared/release';
import type { TrainStatus } from '../shared/train';

export interface ActivityDeps {
  config: Config;
  /** The infrastructure provider of a target (targets choose theirs in the configuration). */
  infra: (target: string) => InfraProvider;
  /** The DNS provider of a target (targets choose theirs in the configuration). */
  dns: (target: string) => DnsProvider;
  cmdb: CmdbProvider;
  /** The Prometheus server metric analysis asks, when one is configured. */
  prometheus?: PrometheusClient | null;
  /** Where the artifact of each service version is. */
  artifacts?: ArtifactStore;
  checks: CheckRunner;
  /** One circuit breaker per dependency: `infra:<target>`, `dns:<target>`, `cmdb`, `checks`. */
  breakers: Breakers;
  /** Where CMDB writes that the CMDB's breaker rejects are kept until it lets calls through. */
  outbox: CmdbOutbox;
  /** Tells a release that a breaker holds it back (a signal); best effort. */
  notify?: (execution: { workflowId: string; runId: string }, notice: BreakerNotice) => Promise<void>;
  /** Counts a health check's result (metrics). */
  onHealthCheck?: (service: string, target: string, passed: boolean) => void;
  /** Counts a fallback taken (metrics). */
  onFallback?: (dependency: string) => void;
  /** Why a target's environment takes no release now, or null (none, or active). */
  environmentGate?: (
    target: string,
    release?: { releaseId: string; service: string; version: string },
  ) => Promise<string | null>;
  /** The ids of the releases running on a target (an environment's `no_active_deployments`). */
  activeReleases?: (target: string) => Promise<string[]>;
  /** An environment's own module, or null when it has none (by its name and template). */
  environmentModule?: (environment: string, template: string) => EnvironmentModule | null;
  /** The configured target whose providers and zone serve an environment (a template's: the target it is like). */
  targetOf?: (environment: string) => string;
  /** Learns which target an environment is like before an activity uses its providers. */
  learnEnvironment?: (environment: string, template?: string) => Promise<void>;
  /** Where the secret references of environments are resolved (never logged or returned). */
  secretsEnv?: NodeJS.ProcessEnv;
  /** A release's status (its `status` query), or null when Temporal does not know it. */
  releaseStatus?: (releaseId: string) => Promise<ReleaseStatus | null>;
  /** A train's status (its `status` query), or null when Temporal does not know it. */
  trainStatus?: (trainId: string) => Promise<TrainStatus | null>;
  /** Who holds a lane (a release or a train), or null when it is free. */
  laneHolder?: (service: string, target: string) => Promise<LaneHolder | null>;
  /** What Temporal knows of a release or a lane (the janitor asks whether it has ended). */
  releaseRun?: (releaseId: string) => Promise<ReleaseRun>;
}

/** A release's workflow: running, ended (how and when), or unknown to Temporal. */
export type ReleaseRun =
  { state: 'running' } | { state: 'ended'; status: string; endedAt: string } | { state: 'unknown' };
