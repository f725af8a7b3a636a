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
}

/** The configuration management database: deployments and a change log. Writes are idempotent. */
export interface CmdbProvider {
  /** Records a change; recording the same `(releaseId, step)` twice keeps one. */
  recordChange(change: ChangeRecord): Promise<void>;
  upsertDeployment(item: DeploymentItem): Promise<void>;
  deployments(service: string, target?: string): Promise<DeploymentItem[]>;
  changes(service: string, target?: string, limit?: number): Promise<ChangeRecord[]>;
}
