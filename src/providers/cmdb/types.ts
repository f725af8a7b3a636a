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
}
