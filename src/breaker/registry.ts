import type { BreakerConfig, BreakersConfig } from '../config/schema';
import { parseBreakerName } from '../shared/breaker-name';
import type { BreakerKind, BreakerName } from '../shared/breaker-name';
import { CircuitBreaker } from './breaker';
import type { BreakerListener, Clock, ErrorVerdict } from './breaker';
import { coarseClock } from './clock';
import { DEFAULT_BREAKER_SETTINGS } from './settings';
import type { BreakerSettings } from './settings';
import { SharedBreaker } from './shared';
import type { Query } from './shared';
import type { BreakerSnapshot, BreakerState } from './state';
import type { BreakerView } from './view';

export type { BreakerView } from './view';

/** The states worth keeping across a restart: the ones that keep calls off a dependency. */
const REJECTING: readonly BreakerState[] = ['open', 'half_open', 'forced_open'];

/**
 * What each kind of dependency needs beyond the general defaults. Infrastructure calls and test
 * runs are long (their activities may take 15 min): a call is slow well before that limit, and a
 * trial may take as long as one attempt may, so the half-open limit never discards a trial result.
 */
const KIND_DEFAULTS: Record<BreakerKind, Partial<BreakerSettings>> = {
  infra: { slowCallDurationMs: 10 * 60_000, maxWaitInHalfOpenMs: 20 * 60_000 },
  checks: { slowCallDurationMs: 10 * 60_000, maxWaitInHalfOpenMs: 20 * 60_000 },
  dns: { slowCallDurationMs: 60_000 },
  cmdb: { slowCallDurationMs: 30_000 },
  // Reading an artifact through hashes its bytes: a large one takes a while.
  artifacts: { slowCallDurationMs: 5 * 60_000, maxWaitInHalfOpenMs: 10 * 60_000 },
  // A webhook answers in seconds or not at all (each delivery has its own timeout, 5 s by default).
  notify: { slowCallDurationMs: 10_000 },
  prometheus: { slowCallDurationMs: 10_000 },
};

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

export type BreakerAction = 'open' | 'close' | 'reset';

/** Whether `name` is a dependency of a worker with these targets: `cmdb`, `checks`, `artifacts`, `dns:<t>`, `infra:<t>`. */
export function isDependency(name: string, targets: readonly string[]): name is BreakerName {
  const parsed = parseBreakerName(name);
  if (!parsed) return false;
  if (parsed.target === null)
    return parsed.kind === 'cmdb' || parsed.kind === 'checks' || parsed.kind === 'artifacts';
  return targets.includes(parsed.target);
}

/** The kind of a breaker's name (`dns` for `dns:prod`). */
const kindOf = (name: BreakerName): BreakerKind => parseBreakerName(name)!.kind;

/**
 * The breakers of one worker, one per dependency (`dns:<target>`, `infra:<target>`, `cmdb`,
 * `checks`), made on first use with the settings the configuration gives that dependency. With a
 * shared store (`backend: postgres`) every worker's breakers are the same ones; each worker's local
 * breaker then stands in only while the database cannot be reached.
 */
export class Breakers {
  private readonly breakers = new Map<BreakerName, CircuitBreaker>();
  private readonly sharedBreakers = new Map<BreakerName, SharedBreaker>();
  private readonly listeners: BreakerListener[] = [];

  constructor(
    private readonly config: BreakersConfig,
    private readonly clock: Clock = coarseClock,
    private readonly shared?: { query: Query; worker: string; onStoreError?: (e: Error) => void },
    /** Local breakers' states saved by an earlier run (open ones survive a restart), and where to save them. */
    private readonly persistence?: {
      saved: Record<string, BreakerSnapshot>;
      save: (snapshots: Record<string, BreakerSnapshot>) => void;
    },
  ) {}

  get isShared(): boolean {
    return this.shared !== undefined;
  }

  /** Listens to every breaker, present and future. */
  listen(listener: BreakerListener): void {
    this.listeners.push(listener);
    for (const b of this.breakers.values()) b.listen(listener);
    for (const b of this.sharedBreakers.values()) b.listen(listener);
  }

  settingsFor(name: BreakerName): BreakerSettings {
    const kind = kindOf(name);
    let settings: BreakerSettings = { ...DEFAULT_BREAKER_SETTINGS, ...KIND_DEFAULTS[kind] };
    for (const c of [this.config.defaults, this.config.dependencies[kind], this.config.dependencies[name]]) {
      if (c) settings = toSettings(settings, c);
    }
    return settings;
  }

