import type { CheckResult } from '../../shared/release';

/** An HTTP check against a deployment's endpoint. */
export interface HttpCheck {
  kind: 'http';
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

/**
 * A test command run against green: an argument array (never shell text) with `BASE_URL` set to
 * green's endpoint. It passes when it exits 0 within its timeout.
 */
export interface CommandCheck {
  kind: 'command';
  name: string;
  /** Program and arguments, e.g. `["npm", "run", "smoke"]`. */
  command: string[];
  timeoutMs: number;
  slow: boolean;
}

export type Check = HttpCheck | CommandCheck;

/**
 * A Prometheus query judged once against green before cutover: passes within its bounds, and with
 * no data unless `onNoData` is `fail`. Run by the activity (it needs the Prometheus client).
 */
export interface MetricCheck {
  kind: 'prometheus';
  name: string;
  query: string;
  max?: number;
  min?: number;
  onNoData: 'pass' | 'fail' | 'wait';
  slow: boolean;
}

export interface CheckContext {
  endpoint: string;
  service: string;
  version: string;
  signal?: AbortSignal;
  /** More variables for a command check (a train's greens); names start with GREENLIGHT_. */
  env?: Record<string, string>;
}

/** A finished check's result; `startedAt` is a `performance.now()` reading. */
export function checkResult(
  check: Check,
  startedAt: number,
  passed: boolean,
  detail: string,
  output?: string,
): CheckResult {
  return {
    name: check.name,
    passed,
    slow: check.slow,
    skipped: false,
    durationMs: Math.round(performance.now() - startedAt),
    detail,
    ...(output === undefined ? {} : { output }),
  };
}

/** A slow check left out because the release was started with `skipSlowScans`. */
export function skippedSlowCheck(name: string): CheckResult {
  return { name, passed: true, slow: true, skipped: true, durationMs: 0, detail: 'skipped (skipSlowScans)' };
}

export interface CheckRunner<C extends Check = Check> {
  run(check: C, context: CheckContext): Promise<CheckResult>;
}
