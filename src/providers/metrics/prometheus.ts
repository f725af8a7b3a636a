import { z } from 'zod';
import { ProviderError, ProviderErrorKinds } from '../errors';

// A Prometheus server's instant queries (HTTP API `/api/v1/query`), every answer validated.

export interface PrometheusOptions {
  /** The server's base URL, e.g. http://prometheus:9090. */
  url: string;
  /** Headers sent with each query (an Authorization header, say); their values are secrets. */
  headers?: Record<string, string>;
  timeoutMs: number;
}

/** What an instant query gave: one number (the series summed), or none when no series (or only NaN) matched. */
export interface QueryResult {
  value: number | null;
  /** How many series matched. */
  series: number;
}

const Sample = z.tuple([z.number(), z.string().max(100)]);
const Answer = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('success'),
    data: z.discriminatedUnion('resultType', [
      z.object({
        resultType: z.literal('vector'),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: Sample })).max(10_000),
      }),
      z.object({ resultType: z.literal('scalar'), result: Sample }),
      z.object({ resultType: z.literal('matrix'), result: z.array(z.unknown()) }),
      z.object({ resultType: z.literal('string'), result: z.unknown() }),
    ]),
  }),
  z.object({ status: z.literal('error'), errorType: z.string().max(100), error: z.string().max(2000) }),
]);

export class PrometheusClient {
  constructor(private readonly options: PrometheusOptions) {}

  describe(): string {
    return `Prometheus at ${new URL(this.options.url).origin}`;
  }

  /**
   * Evaluates an instant query now. A query Prometheus refuses (bad syntax, a range vector) fails
   * for good; an unreachable server or a 5xx may pass and is retryable. Never quotes the headers.
   */
  async query(promql: string, signal?: AbortSignal): Promise<QueryResult> {
    const url = new URL(
      'api/v1/query',
      this.options.url.endsWith('/') ? this.options.url : `${this.options.url}/`,
    );
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { ...this.options.headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: promql }).toString(),
        signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
        redirect: 'manual',
      });
      text = await response.text();
    } catch (e) {
      if (signal?.aborted) throw e;
      const why =
        (e as Error).name === 'TimeoutError'
          ? `no answer within ${this.options.timeoutMs} ms`
          : ((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message);
      throw new ProviderError(ProviderErrorKinds.unavailable, `${this.describe()}: ${why}`, true);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProviderError(
        ProviderErrorKinds.unavailable,
        `${this.describe()} answered HTTP ${response.status} without JSON`,
        response.status >= 500 || response.status === 429,
      );
    }
    const answer = Answer.safeParse(json);
    if (!answer.success) {
      throw new ProviderError(
        ProviderErrorKinds.unavailable,
        `${this.describe()} answered HTTP ${response.status} with something that is not a query result`,
        response.status >= 500,
      );
    }
    if (answer.data.status === 'error') {
      const isOurs = answer.data.errorType === 'bad_data';
      throw new ProviderError(
        isOurs ? ProviderErrorKinds.infraConfigInvalid : ProviderErrorKinds.unavailable,
        `${this.describe()} refused the query (${answer.data.errorType}): ${answer.data.error}`,
        !isOurs,
      );
    }
    const { data } = answer.data;
    if (data.resultType === 'scalar') {
      const value = sampleValue(data.result[1]);
      return { value, series: value === null ? 0 : 1 };
    }
    if (data.resultType !== 'vector') {
      throw new ProviderError(
        ProviderErrorKinds.infraConfigInvalid,
        `the query gives a ${data.resultType}; give one that gives an instant vector or a scalar`,
        false,
      );
    }
    // NaN (a ratio over no traffic) is no data, like no series at all.
    const values = data.result.map((r) => sampleValue(r.value[1])).filter((v): v is number => v !== null);
    if (values.length === 0) return { value: null, series: 0 };
    return { value: values.reduce((sum, v) => sum + v, 0), series: values.length };
  }
}

/** A sample as Prometheus writes it: a number, `+Inf`/`-Inf`, or `NaN` (no data). */
function sampleValue(text: string): number | null {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}
