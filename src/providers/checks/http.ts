import type { CheckResult } from '../../shared/release';
import { checkResult } from './types';
import type { CheckContext, CheckRunner, HttpCheck } from './types';

/** Real HTTP checks with Node's fetch: status, body text and a per-request latency budget. */
export class HttpCheckRunner implements CheckRunner<HttpCheck> {
  async run(check: HttpCheck, context: CheckContext): Promise<CheckResult> {
    const started = performance.now();
    const url = new URL(check.path, context.endpoint).toString();
    const expectedBody = check.bodyIncludes
      ?.replaceAll('{{version}}', context.version)
      .replaceAll('{{service}}', context.service);
    const result = (passed: boolean, detail: string) => checkResult(check, started, passed, detail);
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
