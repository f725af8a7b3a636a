import type { QueryResult, QueryResultRow } from 'pg';
import { CircuitOpenError, isCircuitOpenError } from './errors';
import { FORCED_OPEN_RETRY_MS, openPeriodMs, THROTTLE_RETRY_MS, tripReason } from './settings';
import type { BreakerListener, Clock, ErrorVerdict } from './breaker';
import type { BreakerSettings } from './settings';
import type { BreakerSnapshot, BreakerState } from './state';
import type { BreakerView } from './view';

/** What runs the shared breakers' SQL: the CMDB's database. */
export type Query = <R extends QueryResultRow>(text: string, values: unknown[]) => Promise<QueryResult<R>>;

interface Row {
  state: BreakerState;
  epoch: string;
  since: Date;
  consecutive_opens: number;
  open_ms_left: number | null;
  trial_owner: string | null;
  trial_ms_left: number | null;
  trials_issued: number;
}

interface SharedPermit {
  epoch: string;
  isTrial: boolean;
  /** Whether calls in this state are recorded (not when the breaker is disabled). */
  isRecorded: boolean;
  /** Reported already: a permit is reported once, a second report is a no-op. */
  isSpent: boolean;
}

/** Every this many recorded calls, a worker drops the calls that have left the window. */
const PRUNE_EVERY = 50;

/** A half-open trial lease lasts this long when the settings set no half-open limit. */
const DEFAULT_LEASE_MS = 10 * 60_000;

/**
 * A circuit breaker whose state lives in PostgreSQL, shared by every worker: their calls fill one
 * window, any worker may trip it (a conditional update on the state's epoch, so exactly one
 * transition wins), and when the open period ends a trial lease — another conditional update —
 * lets exactly one worker make the half-open trial calls. Times are the database's clock, so
 * workers with skewed clocks agree.
 *
 * The rules are the local breaker's (`tripReason`, `openPeriodMs`); a call in flight is this
 * worker's business, so the closed-state in-flight limit is the local breaker's alone.
 */
export class SharedBreaker {
  private isKnown = false;
  private recorded = 0;
  private readonly listeners: BreakerListener[] = [];

  constructor(
    readonly name: string,
    readonly settings: BreakerSettings,
    private readonly query: Query,
    /** This worker, as the trial lease names it. */
    private readonly worker: string,
    /** The configured mode's state: `closed`, or `disabled`/`metrics_only`, which the configuration enforces. */
    private readonly modeState: BreakerState = 'closed',
    /** Told each shared state read, with times on this process's clock. */
    private readonly onState?: (snapshot: BreakerSnapshot) => void,
    /** This process's clock (the database's decides what is open; this one dates what we see). */
    private readonly clock: Clock = Date.now,
  ) {}

  listen(listener: BreakerListener): void {
    this.listeners.push(listener);
  }

  /**
   * Runs `call` through the shared breaker. If the database cannot be asked for a permit, `fallback`
   * runs it instead (the worker's local breaker); a result that cannot be recorded is only reported.
   */
  async execute<T>(
    call: () => Promise<T>,
    classify: (e: unknown) => ErrorVerdict,
    fallback: () => Promise<T>,
    onStoreError: (e: Error) => void,
  ): Promise<T> {
    let permit: SharedPermit | CircuitOpenError;
    try {
      permit = await this.acquire();
    } catch (e) {
      onStoreError(e as Error);
      return fallback();
    }
    if (isCircuitOpenError(permit)) throw permit;
    const start = this.clock();
    const record = (verdict: ErrorVerdict | 'success') =>
      this.report(permit as SharedPermit, this.clock() - start, verdict).catch(onStoreError);
    let result: T;
    try {
      result = await call();
    } catch (e) {
      await record(classify(e));
      throw e;
    }
    await record('success');
    return result;
  }

