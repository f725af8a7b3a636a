import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, Permit } from '../src/breaker/breaker';
import { CircuitOpenError, isCircuitOpenError } from '../src/breaker/errors';
import { BreakerConfigKey, breakerName, isBreakerName, parseBreakerName } from '../src/shared/breaker-name';
import { DEFAULT_BREAKER_SETTINGS } from '../src/breaker/settings';
import type { ErrorVerdict, Transition } from '../src/breaker/breaker';
import type { BreakerSettings } from '../src/breaker/settings';
import type { BreakerSnapshot } from '../src/breaker/state';
import { CmdbOutbox } from '../src/breaker/outbox';
import { Breakers } from '../src/breaker/registry';
import { verdictOf } from '../src/activities/failures';
import { ProviderError, ProviderErrorKinds } from '../src/providers/errors';
import type { ChangeRecord, CmdbProvider } from '../src/providers/cmdb/types';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BreakersConfig } from '../src/config/schema';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function breaker(overrides: Partial<BreakerSettings> = {}) {
  const clock = fakeClock();
  const b = new CircuitBreaker('dns:dev', { ...DEFAULT_BREAKER_SETTINGS, ...overrides }, clock.now);
  const transitions: Transition[] = [];
  b.listen({ onTransition: (t) => transitions.push(t) });
  /** One call that takes `ms` and ends with `verdict`; returns the rejection if there was one. */
  const call = (verdict: ErrorVerdict | 'success', ms = 10): CircuitOpenError | null => {
    const permit = b.tryAcquire();
    if (permit instanceof CircuitOpenError) return permit;
    clock.advance(ms);
    b.onResult(permit, ms, verdict);
    return null;
  };
  return { b, clock, call, transitions };
}

const rateOnly = {
  failureCountThreshold: null,
  window: { type: 'count' as const, size: 4 },
  minimumCalls: 4,
};

describe('circuit breaker: its rejection', () => {
  it('is known by its brand, also when another copy of the module made it, and by nothing else', () => {
    const b = new CircuitBreaker('dns:prod', DEFAULT_BREAKER_SETTINGS, () => 0);
    b.forceOpen('ops');
    const rejection = b.tryAcquire();
    assert.ok(isCircuitOpenError(rejection));
    assert.equal((rejection as CircuitOpenError).breaker, 'dns:prod');
    // A second copy of the module (a bundle, another install): instanceof fails, the brand holds.
    const path = require.resolve('../src/breaker/errors');
    const cached = require.cache[path];
    delete require.cache[path];
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a fresh copy, on purpose
    const copy = require(path) as { CircuitOpenError: typeof CircuitOpenError };
    require.cache[path] = cached;
    const foreign = copy.CircuitOpenError.of('cmdb', 'open', 1_000);
    assert.notEqual(copy.CircuitOpenError, CircuitOpenError, 'a different class');
    assert.ok(isCircuitOpenError(foreign));
    assert.equal(foreign.message, 'the circuit breaker cmdb is open; next trial in 1s');
    for (const other of [new Error('open'), { breaker: 'cmdb', retryAfterMs: 1 }, null, 'CircuitOpenError']) {
      assert.equal(isCircuitOpenError(other), false);
    }
  });
});

