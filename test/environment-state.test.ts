import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvironmentStart } from '../src/shared/environment';
import { lifecycleFlow, transitionFrom } from '../src/shared/flow';
import { EnvironmentState } from '../src/workflows/environment/state';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const HOUR = 3_600_000;

describe("an environment's state, without a server", () => {
  it('shows its next drift check the moment a transition leaves it idle and active, and none out of active', () => {
    const start = EnvironmentStart.parse({
      name: 'pr-1',
      template: 'test',
      flowName: 'lifecycle',
      flow: lifecycleFlow(false),
      createdBy: 'ci',
      driftCheckMs: HOUR,
    });
    const env = new EnvironmentState(start, T0);
    let at = T0;
    for (const on of ['provision', 'configure', 'verify']) {
      const from = env.state;
      const t = transitionFrom(start.flow, from, on)!;
      env.begin(t, new Date(at).toISOString());
      at += 1000;
      env.finish(t, from, new Date(at).toISOString());
    }
    // No idle loop has run yet (the transition's record is still being written): the status already
    // says when the first drift check is due.
    assert.equal(env.state, 'active');
    assert.equal(env.status.running, null);
    assert.equal(env.status.nextDriftCheck, new Date(at + HOUR).toISOString());
    const from = env.state;
    const maintenance = transitionFrom(start.flow, from, 'start_maintenance')!;
    env.begin(maintenance, new Date(at).toISOString());
    env.finish(maintenance, from, new Date(at + 1000).toISOString());
    assert.equal(env.status.nextDriftCheck, null, 'no drift check in maintenance');
  });
});
