import type { CheckResult } from '../../shared/release';

/** An HTTP check against a deployment's endpoint. */
export interface HttpCheck {
  name: string;
  /** Request path, e.g. `/healthz`. */
  path: string;
  /** Expected status code. Default 200. */
  expectStatus: number;
  /** Text the body must contain; `{{version}}` and `{{service}}` are replaced. */
  bodyIncludes?: string;
  /** Each request must answer within this budget. */
  latencyBudgetMs: number;
  /** How many sequential requests make up the check. Default 1. */
  repeat: number;
  /** Slow checks are skipped when a release sets `skipSlowScans`. */
  slow: boolean;
}

export interface CheckContext {
  endpoint: string;
  service: string;
  version: string;
  signal?: AbortSignal;
}

export interface CheckRunner {
  run(check: HttpCheck, context: CheckContext): Promise<CheckResult>;
}