  /** This worker's own breaker for a dependency (the breaker itself when the backend is local). */
  get(name: BreakerName): CircuitBreaker {
    let b = this.breakers.get(name);
    if (!b) {
      b = new CircuitBreaker(name, this.settingsFor(name), this.clock);
      for (const l of this.listeners) b.listen(l);
      const mode = this.modeState(name);
      applyMode(b, mode, 'the configuration');
      const saved = this.persistence?.saved[name];
      if (saved && mode === 'closed' && REJECTING.includes(saved.state)) {
        // Open before the restart: open still, for the rest of its period (a trial at once if it ended).
        b.restore(
          saved.state === 'half_open' ? { ...saved, state: 'open', openUntil: saved.since } : saved,
          'restored from the state saved before a restart',
        );
      }
      if (this.persistence) b.listen({ onTransition: () => this.save() });
      this.breakers.set(name, b);
    }
    return b;
  }

  /** Runs `call` through the named breaker; a rejection is thrown as a CircuitOpenError. */
  run<T>(name: BreakerName, call: () => Promise<T>, classify: (e: unknown) => ErrorVerdict): Promise<T> {
    if (!this.shared) return this.get(name).execute(call, classify);
    const local = () => this.get(name).execute(call, classify);
    return this.sharedFor(name).execute(call, classify, local, (e) => this.shared?.onStoreError?.(e));
  }

  /** How long until the named breaker may let a call through (0: now). */
  async retryAfterMs(name: BreakerName): Promise<number> {
    if (this.shared) {
      try {
        return await this.sharedFor(name).retryAfterMs();
      } catch (e) {
        this.shared.onStoreError?.(e as Error);
      }
    }
    return this.get(name).retryAfterMs();
  }

  /** Every breaker: this worker's, or with a shared store every worker's. */
  async list(): Promise<BreakerView[]> {
    if (this.shared) {
      const { rows } = await this.shared.query<{ name: BreakerName }>(
        'SELECT name FROM circuit_breakers ORDER BY name',
        [],
      );
      return Promise.all(rows.map((r) => this.view(r.name)));
    }
    return [...this.breakers.keys()].sort().map((name) => this.localView(name));
  }

  async view(name: BreakerName): Promise<BreakerView> {
    if (!this.shared) return this.localView(name);
    const v = await this.sharedFor(name).view();
    return { name, ...v, inFlight: this.get(name).metrics().inFlight };
  }

  /** An operator's change, on the shared state too when there is one. */
  async operate(name: BreakerName, action: BreakerAction, by: string): Promise<BreakerView> {
    const b = this.get(name);
    if (action === 'open') b.forceOpen(by);
    else if (action === 'close') b.close(by);
    else b.reset(by);
    // Closing or resetting returns a breaker to its configured mode.
    if (action !== 'open') applyMode(b, this.modeState(name), `the configuration (after ${by})`);
    if (this.shared) await this.sharedFor(name).operate(action, by);
    return this.view(name);
  }

  private save(): void {
    const snapshots: Record<string, BreakerSnapshot> = {};
    for (const [name, b] of this.breakers) snapshots[name] = b.snapshot();
    this.persistence?.save(snapshots);
  }

  private localView(name: BreakerName): BreakerView {
    const b = this.get(name);
    return {
      name,
      state: b.state,
      since: new Date(b.snapshot().since).toISOString(),
      retryAfterMs: b.retryAfterMs(),
      ...b.metrics(),
    };
  }

  private sharedFor(name: BreakerName): SharedBreaker {
    let b = this.sharedBreakers.get(name);
    if (!b) {
      const local = this.get(name);
      b = new SharedBreaker(
        name,
        this.settingsFor(name),
        this.shared!.query,
        this.shared!.worker,
        this.modeState(name),
        // The local breaker mirrors the shared state, to stand in for it when the database is out of reach.
        (snapshot) => local.restore(snapshot, 'the shared state'),
        this.clock,
      );
      for (const l of this.listeners) b.listen(l);
      this.sharedBreakers.set(name, b);
    }
    return b;
  }

  /** The state the configured mode puts a breaker in when it is not open: closed, disabled or metrics-only. */
  private modeState(name: BreakerName): 'closed' | 'disabled' | 'metrics_only' {
    const kind = kindOf(name);
    const mode =
      this.config.dependencies[name]?.mode ??
      this.config.dependencies[kind]?.mode ??
      this.config.defaults.mode;
    return mode === 'disabled' || mode === 'metrics_only' ? mode : 'closed';
  }
}

function applyMode(b: CircuitBreaker, mode: 'closed' | 'disabled' | 'metrics_only', reason: string): void {
  if (mode === 'disabled') b.disable(reason);
  if (mode === 'metrics_only') b.metricsOnly(reason);
}
