import { Context } from '@temporalio/activity';
import type { z } from 'zod';
import { serviceChecks } from '../config/resolve';
import type { CheckResult, TestReport } from '../shared/release';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';
import { skippedSlowCheck } from '../providers/checks/types';
import { HealthInput, TestsInput } from './schemas';

/** Integration tests and health checks against green. */
export function createCheckActivities({ deps, guarded }: ActivityContext) {
  const { config, checks } = deps;
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
    /** One health check of a deployment (used while baking). A failed check is a result, not an error. */
    async checkHealth(input: z.input<typeof HealthInput>): Promise<CheckResult> {
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
      return result;
    },
  };
}
