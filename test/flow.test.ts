import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseOrThrow } from '../src/config/errors';
import { autoTransitionFrom, ephemeralFlow, Flow, lifecycleFlow, transitionFrom } from '../src/shared/flow';
import type { FlowInput } from '../src/shared/flow';

const parse = (flow: unknown) => parseOrThrow(Flow, flow, 'environments.flows.custom');
const refusal = (flow: unknown): string => {
  try {
    parse(flow);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('the flow was accepted');
};

/** A small valid flow to break one thing at a time. */
const small = (): FlowInput => ({
  states: ['new', 'active', 'gone'],
  transitions: [
    {
      on: 'start',
      from: 'new',
      to: 'active',
      auto: true,
      policy: 'tests_passed',
      actions: [{ run: 'checks.run' }],
    },
    { on: 'decommission', from: '*', to: 'gone', actions: [{ run: 'dns.purge' }] },
  ],
});

describe('flows as data', () => {
  it('accepts the built-in flows, and finds their transitions', () => {
    for (const withModule of [true, false]) {
      const lifecycle = parse(lifecycleFlow(withModule));
      assert.equal(autoTransitionFrom(lifecycle, 'provisioning')?.on, 'provision');
      assert.equal(autoTransitionFrom(lifecycle, 'active'), undefined, 'active is where it stays');
      assert.equal(transitionFrom(lifecycle, 'active', 'start_maintenance')?.to, 'maintenance');
      assert.equal(transitionFrom(lifecycle, 'maintenance', 'decommission')?.via, 'decommissioning');
      assert.equal(
        lifecycle.transitions[0]!.actions.some((a) => a.run === 'terraform.apply'),
        withModule,
      );
      const ephemeral = parse(ephemeralFlow(withModule));
      assert.ok(!ephemeral.states.includes('configuring'));
      assert.equal(autoTransitionFrom(ephemeral, 'provisioning')?.to, 'testing');
    }
  });

  it('refuses an unknown state, naming the key', () => {
    const flow = small();
    flow.transitions[0]!.to = 'live';
    assert.match(refusal(flow), /transitions\.0\.to: unknown state "live"; the states are new, active, gone/);
  });

  it('refuses a fact that neither the environment nor an action yields, naming the key', () => {
    const flow = small();
    flow.transitions[0]!.policy = { all: ['tests_passed', 'infrastructure_ready'] };
    assert.match(
      refusal(flow),
      /transitions\.0\.policy: unknown fact "infrastructure_ready": neither the environment nor an action of start yields it/,
    );
  });

  it('refuses an unknown executor, naming the key and the executors', () => {
    const flow = small() as { transitions: { actions: { run: string }[] }[] };
    flow.transitions[0]!.actions[0]!.run = 'kubernetes.apply';
    assert.match(refusal(flow), /transitions\.0\.actions\.0\.run: an executor: terraform\.apply, /);
  });

  it('refuses a state that cannot be reached, and a flow with no way to decommission', () => {
    const unreachable = small();
    unreachable.states = ['new', 'active', 'limbo', 'gone'];
    assert.match(refusal(unreachable), /states\.2: limbo cannot be reached from new/);

    const stuck = small();
    stuck.transitions[1]!.from = 'new';
    assert.match(refusal(stuck), /transitions: no way to decommission from active/);
  });

  it('refuses two automatic transitions from one state, a name used twice, and leaving the last state', () => {
    const twice = small();
    twice.transitions.push({ on: 'start', from: 'new', to: 'gone', auto: true });
    const message = refusal(twice);
    assert.match(message, /transitions\.2\.on: start leaves new twice/);
    assert.match(message, /two transitions leave new by themselves/);

    const fromLast = small();
    fromLast.transitions.push({ on: 'revive', from: 'gone', to: 'active' });
    assert.match(refusal(fromLast), /transitions\.2\.from: gone is the last state: nothing leaves it/);
  });
});
