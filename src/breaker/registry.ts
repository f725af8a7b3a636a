import type { BreakerConfig, BreakersConfig } from '../config/schema';
import { CircuitBreaker, DEFAULT_BREAKER_SETTINGS } from './breaker';
import type { BreakerListener, BreakerSettings, BreakerState, Clock, ErrorVerdict } from './breaker';

/** What each kind of dependency needs beyond the general defaults: infrastructure calls are slow. */
const KIND_DEFAULTS: Record<string, Partial<BreakerSettings>> = {
  infra: { slowCallDurationMs: 30 * 60_000 },
  checks: { slowCallDurationMs: 10 * 60_000 },
  dns: { slowCallDurationMs: 60_000 },
  cmdb: { slowCallDurationMs: 30_000 },
};

/** One breaker as `greenlight breakers` shows it. */
export interface BreakerView {
  name: string;
  state: BreakerState;
  since: string;
  /** Milliseconds until a trial call may go (open), 0 otherwise. */
  retryAfterMs: number;
  calls: number;
  failures: number;
  slow: number;
  inFlight: number;
}

/** Turns a breaker's configuration into settings over the defaults (config durations are ms). */
export function toSettings(base: BreakerSettings, c: BreakerConfig): BreakerSettings {
  return {
    window:
      c.window === undefined
        ? base.window
        : typeof c.window === 'number'
          ? { type: 'time', size: Math.max(1, Math.ceil(c.window / 1000)) }
          : { type: 'count', size: c.window.calls },
    minimumCalls: c.minimumCalls ?? base.minimumCalls,
    failureRateThreshold: c.failureRateThreshold ?? base.failureRateThreshold,
    failureCountThreshold:
      c.failureCountThreshold === undefined ? base.failureCountThreshold : c.failureCountThreshold,
    slowCallRateThreshold: c.slowCallRateThreshold ?? base.slowCallRateThreshold,
    slowCallDurationMs: c.slowCallDuration ?? base.slowCallDurationMs,
    waitDurationMs: c.waitDuration ?? base.waitDurationMs,
    waitBackoffMultiplier: c.waitBackoffMultiplier ?? base.waitBackoffMultiplier,
    maxWaitDurationMs: c.maxWaitDuration ?? base.maxWaitDurationMs,
    permittedCallsInHalfOpen: c.permittedCallsInHalfOpen ?? base.permittedCallsInHalfOpen,
    maxWaitInHalfOpenMs: c.maxWaitInHalfOpen ?? base.maxWaitInHalfOpenMs,
  };
}

/**
 * The breakers of one worker, one per dependency (`dns:<target>`, `infra:<target>`, `cmdb`,
 * `checks`), made on first use with the settings the configuration gives that dependency.
 */
export class Breakers {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly listeners: BreakerListener[] = [];

  constructor(
    private readonly config: BreakersConfig,
    private readonly clock: Clock = Date.now,
  ) {}

  /** Listens to every breaker, present and future. */
  listen(listener: BreakerListener): void {
    this.listeners.push(listener);
    for (const b of this.breakers.values()) b.listen(listener);
  }

  settingsFor(name: string): BreakerSettings {
    const kind = name.split(':')[0]!;
    let settings: BreakerSettings = { ...DEFAULT_BREAKER_SETTINGS, ...KIND_DEFAULTS[kind] };
    for (const c of [this.config.defaults, this.config.dependencies[kind], this.config.dependencies[name]]) {
      if (c) settings = toSettings(settings, c);
    }
    return settings;
  }

  get(name: string): CircuitBreaker {
    let b = this.breakers.get(name);
    if (!b) {
      b = new CircuitBreaker(name, this.settingsFor(name), this.clock);
      for (const l of this.listeners) b.listen(l);
      const kind = name.split(':')[0]!;
      const mode =
        this.config.dependencies[name]?.mode ??
        this.config.dependencies[kind]?.mode ??
        this.config.defaults.mode;
      if (mode === 'disabled') b.disable('the configuration');
      if (mode === 'metrics_only') b.metricsOnly('the configuration');
      this.breakers.set(name, b);
    }
    return b;
  }

  /** Every breaker made so far, by name. */
  list(): BreakerView[] {
    return [...this.breakers.values()]
      .map((b) => {
        const m = b.metrics();
        return {
          name: b.name,
          state: b.state,
          since: new Date(b.snapshot().since).toISOString(),
          retryAfterMs: b.retryAfterMs(),
          ...m,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Runs `call` through the named breaker; a rejection is thrown as a CircuitOpenError. */
  run<T>(name: string, call: () => Promise<T>, classify: (e: unknown) => ErrorVerdict): Promise<T> {
    return this.get(name).execute(call, classify);
  }
}
