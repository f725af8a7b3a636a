import type { Deployment } from '../../shared/release';

export interface DeploymentRef {
  service: string;
  version: string;
  target: string;
  hostname: string;
}

export interface DeploymentSpec extends DeploymentRef {
  releaseId: string;
}

/** Creates and removes the running instances of a service version. */
export interface InfraProvider {
  /** Creates the deployment, or returns it when it already runs (idempotent). */
  deploy(spec: DeploymentSpec, signal?: AbortSignal): Promise<Deployment>;
  /** The deployment serving `hostname`, or null when there is none. */
  describe(ref: Pick<DeploymentRef, 'hostname'>): Promise<Deployment | null>;
  /** Removes the deployment; removing one that is gone succeeds (idempotent). */
  destroy(ref: Pick<DeploymentRef, 'hostname'>, signal?: AbortSignal): Promise<void>;
}
