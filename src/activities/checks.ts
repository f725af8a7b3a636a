import { Context } from '@temporalio/activity';
import type { z } from 'zod';
import { serviceAnalysis, serviceChecks } from '../config/resolve';
import type { AnalysisConfig } from '../config/analysis';
import type { PrometheusClient } from '../providers/metrics/prometheus';
import type { AnalysisResult, BakeCheck, CheckResult, Deployment, TestReport } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { skippedSlowCheck } from '../providers/checks/types';
import type { MetricCheck } from '../providers/checks/types';
import { HealthInput, TestsInput } from './schemas';

/** Integration tests and health checks against green. */
export function createCheckActivities({ deps, guarded }: ActivityContext) {
  const { config, checks } = deps;

  /** A Prometheus check before cutover: one query through the Prometheus breaker, judged. */
  async function metricCheck(
    check: MetricCheck,
    deployment: Deployment,
    signal: AbortSignal,
  ): Promise<CheckResult> {
    const started = performance.now();
    const result = (passed: boolean, detail: string): CheckResult => ({
      name: check.name,
      passed,
      slow: check.slow,
      skipped: false,
      durationMs: Math.round(performance.now() - started),
      detail,
    });
    if (!deps.prometheus) return result(false, 'no Prometheus is configured (prometheus: { url })');
    const prometheus = deps.prometheus;
    const judged = await guarded('prometheus', `run check ${check.name}`, () =>
      analyse(prometheus, { ...check, for: 0 }, deployment, signal),
    );
    if (judged.value === null) {
      return result(check.onNoData !== 'fail', `no data for ${judged.query}`);
    }
    return result(!judged.isBreached, `${judged.value} (${judged.bounds}) for ${judged.query}`);
  }

  return {
    /** Runs the service's integration checks against green; slow ones are skipped on request. */
    async runIntegrationTests(input: z.input<typeof TestsInput>): Promise<TestReport> {
      const { deployment, skipSlowScans } = parseInput(TestsInput, input);
      const ctx = Context.current();
      const startedAt = new Date().toISOString();
      const results: CheckResult[] = [];
      const run = async () => {
        for (const check of serviceChecks(config, deployment.service).checks) {
          if (check.slow && skipSlowScans) {
            results.push(skippedSlowCheck(check.name));
            continue;
          }
          if (check.kind === 'prometheus') {
            results.push(await metricCheck(check, deployment, ctx.cancellationSignal));
            continue;
          }
          results.push(
            await guarded('checks', `run check ${check.name}`, () =>
              checks.run(check, {
                endpoint: deployment.endpoint,
                service: deployment.service,
                version: deployment.version,
                signal: ctx.cancellationSignal,
              }),
            ),
          );
        }
      };
      await run();
      return {
        passed: results.every((r) => r.passed),
        checks: results,
        startedAt,
        finishedAt: new Date().toISOString(),
      };
    },
    /**
     * One health check of a deployment (used while baking), with the service's metric analysis:
     * each query asked of Prometheus through its breaker. A failed check is a result, not an error;
     * Prometheus unreachable is said (`analysisUnavailable`), never a breach.
     */
    async checkHealth(input: z.input<typeof HealthInput>): Promise<BakeCheck> {
      const { deployment } = parseInput(HealthInput, input);
      const result = await guarded('checks', 'check health', () =>
        checks.run(serviceChecks(config, deployment.service).healthCheck, {
          endpoint: deployment.endpoint,
          service: deployment.service,
          version: deployment.version,
          signal: Context.current().cancellationSignal,
        }),
      );
      deps.onHealthCheck?.(deployment.service, deployment.target, result.passed);
      const analyses = serviceAnalysis(config, deployment.service);
      if (analyses.length === 0 || !deps.prometheus) return result;
      const prometheus = deps.prometheus;
      const signal = Context.current().cancellationSignal;
      try {
        const analysis = await guarded('prometheus', 'query Prometheus', () =>
          Promise.all(analyses.map((a) => analyse(prometheus, a, deployment, signal))),
        );
        return { ...result, analysis };
      } catch (e) {
        if (signal.aborted) throw e;
        return { ...result, analysisUnavailable: (e as Error).message.slice(0, 500) };
      }
    },
  };
}

/** One query, with green's names filled in, judged against its bounds. */
async function analyse(
  prometheus: PrometheusClient,
  a: Pick<AnalysisConfig, 'name' | 'query' | 'max' | 'min' | 'onNoData' | 'for'>,
  deployment: Deployment,
  signal: AbortSignal,
): Promise<AnalysisResult> {
  const query = a.query
    .replaceAll('{{service}}', deployment.service)
    .replaceAll('{{version}}', deployment.version)
    .replaceAll('{{target}}', deployment.target)
    .replaceAll('{{hostname}}', deployment.hostname);
  const { value } = await prometheus.query(query, signal);
  const bounds = [a.max !== undefined ? `max ${a.max}` : '', a.min !== undefined ? `min ${a.min}` : '']
    .filter(Boolean)
    .join(', ');
  const isBreached =
    value !== null && ((a.max !== undefined && value > a.max) || (a.min !== undefined && value < a.min));
  return { name: a.name, query, value, bounds, isBreached, onNoData: a.onNoData, forMs: a.for };
}
