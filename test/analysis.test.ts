// Metric analysis while baking, against a real Prometheus (Debian's) scraping the example service:
// a version whose errors cross the bound is rolled back with the query result in the decision; a
// good one completes; with Prometheus stopped, nothing is rolled back because of it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import type { ReleaseStatus } from '../src/shared/release';
import { startPrometheus } from './helpers/prometheus';
import type { PrometheusServer } from './helpers/prometheus';

let h: Harness;
let prometheus: PrometheusServer;

before(async () => {
  prometheus = await startPrometheus();
  // The example service answers `/` with 500 for these versions (its health check stays fine).
  process.env.GREENLIGHT_EXAMPLE_FAILING_VERSIONS = 'v2,v4';
  h = await startHarness({
    ...TEST_CONFIG,
    prometheus: { url: prometheus.url, timeout: '2s' },
    analysis: [
      {
        name: 'errors',
        query: 'sum(http_requests_total{service="{{service}}",version="{{version}}",code=~"5.."})',
        max: 3,
        onNoData: 'pass',
      },
    ],
    services: {
      ...TEST_CONFIG.services,
      gauged: {
        checks: [
          { name: 'health', path: '/healthz' },
          { name: 'calm', query: 'vector(0)', max: 0 },
        ],
      },
      alarmed: { checks: [{ name: 'alarm', query: 'vector(1) * 7', max: 0 }] },
    },
    targets: {
      ...TEST_CONFIG.targets,
      metered: {
        recordTtl: 1,
        policy: 'tests_passed',
        bake: '8s',
        healthCheckInterval: '500ms',
        terminationWait: '500ms',
      },
    },
  });
});

after(async () => {
  await h?.stop();
  await prometheus?.stop();
  delete process.env.GREENLIGHT_EXAMPLE_FAILING_VERSIONS;
});

/**
 * Releases a version while sending its green requests (as users would once it is live) and having
 * Prometheus scrape it; resolves with the final status.
 */
async function releaseUnderTraffic(service: string, version: string): Promise<ReleaseStatus> {
  const { releaseId } = await h.api.startRelease(releaseRequest(service, version, 'metered'));
  let status = await h.api.status(releaseId);
  let isScraped = false;
  while (!['completed', 'rolled_back', 'failed'].includes(status.stage)) {
    const endpoint = status.green?.endpoint;
    if (endpoint) {
      if (!isScraped) await prometheus.scrape([new URL(endpoint).host]);
      isScraped = true;
      await fetch(`${endpoint}/`).then(
        (r) => r.body?.cancel(),
        () => undefined,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
    status = await h.api.status(releaseId);
  }
  return h.api.wait(releaseId);
}

describe('metric analysis while baking, against a real Prometheus', () => {
  it('rolls back a version whose error count crosses its bound, with the query result in the decision', async () => {
    const done = await releaseUnderTraffic('shop', 'v2');
    assert.equal(done.stage, 'rolled_back', done.reason ?? '');
    assert.match(
      done.reason ?? '',
      /^rollback policy any\(health_check_failed ✗, error_threshold_exceeded ✓\) ✓: errors = \d+ \(max 3\) for sum\(http_requests_total\{service="shop",version="v2",code=~"5\.\."\}\)$/,
    );
    const decision = done.policyDecisions.at(-1)!;
    assert.deepEqual(decision.facts, { health_check_failed: false, error_threshold_exceeded: true });
    assert.deepEqual(decision.policy, { any: ['health_check_failed', 'error_threshold_exceeded'] });
    assert.equal(
      await h.infra.describe({ hostname: 'shop-v2.metered.test.internal' }),
      null,
      'green torn down',
    );
  });

  it('completes a good version: no errors is no data, which passes here', async () => {
    const done = await releaseUnderTraffic('shop', 'v3');
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.equal(done.policyDecisions.length, 1, 'only the promotion decision');
  });

  it('judges a Prometheus check against green before cutover, like any integration check', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('gauged', 'v1', 'dev'));
    const passed = await h.api.wait(releaseId);
    assert.equal(passed.stage, 'completed', passed.reason ?? '');
    assert.deepEqual(
      passed.tests?.checks.map((c) => [c.name, c.passed, c.detail.replace(/\d+ ms/, 'N ms')]),
      [
        ['health', true, passed.tests!.checks[0]!.detail.replace(/\d+ ms/, 'N ms')],
        ['calm', true, '0 (max 0) for vector(0)'],
      ],
    );
    const failed = await h.api.wait(
      (await h.api.startRelease(releaseRequest('alarmed', 'v1', 'dev'))).releaseId,
    );
    assert.equal(failed.stage, 'failed');
    assert.deepEqual(
      failed.tests?.checks.map((c) => [c.name, c.passed, c.detail]),
      [['alarm', false, '7 (max 0) for vector(1) * 7']],
    );
  });

  it('never rolls back because Prometheus is unreachable, and says the analysis was skipped', async () => {
    await prometheus.stop();
    const done = await releaseUnderTraffic('cart', 'v4');
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.ok(
      done.notes.some((n) => /^metric analysis skipped: .*Prometheus at http:\/\/127\.0\.0\.1:\d+/.test(n)),
      JSON.stringify(done.notes),
    );
  });
});