  async acquire(): Promise<SharedPermit | CircuitOpenError> {
    const row = await this.read();
    switch (row.state) {
      case 'closed':
      case 'metrics_only':
        return { epoch: row.epoch, isTrial: false, isRecorded: true, isSpent: false };
      case 'disabled':
        return { epoch: row.epoch, isTrial: false, isRecorded: false, isSpent: false };
      case 'forced_open':
        return this.reject(row.state, Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS));
      case 'open': {
        if ((row.open_ms_left ?? 0) > 0) return this.reject('open', row.open_ms_left!);
        // The open period is over: whoever takes the lease makes the trial.
        const leaseMs = this.settings.maxWaitInHalfOpenMs || DEFAULT_LEASE_MS;
        const { rows } = await this.query<{ epoch: string }>(
          `UPDATE circuit_breakers
              SET state = 'half_open', epoch = epoch + 1, since = now(), trial_owner = $3,
                  trial_until = now() + $4 * interval '1 millisecond', trials_issued = 1,
                  reason = 'the open period is over'
            WHERE name = $1 AND epoch = $2 AND state = 'open' AND open_until <= now()
            RETURNING epoch`,
          [this.name, row.epoch, this.worker, leaseMs],
        );
        if (!rows[0]) return this.reject('half_open', THROTTLE_RETRY_MS);
        this.emit('open', 'half_open', `the open period is over; ${this.worker} holds the trial lease`);
        return { epoch: rows[0].epoch, isTrial: true, isRecorded: true, isSpent: false };
      }
      case 'half_open': {
        // `read` has opened it if the lease is over.
        if (row.trial_owner !== this.worker) return this.reject('half_open', THROTTLE_RETRY_MS);
        const { rows } = await this.query<{ epoch: string }>(
          `UPDATE circuit_breakers SET trials_issued = trials_issued + 1
            WHERE name = $1 AND epoch = $2 AND trial_owner = $3 AND trials_issued < $4
              AND trial_until > now()
            RETURNING epoch`,
          [this.name, row.epoch, this.worker, this.settings.permittedCallsInHalfOpen],
        );
        if (!rows[0]) return this.reject('half_open', THROTTLE_RETRY_MS);
        return { epoch: row.epoch, isTrial: true, isRecorded: true, isSpent: false };
      }
    }
  }

  async report(permit: SharedPermit, durationMs: number, verdict: ErrorVerdict | 'success'): Promise<void> {
    if (permit.isSpent) return;
    permit.isSpent = true;
    if (verdict === 'cancelled' || verdict === 'ignore') {
      for (const l of this.listeners)
        l.onOutcome?.(this.name, verdict === 'cancelled' ? 'cancelled' : 'ignored', durationMs);
      if (permit.isTrial) {
        await this.query(
          `UPDATE circuit_breakers SET trials_issued = trials_issued - 1 WHERE name = $1 AND epoch = $2 AND trials_issued > 0`,
          [this.name, permit.epoch],
        );
      }
      return;
    }
    const failed = verdict === 'failure';
    const slow = durationMs >= this.settings.slowCallDurationMs;
    for (const l of this.listeners) {
      l.onOutcome?.(
        this.name,
        failed ? (slow ? 'slow_failure' : 'failure') : slow ? 'slow_success' : 'success',
        durationMs,
      );
    }
    if (!permit.isRecorded) return;
    await this.query(
      `INSERT INTO circuit_breaker_calls (name, epoch, failed, slow, worker) VALUES ($1, $2, $3, $4, $5)`,
      [this.name, permit.epoch, failed, slow, this.worker],
    );
    const row = await this.read();
    if (row.epoch !== permit.epoch) return; // the state changed meanwhile: this call is history
    if (permit.isTrial) {
      const totals = await this.totals(permit.epoch, null);
      if (totals.calls < this.settings.permittedCallsInHalfOpen) return;
      const reason = tripReason(this.settings, totals, this.settings.permittedCallsInHalfOpen, false);
      if (reason)
        await this.transition(
          row.epoch,
          'half_open',
          'open',
          `trial calls: ${reason}`,
          row.consecutive_opens + 1,
        );
      else
        await this.transition(
          row.epoch,
          'half_open',
          'closed',
          `trial calls: ${totals.calls - totals.failures} of ${totals.calls} succeeded`,
          0,
        );
      return;
    }
    if (row.state !== 'closed') return;
    // Judged after every call, as the local breaker is; now and then, old calls are dropped.
    if (++this.recorded % PRUNE_EVERY === 0) await this.prune(row.epoch);
    const totals = await this.totals(permit.epoch, this.settings.window);
    const reason = tripReason(this.settings, totals, this.settings.minimumCalls, true);
    if (reason) await this.transition(row.epoch, 'closed', 'open', reason, row.consecutive_opens + 1);
  }

  /** An operator's change; it wins over whatever state the breaker is in. */
  async operate(action: 'open' | 'close' | 'reset', by: string): Promise<void> {
    const row = await this.read();
    // Closing or resetting returns the breaker to its configured mode; only reset forgets the backoff.
    const to: BreakerState = action === 'open' ? 'forced_open' : this.modeState;
    const { rows } = await this.query<{ epoch: string }>(
      `UPDATE circuit_breakers
          SET state = $2, epoch = epoch + 1, since = now(), open_until = NULL, trial_owner = NULL,
              trial_until = NULL, trials_issued = 0, reason = $3,
              consecutive_opens = CASE WHEN $4 THEN 0 ELSE consecutive_opens END
        WHERE name = $1
        RETURNING epoch`,
      [this.name, to, `${action} by ${by}`, action === 'reset'],
    );
    if (rows[0]) {
      await this.query(`DELETE FROM circuit_breaker_calls WHERE name = $1 AND epoch < $2`, [
        this.name,
        rows[0].epoch,
      ]);
    }
    const verb = action === 'open' ? 'forced open' : action === 'close' ? 'closed' : 'reset';
    this.emit(row.state, to, `${verb} by ${by}`);
  }

  /** The shared state, and the totals of its window, as `greenlight breakers` shows them. */
  async view(): Promise<Omit<BreakerView, 'name' | 'inFlight'>> {
    const row = await this.read();
    const totals = await this.totals(row.epoch, row.state === 'half_open' ? null : this.settings.window);
    return {
      state: row.state,
      since: row.since.toISOString(),
      retryAfterMs: this.retryAfterMsOf(row),
      ...totals,
    };
  }

  async retryAfterMs(): Promise<number> {
    return this.retryAfterMsOf(await this.read());
  }

  private retryAfterMsOf(row: Row): number {
    if (row.state === 'open') return Math.max(0, Math.round(row.open_ms_left ?? 0));
    if (row.state === 'forced_open') return Math.min(this.settings.waitDurationMs, FORCED_OPEN_RETRY_MS);
    return 0;
  }

  private async read(): Promise<Row> {
    if (!this.isKnown) {
      // The configuration decides whether a breaker judges at all: a row left disabled or
      // metrics-only by an earlier configuration follows this one (open states are left alone).
      await this.query(
        `INSERT INTO circuit_breakers (name, state) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, epoch = circuit_breakers.epoch + 1, since = now()
          WHERE circuit_breakers.state IN ('closed', 'disabled', 'metrics_only')
            AND circuit_breakers.state <> EXCLUDED.state`,
        [this.name, this.modeState],
      );
      this.isKnown = true;
    }
    let row = await this.select();
    if (!row) {
      this.isKnown = false;
      return this.read();
    }
    if (row.state === 'half_open' && (row.trial_ms_left ?? 0) <= 0) {
      await this.endTrialLease(row);
      row = (await this.select()) ?? row;
    }
    this.onState?.({
      state: row.state,
      since: row.since.getTime(),
      openUntil: this.clock() + (row.open_ms_left ?? 0),
      consecutiveOpens: row.consecutive_opens,
    });
    return row;
  }

  private async select(): Promise<Row | undefined> {
    const { rows } = await this.query<Row>(
      `SELECT state, epoch::text AS epoch, since, consecutive_opens, trial_owner, trials_issued,
              EXTRACT(EPOCH FROM (open_until - now())) * 1000 AS open_ms_left,
              EXTRACT(EPOCH FROM (trial_until - now())) * 1000 AS trial_ms_left
         FROM circuit_breakers WHERE name = $1`,
      [this.name],
    );
    const row = rows[0];
    return row && { ...row, open_ms_left: num(row.open_ms_left), trial_ms_left: num(row.trial_ms_left) };
  }

  /**
   * The trial lease is half-open's time limit: once it is over the breaker is open, as of the
   * lease's end, whether or not a call comes; the trials' late results belong to the old epoch.
   */
  private async endTrialLease(row: Row): Promise<void> {
    const consecutiveOpens = row.consecutive_opens + 1;
    const reason = 'no trial result before the trial lease ended';
    const { rowCount } = await this.query(
      `UPDATE circuit_breakers
          SET state = 'open', epoch = epoch + 1, since = COALESCE(trial_until, now()),
              consecutive_opens = $3,
              open_until = COALESCE(trial_until, now()) + $4 * interval '1 millisecond',
              trial_owner = NULL, trial_until = NULL, trials_issued = 0, reason = $5
        WHERE name = $1 AND epoch = $2 AND state = 'half_open'
          AND (trial_until IS NULL OR trial_until <= now())`,
      [this.name, row.epoch, consecutiveOpens, openPeriodMs(this.settings, consecutiveOpens), reason],
    );
    if (rowCount) {
      this.emit('half_open', 'open', reason);
      await this.forget(row.epoch);
    }
  }

  /** The calls of one state: in a window of time or count, or all of them (a trial). */
  private async totals(
    epoch: string,
    window: BreakerSettings['window'] | null,
  ): Promise<{ calls: number; failures: number; slow: number }> {
    const recent =
      window === null
        ? `SELECT failed, slow FROM circuit_breaker_calls WHERE name = $1 AND epoch = $2`
        : window.type === 'time'
          ? `SELECT failed, slow FROM circuit_breaker_calls
              WHERE name = $1 AND epoch = $2 AND at > now() - $3 * interval '1 second'`
          : `SELECT failed, slow FROM circuit_breaker_calls
              WHERE name = $1 AND epoch = $2 ORDER BY at DESC LIMIT $3`;
    const { rows } = await this.query<{ calls: string; failures: string; slow: string }>(
      `SELECT count(*) AS calls, count(*) FILTER (WHERE failed) AS failures, count(*) FILTER (WHERE slow) AS slow
         FROM (${recent}) AS w`,
      window === null ? [this.name, epoch] : [this.name, epoch, window.size],
    );
    const r = rows[0]!;
    return { calls: Number(r.calls), failures: Number(r.failures), slow: Number(r.slow) };
  }

  /** Drops calls that have left the window, and those of states that are over. */
  private async prune(epoch: string): Promise<void> {
    const { window } = this.settings;
    if (window.type === 'time') {
      await this.query(
        `DELETE FROM circuit_breaker_calls
          WHERE name = $1 AND (epoch < $2 OR at < now() - $3 * interval '1 second')`,
        [this.name, epoch, window.size],
      );
    } else {
      await this.query(
        `DELETE FROM circuit_breaker_calls
          WHERE name = $1 AND (epoch < $2 OR at < (
            SELECT at FROM circuit_breaker_calls
             WHERE name = $1 AND epoch = $2 ORDER BY at DESC OFFSET $3 LIMIT 1))`,
        [this.name, epoch, window.size],
      );
    }
  }

  /**
   * Moves the shared state from `from` at `epoch`; only the first worker to try succeeds. Trials
   * judged after their lease ended move nothing: the breaker is open as of the lease's end.
   */
  private async transition(
    epoch: string,
    from: BreakerState,
    to: BreakerState,
    reason: string,
    consecutiveOpens: number,
  ): Promise<void> {
    const openMs = to === 'open' ? openPeriodMs(this.settings, consecutiveOpens) : 0;
    const { rowCount } = await this.query(
      `UPDATE circuit_breakers
          SET state = $4, epoch = epoch + 1, since = now(), consecutive_opens = $5,
              open_until = CASE WHEN $4 = 'open' THEN now() + $6 * interval '1 millisecond' END,
              trial_owner = NULL, trial_until = NULL, trials_issued = 0, reason = $7
        WHERE name = $1 AND epoch = $2 AND state = $3
          AND (state <> 'half_open' OR trial_until > now())`,
      [this.name, epoch, from, to, consecutiveOpens, openMs, reason],
    );
    if (rowCount) {
      this.emit(from, to, reason);
      await this.forget(epoch);
    }
  }

  /** The window of a state that is over is history. */
  private async forget(epoch: string): Promise<void> {
    await this.query(`DELETE FROM circuit_breaker_calls WHERE name = $1 AND epoch <= $2`, [this.name, epoch]);
  }

  private reject(state: BreakerState, retryAfterMs: number): CircuitOpenError {
    for (const l of this.listeners) l.onOutcome?.(this.name, 'rejected', 0);
    return CircuitOpenError.of(this.name, state, retryAfterMs);
  }

  private emit(from: BreakerState, to: BreakerState, reason: string): void {
    for (const l of this.listeners)
      l.onTransition?.({ breaker: this.name, from, to, at: this.clock(), reason });
  }
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
