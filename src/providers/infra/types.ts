import type { Deployment } from '../../shared/release';
import type { PlanSummary } from './terraform-cli';

export interface DeploymentRef {
  service: string;
  version: string;
  target: string;
  hostname: string;
}

export interface DeploymentSpec extends DeploymentRef {
  releaseId: string;
  /** The artifact it is deployed from: its URI and the sha256 of its bytes. */
  artifact?: { uri: string; digest: string };
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

/** An environment's own module (its network and shared resources), every resource tagged with its name. */
export interface EnvironmentModule {
  /** Applies it; names its outputs and those of them left without a value. */
  apply(
    environment: string,
    signal?: AbortSignal,
  ): Promise<{ plan: PlanSummary; outputs: string[]; unset: string[] }>;
  /** Whether the infrastructure differs from the module (drift), and how. */
  plan(environment: string, signal?: AbortSignal): Promise<{ isChanged: boolean; plan: PlanSummary }>;
  /** Destroys what it created. */
  destroy(environment: string, signal?: AbortSignal): Promise<void>;
  /** What its state still holds, by address. */
  resources(environment: string, signal?: AbortSignal): Promise<string[]>;
}
