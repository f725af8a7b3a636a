import type { DeploymentColour, DeploymentStatus } from '../../shared/release';

/** One stage change of a release, as the CMDB keeps it. `(releaseId, step)` is its key. */
export interface ChangeRecord {
  releaseId: string;
  step: string;
  service: string;
  target: string;
  version: string;
  stage: string;
  at: string;
  note?: string;
}

/** A release as its CMDB changes tell it (what `greenlight stats` computes from). */
export interface ReleaseTimeline {
  releaseId: string;
  target: string;
  service: string;
  startedAt: string;
  /** When its alias moved to green (it entered baking or a later stage); null if it never went live. */
  liveAt: string | null;
  /** When it ended, and how (a terminal stage); null while it runs. */
  endedAt: string | null;
  outcome: string | null;
}

export interface DeploymentItem {
  service: string;
  target: string;
  version: string;
  hostname: string;
  colour: DeploymentColour;
  status: DeploymentStatus;
  releaseId: string;
  updatedAt: string;
  /** The sha256 digest of the artifact it was deployed from; absent when unknown. */
  artifactDigest?: string;
}

/** An environment as a configuration item. */
export interface EnvironmentItem {
  name: string;
  state: string;
  template: string;
  ttlExpiresAt: string | null;
  decommissionedAt: string | null;
  updatedAt: string;
}

/** One transition of an environment, taken or blocked. `(environment, step)` is its key. */
export interface EnvironmentChange {
  environment: string;
  step: string;
  transition: string;
  from: string;
  to: string;
  outcome: 'done' | 'blocked';
  at: string;
  by?: string;
  note?: string;
}

/** The configuration management database: deployments and a change log. Writes are idempotent. */
export interface CmdbProvider {
  /** Records a change; recording the same `(releaseId, step)` twice keeps one. */
  recordChange(change: ChangeRecord): Promise<void>;
  upsertDeployment(item: DeploymentItem): Promise<void>;
  deployments(service: string, target?: string): Promise<DeploymentItem[]>;
  changes(service: string, target?: string, limit?: number): Promise<ChangeRecord[]>;
  /** Records an environment's state; an older write never replaces a newer one. */
  upsertEnvironment(item: EnvironmentItem): Promise<void>;
  environment(name: string): Promise<EnvironmentItem | null>;
  /** Records an environment's transition in the change log, and its new state on its item. */
  recordEnvironmentChange(change: EnvironmentChange, item: EnvironmentItem): Promise<void>;
  /** The newest first. */
  environmentChanges(environment: string, limit?: number): Promise<EnvironmentChange[]>;
  /** The deployments of every service in an environment: those that still run (live or candidate), or all. */
  deploymentsIn(target: string, which: 'running' | 'all'): Promise<DeploymentItem[]>;
  /** The deployments of one artifact (by digest) of a service on a target, with how their releases went; newest first. */
  artifactRuns(service: string, target: string, digest: string): Promise<ArtifactRun[]>;
  /** Records a train's manifest and outcome; recording it again replaces the outcome. */
  recordTrain(train: TrainRecord): Promise<void>;
  train(trainId: string): Promise<TrainRecord | null>;
}

/** A release train as the CMDB keeps it: exactly what it released, to replay it elsewhere. */
export interface TrainRecord {
  trainId: string;
  target: string;
  fromTrain: string | null;
  manifest: { service: string; version: string; digest: string | null }[];
  /** The order it cut over in, as `[dependent, dependency]` pairs. */
  after: [string, string][];
  /** sha256 of the target's effective settings when the train ran. */
  configHash: string;
  outcome: string;
  recordedAt: string;
}

/** A deployment of an artifact, and how its release went: the record a promotion rule reads. */
export interface ArtifactRun {
  releaseId: string;
  version: string;
  status: DeploymentStatus;
  /** When its alias moved to it (the release entered `baking`), or null if it never went live. */
  liveSince: string | null;
  /** When it stopped being live: its last update once it is no longer live; null while live. */
  liveUntil: string | null;
  isCompleted: boolean;
  isRolledBack: boolean;
}
