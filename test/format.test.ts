import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBreakers, formatStatus, stageChangeFollower } from '../src/client/format';
import type { ReleaseStatus } from '../src/shared/release';
import { releaseSummary } from '../src/shared/messages';
import { environmentDetails } from '../src/workflows/environment/details';
import { currentDetails } from '../src/workflows/release/details';
import { trainDetails } from '../src/workflows/train/details';
import { formatTrain } from '../src/client/train-format';
import type { TrainStatus } from '../src/shared/train';
import { ReleaseState } from '../src/workflows/release/state';

const AT = '2026-12-01T10:00:00.000Z';

/** A release's status as it starts, with `over` on top. */
function status(over: Partial<ReleaseStatus> = {}): ReleaseStatus {
  const request = { service: 'web', version: 'v2', target: 'stage', initiator: 'ci', skipSlowScans: false };
  return { ...new ReleaseState('web-stage-v2-abc123', request, AT).status, ...over };
}

const green = {
  service: 'web',
  version: 'v2',
  target: 'stage',
  hostname: 'web-v2.stage.greenlight.local',
  endpoint: 'http://127.0.0.1:40001',
};

describe('what people read', () => {
  it('counts one call as one call', () => {
    const line = formatBreakers([
      {
        name: 'dns:dev',
        state: 'closed',
        since: AT,
        retryAfterMs: 0,
        calls: 1,
        failures: 0,
        slow: 0,
        inFlight: 0,
      },
    ]);
    assert.match(line, /\(1 call, 0 failed/);
  });

  it('shows approvers’ comments, a torn-down green, and a live deployment not known yet', () => {
    assert.match(formatStatus(status()), /^live {6}not known yet/m);
    const text = formatStatus(
      status({
        stage: 'rolled_back',
        history: [
          { stage: 'queued', at: AT },
          { stage: 'rolled_back', at: AT },
        ],
        green,
        isGreenTornDown: true,
        approvals: {
          required: 1,
          approvedBy: [{ approver: 'bob', comment: 'ship it', at: AT, via: 'update' }],
          rejectedBy: null,
          refused: [],
        },
      }),
    );
    assert.match(text, /^green {5}v2 \(web-v2\.stage\.greenlight\.local\), torn down$/m);
    assert.match(text, /^ {10}bob: ship it$/m);
    assert.match(text, /^live {6}none$/m);
  });

  it('follows a release: every stage once and in order, and each new wait', () => {
    const follow = stageChangeFollower();
    const first = status({
      stage: 'testing',
      history: [
        { stage: 'queued', at: AT },
        { stage: 'deploying', at: AT },
        { stage: 'testing', at: AT },
      ],
    });
    assert.deepEqual(follow(first), ['10:00:00  queued', '10:00:00  deploying', '10:00:00  testing']);
    assert.deepEqual(follow(first), [], 'nothing new, nothing printed');
    const waiting = status({
      ...first,
      stage: 'awaiting_approval',
      waitingFor: '1 more approval',
      history: [...first.history, { stage: 'awaiting_approval', at: AT, note: 'policy needs approval' }],
    });
    assert.deepEqual(follow(waiting), [
      '10:00:00  awaiting_approval: policy needs approval',
      '           waiting for 1 more approval',
    ]);
  });

  it('names the artifact green runs, with its digest, in the Web UI’s details', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const details = currentDetails(status({ artifact: { uri: 'file:///store/web/v2.artifact', digest } }));
    // Escaped as every value is (`.` and parentheses are Markdown).
    assert.ok(details.includes(`- **Artifact:** file:///store/web/v2\\.artifact \\(${digest}\\)`), details);
    assert.doesNotMatch(currentDetails(status({})), /Artifact/);
  });

  it('escapes Markdown in the Web UI’s details, so a comment cannot become a link', () => {
    const details = currentDetails(
      status({
        approvals: {
          required: 2,
          approvedBy: [{ approver: '[bob](http://evil)', at: AT, via: 'signal' }],
          rejectedBy: null,
          refused: [],
        },
      }),
    );
    assert.match(details, /\*\*Approved by:\*\* \\\[bob\\\]\\\(http:\/\/evil\\\)/);
    assert.doesNotMatch(details, /\]\(http/);
    const summary = releaseSummary({
      service: 'web',
      version: 'v1',
      target: 'dev',
      initiator: '[ci](http://evil)',
      skipSlowScans: false,
    });
    assert.doesNotMatch(summary.staticDetails, /\]\(http/);
  });
});

