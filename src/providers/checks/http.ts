import type { CheckResult } from '../../shared/release';
import { checkResult } from './types';
import type { CheckContext, CheckRunner, HttpCheck } from './types';

/**
 * Why a check's path could lead away from the deployment it tests, or null when it cannot: a check
 * only ever reaches green. Resolved against an endpoint, `//host/x` and `/\host/x` name another
 * host, and URL parsing drops tabs and newlines, so `/<tab>/host/x` would too.
 */
export function checkPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'a path starts with /, e.g. /healthz';
  if (path.startsWith('//')) return 'a path must not start with // (that names another host)';
  if (path.includes('\\')) return 'a path must not contain a backslash';
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u0020\u007f]/.test(path)) return 'a path must not contain spaces or control characters';
  const endpoint = new URL('http://green.invalid:8080/');
  if (new URL(path, endpoint).origin !== endpoint.origin) return 'a path must stay on the endpoint';
  return null;
}

/**
 * The URL of `path` on the endpoint's origin. The configuration refuses paths that lead elsewhere;
 * this refuses them again, and the URL is built on the origin and checked, so a check never reaches
 * another host whatever its path says.
 */
export function checkUrl(endpoint: string, path: string): URL {
  const { origin } = new URL(endpoint);
  const problem = checkPathProblem(path);
  const url = new URL(`${origin}${path}`);
  if (problem || url.origin !== origin) {
    throw new Error(`refused: ${problem ?? `it leads to ${url.origin}`}; checks only reach ${origin}`);
  }
  return url;
}

/** Real HTTP checks with Node's fetch: status, body text and a per-request latency budget. */
export class HttpCheckRunner implements CheckRunner<HttpCheck> {
  async run(check: HttpCheck, context: CheckContext): Promise<CheckResult> {
    const started = performance.now();
    const result = (passed: boolean, detail: string) => checkResult(check, started, passed, detail);
    let url: URL;
    try {
      url = checkUrl(context.endpoint, check.path);
    } catch (e) {
      return result(false, `GET ${JSON.stringify(check.path)}: ${(e as Error).message}`);
    }
    const expectedBody = check.bodyIncludes
      ?.replaceAll('{{version}}', context.version)
      .replaceAll('{{service}}', context.service);
    let slowest = 0;
    for (let i = 0; i < check.repeat; i++) {
      const t0 = performance.now();
      let response: Response;
      let body: string;
      try {
        const timeout = AbortSignal.timeout(check.latencyBudgetMs);
        const signal = context.signal ? AbortSignal.any([timeout, context.signal]) : timeout;
        response = await fetch(url, { signal, redirect: 'manual' });
        body = await response.text();
      } catch (e) {
        if (context.signal?.aborted) throw e;
        const reason =
          (e as Error).name === 'TimeoutError' ? `no answer within ${check.latencyBudgetMs} ms` : describe(e);
        return result(false, `GET ${check.path}: ${reason}`);
      }
      const elapsed = performance.now() - t0;
      slowest = Math.max(slowest, elapsed);
      if (response.status !== check.expectStatus) {
        return result(false, `GET ${check.path}: status ${response.status}, expected ${check.expectStatus}`);
      }
      if (expectedBody !== undefined && !body.includes(expectedBody)) {
        return result(false, `GET ${check.path}: body does not contain ${JSON.stringify(expectedBody)}`);
      }
      if (elapsed > check.latencyBudgetMs) {
        return result(
          false,
          `GET ${check.path}: ${Math.round(elapsed)} ms, budget ${check.latencyBudgetMs} ms`,
        );
      }
    }
    const times =
      check.repeat > 1
        ? `${check.repeat} requests, slowest ${Math.round(slowest)} ms`
        : `${Math.round(slowest)} ms`;
    return result(true, `GET ${check.path}: ${check.expectStatus} in ${times}`);
  }
}

function describe(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  return err.cause?.code ?? err.cause?.message ?? err.message;
}