describe('breaker names', () => {
  it('are made and read in one place: a kind, and a target for the per-target kinds', () => {
    assert.equal(breakerName('dns', 'prod'), 'dns:prod');
    assert.equal(breakerName('cmdb'), 'cmdb');
    assert.deepEqual(parseBreakerName('infra:stage-2'), { kind: 'infra', target: 'stage-2' });
    assert.deepEqual(parseBreakerName('dns'), { kind: 'dns', target: null });
    for (const bad of ['', 'ldap', 'dns:', 'dns:Prod', 'dns:prod:x', 'dns:-x', `dns:${'a'.repeat(64)}`]) {
      assert.equal(parseBreakerName(bad), null, bad);
    }
    // One breaker: per-target kinds need their target, the others have none.
    assert.deepEqual(['dns:prod', 'checks', 'cmdb', 'dns', 'checks:prod', 'infra'].map(isBreakerName), [
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    // The configuration also takes a kind alone, for every breaker of that kind.
    assert.equal(BreakerConfigKey.safeParse('dns').success, true);
    assert.equal(BreakerConfigKey.safeParse('dns:PROD').success, false);
  });
});

describe('circuit breaker: when it opens', () => {
  it('opens when the failure rate reaches the threshold exactly, not below it', () => {
    const below = breaker({ ...rateOnly, failureRateThreshold: 50 });
    for (const v of ['failure', 'success', 'success', 'success'] as const) below.call(v);
    assert.equal(below.b.state, 'closed', '25% < 50%');

    const at = breaker({ ...rateOnly, failureRateThreshold: 50 });
    for (const v of ['failure', 'success', 'failure'] as const) at.call(v);
    assert.equal(at.b.state, 'closed', 'three calls are fewer than the minimum of four');
    at.call('success');
    assert.equal(at.b.state, 'open', '2 of 4 = 50% ≥ 50%');
    assert.match(at.transitions[0]!.reason, /failure rate 50% of 4 calls \(threshold 50%\)/);
  });

  it('opens on slow calls alone, even when they all succeed', () => {
    const { b, call, transitions } = breaker({
      ...rateOnly,
      slowCallRateThreshold: 75,
      slowCallDurationMs: 1_000,
    });
    call('success', 1_000);
    call('success', 5);
    call('success', 2_000);
    assert.equal(b.state, 'closed');
    call('success', 1_500);
    assert.equal(b.state, 'open');
    assert.match(transitions[0]!.reason, /slow-call rate 75% of 4 calls/);
  });

  it('has the source document defaults: 3 failures within 300 s open it for 60 s', () => {
    const { b, clock, call } = breaker();
    call('failure');
    clock.advance(100_000);
    call('failure');
    assert.equal(b.state, 'closed');
    clock.advance(150_000);
    call('failure');
    assert.equal(b.state, 'open', 'the third failure within 300 s');
    const rejection = call('success');
    assert.ok(rejection instanceof CircuitOpenError);
    assert.equal(rejection.retryAfterMs, 60_000);
  });

  it('forgets failures after an idle gap longer than the window', () => {
    const { b, clock, call } = breaker();
    call('failure');
    call('failure');
    clock.advance(301_000);
    assert.deepEqual(b.metrics(), { calls: 0, failures: 0, slow: 0, inFlight: 0 }, 'no stale failures');
    call('failure');
    assert.equal(b.state, 'closed', 'one failure in the window, not three');
    clock.advance(200_000);
    call('failure');
    clock.advance(99_000);
    call('failure');
    assert.equal(b.state, 'open', 'three failures within 300 s after all');
  });

  it('slides a time window second by second', () => {
    const { b, clock, call } = breaker({ window: { type: 'time', size: 10 } });
    call('failure');
    clock.advance(5_000);
    call('failure');
    clock.advance(5_000); // the first failure's second is now out of the 10 s window
    assert.equal(b.metrics().failures, 1);
    call('failure');
    assert.equal(b.state, 'closed');
  });
});

describe('circuit breaker: judged after every call', () => {
  it('opens on a success when old successes have left the time window before a failure', () => {
    const { b, clock, call } = breaker({
      window: { type: 'time', size: 10 },
      minimumCalls: 2,
      failureRateThreshold: 50,
      failureCountThreshold: null,
    });
    call('success');
    call('success');
    clock.advance(5_000);
    call('failure');
    assert.equal(b.state, 'closed', '1 of 3 failed');
    clock.advance(5_500);
    call('success');
    assert.equal(b.state, 'open', 'the first two left the window: 1 of 2 failed, 50%');
  });
});

describe('circuit breaker: open, half-open, closed', () => {
  it('rejects while open, with the time left, and goes half-open lazily on the first call after', () => {
    const { b, clock, call, transitions } = breaker({ waitDurationMs: 60_000 });
    call('failure');
    call('failure');
    call('failure');
    clock.advance(59_000);
    assert.equal(call('success')?.retryAfterMs, 1_000);
    clock.advance(1_000);
    assert.equal(b.state, 'open', 'still open until a call comes');
    assert.equal(b.retryAfterMs(), 0);
    assert.equal(call('success'), null, 'the trial call is allowed');
    assert.equal(b.state, 'closed');
    assert.deepEqual(
      transitions.map((t) => `${t.from}→${t.to}`),
      ['closed→open', 'open→half_open', 'half_open→closed'],
    );
    assert.deepEqual(
      b.metrics(),
      { calls: 0, failures: 0, slow: 0, inFlight: 0 },
      'metrics reset on every change',
    );
  });

  it('allows exactly the permitted trial calls in half-open, judged as a window of their own', () => {
    const { b, clock, call } = breaker({ permittedCallsInHalfOpen: 2, failureRateThreshold: 50 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const first = b.tryAcquire();
    const second = b.tryAcquire();
    assert.ok(first instanceof Permit);
    assert.ok(second instanceof Permit);
    const third = b.tryAcquire();
    assert.ok(third instanceof CircuitOpenError, 'permits exhausted');
    assert.equal(third.retryAfterMs, 5_000, 'look again when the trial may be done');
    assert.match(third.message, /half-open, its trial calls are in progress/);
    b.onResult(first as Permit, 10, 'success');
    assert.equal(b.state, 'half_open', 'judged only when all trials are in');
    b.onResult(second as Permit, 10, 'failure');
    assert.equal(b.state, 'open', '1 of 2 trials failed: 50% ≥ 50%');
  });

  it('waits longer after each consecutive opening, up to the maximum, and forgets that on closing', () => {
    const { b, clock, call } = breaker({
      waitDurationMs: 10_000,
      waitBackoffMultiplier: 2,
      maxWaitDurationMs: 35_000,
    });
    for (let i = 0; i < 3; i++) call('failure');
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      waits.push(b.retryAfterMs());
      clock.advance(b.retryAfterMs());
      call('failure'); // the trial fails
    }
    assert.deepEqual(waits, [10_000, 20_000, 35_000, 35_000]);
    clock.advance(b.retryAfterMs());
    call('success');
    assert.equal(b.state, 'closed');
    for (let i = 0; i < 3; i++) call('failure');
    assert.equal(b.retryAfterMs(), 10_000, 'back to the first wait');
  });

  it('gives an ignored error’s trial permit back, and records nothing for it', () => {
    const { b, clock, call } = breaker();
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    call('ignore');
    assert.equal(b.state, 'half_open');
    assert.equal(call('success'), null, 'the permit came back: another trial may run');
    assert.equal(b.state, 'closed');
  });

  it('lets a cancelled call give its permit back and record nothing', () => {
    const { b, clock, call } = breaker();
    call('failure');
    call('failure');
    call('cancelled');
    call('ignore');
    assert.equal(b.state, 'closed');
    assert.equal(b.metrics().failures, 2);
    for (let i = 0; i < 1; i++) call('failure');
    clock.advance(60_000);
    call('cancelled');
    assert.equal(b.state, 'half_open');
    assert.equal(b.metrics().calls, 0);
  });

  it('opens again when a trial takes longer than the half-open limit', () => {
    const { b, clock, call } = breaker({ maxWaitInHalfOpenMs: 30_000 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const hung = b.tryAcquire();
    assert.ok(hung instanceof Permit);
    clock.advance(30_000);
    const next = call('success');
    assert.ok(next instanceof CircuitOpenError);
    assert.equal(b.state, 'open');
    b.onResult(hung as Permit, 90_000, 'success');
    assert.equal(b.state, 'open', 'the late trial result belongs to the old half-open state');
  });

  it('opens at the half-open limit though no call comes, and ignores the late trial results', () => {
    const { b, clock, call, transitions } = breaker({ maxWaitInHalfOpenMs: 30_000 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const trial = b.tryAcquire();
    assert.ok(trial instanceof Permit);
    const halfOpenSince = clock.now();
    clock.advance(29_999);
    assert.equal(b.state, 'half_open', 'within the limit');
    clock.advance(1);
    assert.equal(b.state, 'open', 'at the limit, without any call asking');
    assert.equal(b.retryAfterMs(), 60_000, 'callers get the open period as their retry time');
    assert.deepEqual(transitions.at(-1), {
      breaker: 'dns:dev',
      from: 'half_open',
      to: 'open',
      at: halfOpenSince + 30_000,
      reason: 'no trial result within 30000 ms',
    });
    b.onResult(trial, 30_000, 'success');
    assert.equal(b.state, 'open', 'the late trial result is not judged');
    assert.equal(b.retryAfterMs(), 60_000);
  });

  it('ignores a trial result that comes after the half-open limit, even when nothing read the breaker', () => {
    const { b, clock, call } = breaker({ maxWaitInHalfOpenMs: 30_000 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const trial = b.tryAcquire() as Permit;
    clock.advance(30_000);
    b.onResult(trial, 30_000, 'success');
    assert.equal(b.state, 'open', 'the trial outlasted the limit: it cannot close the breaker');
  });

  it('dates the opening at the half-open limit when the breaker is read only later', () => {
    const { b, clock, call } = breaker({ maxWaitInHalfOpenMs: 30_000 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const trial = b.tryAcquire() as Permit;
    clock.advance(40_000);
    assert.equal(b.snapshot().state, 'open', 'a saved state says open too');
    assert.equal(b.retryAfterMs(), 50_000, 'open since the limit, 10 s ago');
    b.release(trial);
    assert.ok(b.tryAcquire() instanceof CircuitOpenError, 'the late release gave no trial back');
    clock.advance(50_000);
    assert.ok(b.tryAcquire() instanceof Permit, 'a new trial once the open period is over');
    assert.equal(b.state, 'half_open');
  });

  it('holds calls back while closed once failures are seen, so no more can fail than the threshold', () => {
    const { b, call } = breaker();
    call('failure');
    const a = b.tryAcquire();
    const c = b.tryAcquire();
    assert.ok(a instanceof Permit);
    assert.ok(c instanceof Permit, 'if both fail, 3 failures reach the dependency: the threshold');
    const d = b.tryAcquire();
    assert.ok(d instanceof CircuitOpenError, 'a fourth could fail beyond the threshold');
    assert.equal(d.state, 'closed');
    assert.equal(d.retryAfterMs, 5_000);
    b.onResult(a as Permit, 10, 'success');
    assert.ok(b.tryAcquire() instanceof Permit, 'allowed again when the call in flight ends');
    const healthy = breaker();
    const permits = Array.from({ length: 10 }, () => healthy.b.tryAcquire());
    assert.ok(
      permits.every((p) => p instanceof Permit),
      'no limit while no failure is seen',
    );
  });
});

describe('circuit breaker: a permit is used once', () => {
  it('counts a closed-state permit back once, however often it is given back', () => {
    const { b, call } = breaker();
    call('failure');
    const first = b.tryAcquire() as Permit;
    const second = b.tryAcquire() as Permit;
    assert.ok(b.tryAcquire() instanceof CircuitOpenError, 'one failure and two in flight: the threshold');
    b.onResult(first, 10, 'success');
    assert.doesNotThrow(() => {
      b.release(first);
      b.release(first);
      b.onResult(first, 10, 'failure');
    });
    assert.equal(b.metrics().inFlight, 1, 'only the second call is in flight');
    assert.equal(b.metrics().failures, 1, 'the second use of the permit recorded nothing');
    assert.ok(b.tryAcquire() instanceof Permit, 'one more may go, as before');
    assert.ok(b.tryAcquire() instanceof CircuitOpenError, 'but not two more');
    b.release(second);
    b.release(second);
    assert.equal(b.metrics().inFlight, 1, 'never below the calls really in flight');
  });

  it('never drives the in-flight count below zero', () => {
    const { b } = breaker();
    const permit = b.tryAcquire() as Permit;
    b.release(permit);
    b.release(permit);
    b.onResult(permit, 10, 'cancelled');
    assert.equal(b.metrics().inFlight, 0);
  });

  it('gives a half-open trial permit back once: no trial too many', () => {
    const { b, clock, call } = breaker({ permittedCallsInHalfOpen: 2, failureRateThreshold: 50 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const ignored = b.tryAcquire() as Permit;
    const running = b.tryAcquire() as Permit;
    b.onResult(ignored, 10, 'ignore');
    b.release(ignored);
    b.release(ignored);
    assert.ok(b.tryAcquire() instanceof Permit, 'the ignored trial’s place');
    assert.ok(b.tryAcquire() instanceof CircuitOpenError, 'two trials run, as permitted: no third');
    b.onResult(running, 10, 'success');
    assert.equal(b.state, 'half_open');
  });

  it('judges a half-open trial result once', () => {
    const { b, clock, call } = breaker({ permittedCallsInHalfOpen: 2, failureRateThreshold: 50 });
    for (let i = 0; i < 3; i++) call('failure');
    clock.advance(60_000);
    const first = b.tryAcquire() as Permit;
    const second = b.tryAcquire() as Permit;
    b.onResult(first, 10, 'success');
    b.onResult(first, 10, 'failure');
    assert.equal(b.state, 'half_open', 'one trial of two is in: not judged yet');
    b.onResult(second, 10, 'success');
    assert.equal(b.state, 'closed', 'two trials, both succeeded');
  });
});

describe('circuit breaker: operators, saved state, rejections', () => {
  it('forced open rejects everything; disabled allows everything; metrics-only records and never opens', () => {
    const forced = breaker();
    forced.b.forceOpen('alice');
    assert.match(forced.call('success')!.message, /forced open by an operator/);
    assert.equal(forced.transitions[0]!.reason, 'forced open by alice');
    forced.b.close('alice');
    assert.equal(forced.call('success'), null);

    const disabled = breaker();
    disabled.b.disable();
    for (let i = 0; i < 10; i++) assert.equal(disabled.call('failure'), null);
    assert.equal(disabled.b.state, 'disabled');

    const observed = breaker();
    observed.b.metricsOnly();
    for (let i = 0; i < 10; i++) assert.equal(observed.call('failure'), null);
    assert.equal(observed.b.state, 'metrics_only');
    assert.equal(observed.b.metrics().failures, 10);
    observed.b.reset();
    assert.equal(observed.b.state, 'closed');
  });

  it('restores a saved state: an open breaker stays open for the rest of its period', () => {
    const first = breaker();
    for (let i = 0; i < 3; i++) first.call('failure');
    first.clock.advance(20_000);
    const saved = first.b.snapshot();
    assert.equal(saved.state, 'open');

    const clock = fakeClock(first.clock.now());
    const restarted = new CircuitBreaker('dns:dev', DEFAULT_BREAKER_SETTINGS, clock.now);
    restarted.restore(saved);
    assert.equal(restarted.state, 'open');
    assert.equal(restarted.retryAfterMs(), 40_000);
    clock.advance(40_000);
    assert.ok(restarted.tryAcquire() instanceof Permit, 'the trial');
    assert.equal(restarted.state, 'half_open');
  });

  it('makes rejections without a stack trace, as real errors', () => {
    const { call } = breaker();
    for (let i = 0; i < 3; i++) call('failure');
    const rejection = call('success')!;
    assert.ok(rejection instanceof Error);
    assert.equal(rejection.name, 'CircuitOpenError');
    assert.equal(rejection.message, 'the circuit breaker dns:dev is open; next trial in 60s');
    assert.equal(rejection.stack?.split('\n').length, 1, 'no frames captured');
  });

  it('runs promises through execute, classifying errors', async () => {
    const { b } = breaker();
    const refused = new Error('bad input');
    const classify = (e: unknown): ErrorVerdict => (e === refused ? 'ignore' : 'failure');
    assert.equal(await b.execute(async () => 42, classify), 42);
    for (let i = 0; i < 5; i++) {
      await assert.rejects(
        b.execute(() => Promise.reject(refused), classify),
        refused,
      );
    }
    assert.equal(b.state, 'closed', 'ignored errors are not the dependency’s fault');
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        b.execute(() => Promise.reject(new Error('down')), classify),
        /down/,
      );
    }
    await assert.rejects(
      b.execute(async () => 1),
      CircuitOpenError,
    );
  });
});

describe('the breakers of a worker', () => {
  it('gives each dependency the settings of its kind and name over the defaults', () => {
    const breakers = new Breakers(
      BreakersConfig.parse({
        defaults: { waitDuration: '30s' },
        dependencies: {
          dns: { window: { calls: 20 }, failureCountThreshold: null },
          'dns:prod': { waitDuration: '2m' },
        },
      }),
    );
    const prod = breakers.settingsFor('dns:prod');
    assert.deepEqual(prod.window, { type: 'count', size: 20 });
    assert.equal(prod.failureCountThreshold, null);
    assert.equal(prod.waitDurationMs, 120_000);
    assert.equal(breakers.settingsFor('dns:dev').waitDurationMs, 30_000);
    const infra = breakers.settingsFor('infra:dev');
    assert.equal(infra.slowCallDurationMs, 10 * 60_000, 'slow before the 15 min an attempt may take');
    assert.equal(infra.maxWaitInHalfOpenMs, 20 * 60_000, 'a trial may take as long as an attempt');
    assert.deepEqual(breakers.settingsFor('cmdb').window, { type: 'time', size: 300 });
  });

  it('returns a breaker to its configured mode when an operator closes it; only reset forgets the backoff', async () => {
    const clock = fakeClock();
    const breakers = new Breakers(
      BreakersConfig.parse({
        dependencies: {
          checks: { mode: 'metrics_only' },
          dns: { waitDuration: '10s', waitBackoffMultiplier: 2 },
        },
      }),
      clock.now,
    );
    assert.equal((await breakers.operate('checks', 'open', 'alice')).state, 'forced_open');
    assert.equal((await breakers.operate('checks', 'close', 'alice')).state, 'metrics_only');
    assert.equal((await breakers.operate('checks', 'reset', 'alice')).state, 'metrics_only');

    const fail = () =>
      breakers.run(
        'dns:dev',
        () => Promise.reject(new Error('down')),
        () => 'failure',
      );
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    assert.equal(await breakers.retryAfterMs('dns:dev'), 10_000, 'first opening');
    await breakers.operate('dns:dev', 'close', 'alice');
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    assert.equal(await breakers.retryAfterMs('dns:dev'), 20_000, 'close kept the backoff history');
    await breakers.operate('dns:dev', 'reset', 'alice');
    for (let i = 0; i < 3; i++) await fail().catch(() => undefined);
    assert.equal(await breakers.retryAfterMs('dns:dev'), 10_000, 'reset forgot it');
  });

  it('keeps an open breaker open across a restart, from the saved state', async () => {
    const clock = fakeClock();
    let saved: Record<string, BreakerSnapshot> = {};
    const persistence = () => ({ saved, save: (s: Record<string, BreakerSnapshot>) => (saved = s) });
    const before = new Breakers(BreakersConfig.parse({}), clock.now, undefined, persistence());
    for (let i = 0; i < 3; i++) {
      await before
        .run(
          'dns:dev',
          () => Promise.reject(new Error('down')),
          () => 'failure',
        )
        .catch(() => undefined);
    }
    assert.equal(saved['dns:dev']?.state, 'open');
    clock.advance(20_000);

    const after = new Breakers(BreakersConfig.parse({}), clock.now, undefined, persistence());
    assert.equal(after.get('dns:dev').state, 'open');
    assert.equal(await after.retryAfterMs('dns:dev'), 40_000);
    assert.equal(after.get('cmdb').state, 'closed', 'only what was saved open is restored');
  });
});

describe('what counts as a failure, and the CMDB outbox', () => {
  it('counts errors retrying may fix, ignores refusals, and tells a timeout from a cancellation', () => {
    const live = new AbortController().signal;
    const aborted = AbortSignal.abort();
    const down = new ProviderError(ProviderErrorKinds.unavailable, 'ECONNREFUSED', true);
    const conflict = new ProviderError(ProviderErrorKinds.dnsConflict, 'changed elsewhere', false);
    assert.equal(verdictOf(down, live), 'failure');
    assert.equal(verdictOf(conflict, live), 'ignore', 'not the dependency’s fault');
    assert.equal(verdictOf(new Error('bug'), live), 'failure');
    assert.equal(verdictOf(down, aborted, false), 'cancelled', 'the release gave up: nothing to record');
    assert.equal(verdictOf(down, aborted, true), 'failure', 'a hang that hit the timeout is a failure');
  });

  it('moves a write the CMDB refuses for good aside, and replays the others in order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-outbox-'));
    try {
      const outbox = new CmdbOutbox(dir);
      const change = (step: string): ChangeRecord => ({
        releaseId: 'r1',
        step,
        service: 'web',
        target: 'dev',
        version: 'v1',
        stage: step,
        at: '2026-11-22T00:00:00.000Z',
      });
      for (const step of ['1:queued', '2:bad', '3:completed']) {
        await outbox.add({ change: change(step), deployments: [], reason: 'open', deferredAt: 'now' });
      }
      const written: string[] = [];
      let isDown = true;
      // A typed fake CMDB: the rare error paths of a real one, on demand.
      const cmdb: CmdbProvider = {
        async recordChange(c) {
          if (isDown) throw new ProviderError(ProviderErrorKinds.unavailable, 'down', true);
          if (c.step === '2:bad')
            throw new ProviderError(ProviderErrorKinds.unavailable, 'value too long', false);
          written.push(c.step);
        },
        async upsertDeployment() {},
        async deployments() {
          return [];
        },
        async upsertEnvironment() {},
        async recordEnvironmentChange() {},
        async environmentChanges() {
          return [];
        },
        async environment() {
          return null;
        },
        async deploymentsIn() {
          return [];
        },
        async artifactRuns() {
          return [];
        },
        async recordTrain() {},
        async train() {
          return null;
        },
        async changes() {
          return [];
        },
      };
      const isPermanent = (e: unknown) => e instanceof ProviderError && !e.isRetryable;
      const run = (write: () => Promise<void>) => write();
      assert.equal(
        await outbox.drain(cmdb, run, isPermanent),
        0,
        'still down: nothing written, nothing lost',
      );
      assert.equal(await outbox.size(), 3);
      isDown = false;
      assert.equal(await outbox.drain(cmdb, run, isPermanent), 2);
      assert.deepEqual(written, ['1:queued', '3:completed']);
      assert.equal(await outbox.size(), 0);
      assert.equal(await outbox.deadLetters(), 1, 'the bad write is kept aside for an operator');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