describe("a train's details in the Web UI and its status", () => {
  const train: TrainStatus = {
    trainId: 'train-stage-abc',
    target: 'stage',
    initiator: 'ci',
    stage: 'awaiting_approval',
    startedAt: AT,
    updatedAt: AT,
    order: [['api'], ['ui', 'worker']],
    services: [
      {
        service: 'api',
        version: 'v2',
        releaseId: 'api-stage-abc',
        stage: 'awaiting_go',
        green: { hostname: 'api-v2.stage.example.com', endpoint: 'http://127.0.0.1:1' },
        artifact: { uri: 'file:///a', digest: `sha256:${'ab'.repeat(32)}` },
        testsPassed: true,
        replaces: 'v1',
        promotion: null,
        reason: null,
      },
    ],
    crossChecks: {
      passed: false,
      checks: [
        {
          name: 'e2e',
          passed: false,
          slow: false,
          skipped: false,
          durationMs: 5,
          detail: 'exit 1 [see](http://evil)',
        },
      ],
      startedAt: AT,
      finishedAt: AT,
    },
    approvals: { required: 1, approvedBy: [], rejectedBy: null, refused: [] },
    policyDecisions: [],
    finalAction: null,
    waitingFor: '1 approval(s) of the train',
    history: [{ stage: 'starting', at: AT }],
    reason: null,
    from: null,
  };

  it('shows the order, each release, the checks and what it waits for, every value escaped', () => {
    const details = trainDetails(train);
    for (const line of [
      String.raw`- **Order:** api → ui \+ worker`,
      String.raw`- **api v2:** awaiting go at api\-v2\.stage\.example\.com (api\-stage\-abc)`,
      String.raw`- **Waiting for:** 1 approval\(s\) of the train`,
      String.raw`- **Cross-service checks:** failed — e2e: exit 1 \[see\]\(http://evil\)`,
    ])
      assert.ok(details.includes(line), `${line}\n${details}`);
    assert.doesNotMatch(details, /\]\(http/);
    const text = formatTrain(train);
    assert.match(text, /^order {5}api → ui \+ worker$/m);
    assert.match(
      text,
      /^ {2}api {10}v2 {11}awaiting_go {10}api-stage-abc api-v2\.stage\.example\.com sha256:abababababab…$/m,
    );
    assert.match(text, /^ {10}✗ e2e: exit 1/m);
  });
});

describe("an environment's details in the Web UI", () => {
  it('says its state, what blocks it and why, what it waits for and its TTL, all escaped', () => {
    const details = environmentDetails({
      name: 'pr-1',
      state: 'active',
      since: '2026-12-01T10:00:00.000Z',
      template: 'ephemeral',
      flowName: 'ephemeral',
      running: null,
      ttl: { expiresAt: '2026-12-04T10:00:00.000Z', isExpiringSoon: false },
      blocked: {
        transition: 'start_maintenance',
        reason: 'policy blocked start_maintenance',
        explanation: 'no_active_deployments ✗',
        at: '2026-12-01T11:00:00.000Z',
        ranActions: 0,
      },
      approvals: { pending: 'decommission', required: 1, approvedBy: [], rejectedBy: null, refused: [] },
      lastDecision: null,
      history: [],
      lastDrift: {
        at: '2026-12-01T12:00:00.000Z',
        clean: false,
        findings: ['dns: web.pr-1.example points at [evil](http://evil)'],
      },
      nextDriftCheck: '2026-12-01T18:00:00.000Z',
      releases: [{ releaseId: 'web-v1', service: 'web', version: 'v1', at: '2026-12-01T11:30:00.000Z' }],
      leakCheck: null,
      createdAt: '2026-12-01T09:00:00.000Z',
      createdBy: '[ci](http://evil)',
    });
    assert.match(details, /^- \*\*State:\*\* active since 2026\\-12\\-01T10:00:00\\\.000Z\n/);
    assert.match(
      details,
      /\*\*Blocked:\*\* start\\_maintenance: policy blocked start\\_maintenance — no\\_active\\_deployments ✗/,
    );
    assert.match(details, /\*\*Waiting for:\*\* approval of decommission \(0 of 1 given\)/);
    assert.match(details, /\*\*Decommissioned at:\*\* 2026\\-12\\-04T10:00:00\\\.000Z\n/);
    assert.match(
      details,
      /\*\*Last drift check:\*\* 2026\\-12\\-01T12:00:00\\\.000Z: dns: web\\\.pr\\-1\\\.example points at \\\[evil\\\]\\\(http:\/\/evil\\\)/,
    );
    assert.match(details, /\*\*Next drift check:\*\* 2026\\-12\\-01T18:00:00/);
    assert.match(details, /\*\*Releases:\*\* 1 listed; newest web\\-v1 \(web v1\)/);
    assert.ok(details.endsWith('\n\n&nbsp;'));
  });
});
