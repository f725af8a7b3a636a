import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { Config } from '../config/schema';
import { serviceChecks, targetSettings, targetZone } from '../config/resolve';
import type { CheckRunner } from '../providers/checks/types';
import type { CmdbProvider, DeploymentItem } from '../providers/cmdb/types';
import type { DnsProvider } from '../providers/dns/types';
import { dnsConflict } from '../providers/errors';
import type { InfraProvider } from '../providers/infra/types';
import { FailureTypes, laneWorkflowId, RELEASE_WORKFLOW } from '../shared/messages';
import type { CheckResult, Deployment, TestReport } from '../shared/release';
import { ServiceName, TargetName, Version, hostnames } from '../shared/release';
import type { TargetSettings } from '../shared/target';
import { isCircuitOpenError } from '../breaker/breaker';
import type { CircuitOpenError } from '../breaker/breaker';
import type { CmdbOutbox } from '../breaker/outbox';
import type { Breakers } from '../breaker/registry';
import type { BreakerNotice } from '../shared/release';
import {
  callProvider,
  circuitOpenFailure,
  parseInput,
  retryDelay,
  retryWhenAllowed,
  verdictOf,
} from './failures';

export interface ActivityDeps {
  config: Config;
  /** The infrastructure provider of a target (targets choose theirs in the configuration). */
  infra: (target: string) => InfraProvider;
  /** The DNS provider of a target (targets choose theirs in the configuration). */
  dns: (target: string) => DnsProvider;
  cmdb: CmdbProvider;
  checks: CheckRunner;
  /** One circuit breaker per dependency: `infra:<target>`, `dns:<target>`, `cmdb`, `checks`. */
  breakers: Breakers;
  /** Where CMDB writes that the CMDB's breaker rejects are kept until it lets calls through. */
  outbox: CmdbOutbox;
  /** Tells a release that a breaker holds it back (a signal); best effort. */
  notify?: (execution: { workflowId: string; runId: string }, notice: BreakerNotice) => Promise<void>;
  /** Counts a health check's result (metrics). */
  onHealthCheck?: (service: string, target: string, passed: boolean) => void;
  /** Counts a fallback taken (metrics). */
  onFallback?: (dependency: string) => void;
  /** What Temporal knows of a release or a lane (the janitor asks whether it has ended). */
  releaseRun?: (releaseId: string) => Promise<ReleaseRun>;
}

/** A release's workflow: running, ended (how and when), or unknown to Temporal. */
export type ReleaseRun =
  { state: 'running' } | { state: 'ended'; status: string; endedAt: string } | { state: 'unknown' };

/** How a release's workflow ends when its own code could not clean up. */
const ABANDONED: readonly string[] = ['terminated', 'timed_out'];

/** A deployment the janitor removed. */
export interface Reclaimed {
  hostname: string;
  target: string;
  releaseId: string;
  /** How the release's workflow ended (`terminated`, `failed`…). */
  releaseEnded: string;
}

/** A breaker of a release's dependencies: `infra:<target>`, `dns:<target>`, `checks` or `cmdb`. */
const DependencyName = z
  .string()
  .regex(/^(?:(?:infra|dns):[a-z][a-z0-9-]{0,31}|checks|cmdb)$/, 'a dependency name');

const Hostname = z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'a DNS host name');
const Zone = z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)*$/, 'a DNS zone');

const DeploymentSchema = z.object({
  service: ServiceName,
  version: Version,
  target: TargetName,
  hostname: Hostname,
  endpoint: z.url(),
});

const ReleaseCoordinates = z.object({ service: ServiceName, target: TargetName, zone: Zone });

const DeployInput = ReleaseCoordinates.extend({
  releaseId: z.string().min(1),
  version: Version,
  ttl: z.number().int().positive(),
});

const TestsInput = z.object({ deployment: DeploymentSchema, skipSlowScans: z.boolean() });

const CutOverInput = ReleaseCoordinates.extend({
  /** Host name the alias must point at now; null when it must not exist. */
  from: Hostname.nullable(),
  /** Host name to point the alias at; null removes the alias. */
  to: Hostname.nullable(),
  ttl: z.number().int().positive(),
  /** Whether the lookup must end at an address; false when restoring a blue whose instance is gone. */
  requireAddress: z.boolean().default(true),
});

const HealthInput = z.object({ deployment: DeploymentSchema });
const TearDownInput = z.object({
  hostname: Hostname,
  target: TargetName,
  /** Tear down only if this release created the deployment (used when green's identity is unknown). */
  ifOwnedBy: z.string().min(1).optional(),
});

const ChangeInput = z.object({
  change: z.object({
    releaseId: z.string().min(1),
    step: z.string().min(1),
    service: ServiceName,
    target: TargetName,
    version: Version,
    stage: z.string(),
    at: z.string(),
    note: z.string().optional(),
  }),
  deployments: z
    .array(
      z.object({
        deployment: DeploymentSchema,
        colour: z.enum(['blue', 'green']),
        status: z.enum(['live', 'candidate', 'terminated', 'torn_down']),
        releaseId: z.string(),
      }),
    )
    .default([]),
});

/** The activities of the release workflow; the worker composes them with real providers. */
export function createActivities(deps: ActivityDeps) {
  const { config, infra, dns, cmdb, checks, breakers, outbox } = deps;
  /** The last breaker notice sent to each release run: one signal per breaker and state, not per attempt. */
  const notified = new Map<string, string>();

  /**
   * Calls a provider through its dependency's breaker. A rejection becomes a retryable CircuitOpen
   * failure retried when the breaker allows a trial, and the release is told what holds it back.
   */
  async function guarded<T>(
    dependency: string,
    what: string,
    call: () => Promise<T>,
    options: { notify: boolean } = { notify: true },
  ): Promise<T> {
    const ctx = Context.current();
    const classify = (e: unknown) =>
      verdictOf(e, ctx.cancellationSignal, ctx.cancellationDetails?.timedOut === true);
    try {
      const result = await callProvider(what, () => breakers.run(dependency, call, classify));
      // The release got past its breakers: a later block is news again.
      const runId = ctx.info.workflowExecution?.runId;
      if (runId) notified.delete(runId);
      return result;
    } catch (e) {
      if (!isCircuitOpenError(e)) {
        // A failure that opened the breaker (a failed trial among them) is retried when the next
        // trial is possible, not on the activity's own backoff.
        const waitMs = await breakers.retryAfterMs(dependency);
        throw waitMs > 0 ? retryWhenAllowed(e, what, retryDelay(waitMs)) : e;
      }
      const delayMs = retryDelay(e.retryAfterMs);
      if (options.notify) await tellRelease(ctx, e, what, delayMs);
      throw circuitOpenFailure(what, e, delayMs);
    }
  }

  /** Tells the release what holds it back: once per breaker and state, not once per attempt. */
  async function tellRelease(
    ctx: Context,
    e: CircuitOpenError,
    what: string,
    delayMs: number,
  ): Promise<void> {
    const { workflowExecution, workflowType } = ctx.info;
    const key = `${e.breaker} ${e.state}`;
    if (!deps.notify || !workflowExecution || workflowType !== RELEASE_WORKFLOW) return;
    if (notified.get(workflowExecution.runId) === key) return;
    if (notified.size >= 10_000) notified.clear();
    notified.set(workflowExecution.runId, key);
    const notice: BreakerNotice = {
      breaker: e.breaker,
      state: e.state === 'disabled' || e.state === 'metrics_only' ? 'closed' : e.state,
      step: what,
      message: e.message,
      retryAt: new Date(Date.now() + delayMs).toISOString(),
    };
    await deps
      .notify(workflowExecution, notice)
      .catch((error: Error) =>
        ctx.log.warn('could not tell the release about the open breaker', { error: error.message }),
      );
  }

  /**
   * Removes one deployment the janitor found abandoned, as a release's tear-down would: only while
   * the same release still owns it, and the CMDB says what happened (best effort: it is a record).
   */
  async function reclaim(target: string, found: Deployment, run: { status: string }): Promise<boolean> {
    const { hostname, releaseId } = found;
    const now = await guarded(
      `infra:${target}`,
      'describe deployment',
      () => infra(target).describe({ hostname }),
      {
        notify: false,
      },
    );
    if (now?.releaseId !== releaseId) return false;
    // Checked again just before: a release of the service started meanwhile may be redeploying it.
    if ((await deps.releaseRun!(laneWorkflowId(found.service, target))).state === 'running') return false;
    // The instance first: DNS leads the janitor to it, so a failed destroy is found again next round.
    await guarded(`infra:${target}`, 'destroy deployment', () => infra(target).destroy({ hostname }), {
      notify: false,
    });
    await guarded(`dns:${target}`, 'remove record', () => dns(target).remove(hostname), { notify: false });
    const at = new Date().toISOString();
    const note = `reclaimed by the janitor: release ${releaseId} ended (${run.status}) without cleaning up`;
    try {
      const row = (await cmdb.deployments(found.service, target)).find((d) => d.hostname === hostname);
      await cmdb.upsertDeployment({
        service: found.service,
        target,
        version: found.version,
        hostname,
        colour: row?.colour ?? 'green',
        status: 'torn_down',
        releaseId: releaseId!,
        updatedAt: at,
      });
      await cmdb.recordChange({
        releaseId: releaseId!,
        step: `janitor:${hostname}`,
        service: found.service,
        target,
        version: found.version,
        stage: 'reclaimed',
        at,
        note,
      });
    } catch (e) {
      Context.current().log.warn('the CMDB did not take the janitor’s record', {
        hostname,
        error: (e as Error).message,
      });
    }
    Context.current().log.warn(note, { hostname, target });
    return true;
  }

  return {
    /**
     * Reclaims what releases that ended without cleaning up (terminated by an operator, or by
     * Temporal) left behind: each deployment with a record in a target's DNS that no alias points
     * at, that a release created, and whose release ended at least `graceMs` ago. Deployments that
     * no release created, live ones, and those of running releases are never touched.
     */
    async reclaimAbandonedDeployments(input: {
      graceMs: number;
    }): Promise<{ reclaimed: Reclaimed[]; checked: number; failed: number }> {
      const { graceMs } = parseInput(z.object({ graceMs: z.number().int().min(0) }), input);
      const releaseRun = deps.releaseRun;
      if (!releaseRun) throw new Error('the janitor needs a Temporal client (releaseRun)');
      const reclaimed: Reclaimed[] = [];
      let checked = 0;
      let failed = 0;
      for (const target of Object.keys(config.targets)) {
        const suffix = `.${target}.${targetZone(config, target)}`;
        const records = (
          await guarded(`dns:${target}`, 'list records', () => dns(target).list(), { notify: false })
        ).filter((r) => r.name.endsWith(suffix));
        const aliased = new Set(records.filter((r) => r.type === 'CNAME').map((r) => r.value));
        for (const record of records) {
          if (record.type === 'CNAME' || aliased.has(record.name)) continue;
          checked++;
          try {
            const found = await guarded(
              `infra:${target}`,
              'describe deployment',
              () => infra(target).describe({ hostname: record.name }),
              { notify: false },
            );
            if (!found?.releaseId) continue; // not a release's: not greenlight's to remove
            const run = await releaseRun(found.releaseId);
            // Only a release whose own code stopped running (terminated, timed out) left it without
            // cleaning up; one that ended any other way decided about it (and said so if it leaked).
            const isAbandoned = run.state === 'ended' && ABANDONED.includes(run.status);
            if (!isAbandoned || Date.now() - Date.parse(run.endedAt) < graceMs) continue;
            // A running release of the service may still need it (blue, kept for a quick rollback).
            if ((await releaseRun(laneWorkflowId(found.service, target))).state === 'running') continue;
            if (!(await reclaim(target, found, run))) continue;
            reclaimed.push({
              hostname: record.name,
              target,
              releaseId: found.releaseId,
              releaseEnded: run.status,
            });
          } catch (e) {
            // One deployment that cannot be examined or removed does not stop the round.
            failed++;
            Context.current().log.warn('the janitor could not reclaim a deployment', {
              hostname: record.name,
              error: (e as Error).message,
            });
          }
        }
      }
      return { reclaimed, checked, failed };
    },

    /**
     * The state of one of a release's breakers, so the release believes a breaker notice only when
     * the breaker is really open (a signal can be sent by anyone allowed to signal).
     */
    async breakerStatus(input: { breaker: string }): Promise<{ state: string; retryAfterMs: number }> {
      const { breaker } = parseInput(z.object({ breaker: DependencyName }), input);
      const view = await breakers.view(breaker);
      return { state: view.state, retryAfterMs: view.retryAfterMs };
    },

    /** The target's rules and durations, read from the worker's configuration. */
    async loadTargetSettings(input: { target: string }): Promise<TargetSettings> {
      const { target } = parseInput(z.object({ target: TargetName }), input);
      const settings = targetSettings(config, target);
      if (!settings) {
        throw ApplicationFailure.create({
          type: FailureTypes.unknownTarget,
          message: `unknown target ${JSON.stringify(target)}; configured targets: ${Object.keys(config.targets).join(', ')}`,
          nonRetryable: true,
        });
      }
      return settings;
    },

    /** The deployment the unsuffixed alias points at (blue), or null on a first release. */
    async resolveLiveDeployment(input: z.input<typeof ReleaseCoordinates>): Promise<Deployment | null> {
      const { service, target, zone } = parseInput(ReleaseCoordinates, input);
      const { alias } = hostnames(service, 'x', target, zone);
      const record = await guarded(`dns:${target}`, 'read alias', () => dns(target).get(alias));
      if (!record) return null;
      if (record.type !== 'CNAME') {
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} is a ${record.type} record (${record.value}); greenlight manages aliases as CNAMEs`,
          nonRetryable: true,
        });
      }
      const live = await guarded(`infra:${target}`, 'describe live deployment', () =>
        infra(target).describe({ hostname: record.value }),
      );
      if (live) {
        if (live.service === service) return live;
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} points at ${record.value}, a deployment of ${live.service}; point the alias at a ${service} deployment or remove it`,
          nonRetryable: true,
        });
      }
      // The alias points at an instance that is gone. If the name is one of this service's on this
      // target, it is blue all the same (the compare-and-swap needs its value); anything else is
      // not greenlight's to replace.
      const isOurs = record.value.startsWith(`${service}-`) && record.value.endsWith(`.${target}.${zone}`);
      if (!isOurs) {
        throw ApplicationFailure.create({
          type: FailureTypes.dnsConflict,
          message: `${alias} points at ${record.value}, which is not a ${service} deployment on ${target}; point the alias at one or remove it`,
          nonRetryable: true,
        });
      }
      Context.current().log.warn('the live deployment is not running; it will be replaced', {
        alias,
        hostname: record.value,
      });
      return {
        service,
        target,
        version: 'unknown',
        hostname: record.value,
        endpoint: `http://${record.value}`,
        isGone: true,
      };
    },

    /** Creates green under its version-suffixed host name and publishes that record. */
    async deployGreen(input: z.input<typeof DeployInput>): Promise<Deployment> {
      const spec = parseInput(DeployInput, input);
      const { green } = hostnames(spec.service, spec.version, spec.target, spec.zone);
      const ctx = Context.current();
      const deployment = await guarded(`infra:${spec.target}`, 'deploy green', () =>
        infra(spec.target).deploy({ ...spec, hostname: green }, ctx.cancellationSignal),
      );
      // WHATWG URL writes an IPv6 host in brackets (`[2001:db8::1]`); the record takes the address.
      const host = new URL(deployment.endpoint).hostname;
      const isIPv6 = host.startsWith('[') && host.endsWith(']');
      const address = isIPv6 ? host.slice(1, -1) : host;
      await guarded(`dns:${spec.target}`, 'publish green record', () =>
        dns(spec.target).upsert({ name: green, type: isIPv6 ? 'AAAA' : 'A', value: address, ttl: spec.ttl }),
      );
      return deployment;
    },

    /** Runs the service's integration checks against green; slow ones are skipped on request. */
    async runIntegrationTests(input: z.input<typeof TestsInput>): Promise<TestReport> {
      const { deployment, skipSlowScans } = parseInput(TestsInput, input);
      const ctx = Context.current();
      const startedAt = new Date().toISOString();
      const results: CheckResult[] = [];
      const run = async () => {
        for (const check of serviceChecks(config, deployment.service).checks) {
          if (check.slow && skipSlowScans) {
            results.push({
              name: check.name,
              passed: true,
              slow: true,
              skipped: true,
              durationMs: 0,
              detail: 'skipped (skipSlowScans)',
            });
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
     * Points the unsuffixed alias from one host name to another, compare-and-swap, and verifies the
     * change with a lookup. A retry after a successful swap finds the alias already changed and only verifies.
     */
    async cutOverAlias(
      input: z.input<typeof CutOverInput>,
    ): Promise<{ alias: string; chain: string[]; previousTtl: number | null }> {
      const { service, target, zone, from, to, ttl, requireAddress } = parseInput(CutOverInput, input);
      const { alias } = hostnames(service, 'x', target, zone);
      const record = await guarded(`dns:${target}`, 'read alias', () => dns(target).get(alias));
      const current = record?.value ?? null;
      if (current !== to) {
        if (current !== from) {
          throw ApplicationFailure.create({
            type: FailureTypes.dnsConflict,
            message: dnsConflict(alias, from, current).message,
            nonRetryable: true,
          });
        }
        await guarded(`dns:${target}`, 'swap alias', () =>
          dns(target).compareAndSwap({ name: alias, type: 'CNAME', expected: from, next: to, ttl }),
        );
      }
      const resolution = await guarded(`dns:${target}`, 'verify alias', () => dns(target).resolve(alias));
      const isVerified =
        to === null
          ? resolution.chain.length === 0 && resolution.address === null
          : resolution.chain[0] === to && (resolution.address !== null || !requireAddress);
      if (!isVerified) {
        throw new ApplicationFailure(
          `lookup of ${alias} returned ${JSON.stringify(resolution)}, expected it to lead to ${to ?? 'nothing'}`,
          FailureTypes.dnsVerification,
        );
      }
      // Resolvers may keep the old answer for its TTL: the caller keeps the old target that long.
      // On a retry after the swap the old TTL is no longer known (null).
      return { alias, chain: resolution.chain, previousTtl: current === to ? null : (record?.ttl ?? null) };
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

    /** Removes a deployment's record and its instances (green on failure, blue after a release). */
    async tearDownDeployment(input: z.input<typeof TearDownInput>): Promise<void> {
      const { hostname, target, ifOwnedBy } = parseInput(TearDownInput, input);
      if (ifOwnedBy) {
        const existing = await guarded(`infra:${target}`, 'describe deployment', () =>
          infra(target).describe({ hostname }),
        );
        if (existing?.releaseId !== ifOwnedBy) {
          Context.current().log.warn('not tearing down a deployment this release did not create', {
            hostname,
            owner: existing?.releaseId ?? null,
          });
          return;
        }
      }
      await guarded(`dns:${target}`, 'remove record', () => dns(target).remove(hostname));
      await guarded(`infra:${target}`, 'destroy deployment', () =>
        infra(target).destroy({ hostname }, Context.current().cancellationSignal),
      );
    },

    /**
     * Records a stage change, and the deployments it touched, in the CMDB. Idempotent. When the
     * CMDB's breaker rejects the write, it is kept in the outbox for later and the release goes on.
     */
    async recordChange(input: z.input<typeof ChangeInput>): Promise<{ deferred: string | null }> {
      const { change, deployments } = parseInput(ChangeInput, input);
      const items: DeploymentItem[] = deployments.map((d) => ({
        service: d.deployment.service,
        target: d.deployment.target,
        version: d.deployment.version,
        hostname: d.deployment.hostname,
        colour: d.colour,
        status: d.status,
        releaseId: d.releaseId,
        updatedAt: change.at,
      }));
      try {
        // No notice to the release: nothing waits on this write.
        await guarded(
          'cmdb',
          'record change',
          async () => {
            await cmdb.recordChange(change);
            for (const item of items) await cmdb.upsertDeployment(item);
          },
          { notify: false },
        );
        return { deferred: null };
      } catch (e) {
        // Rejected by the breaker, or failed and left it open: keep the write for later.
        const isDeferred =
          e instanceof ApplicationFailure &&
          (e.type === FailureTypes.circuitOpen ||
            (!e.nonRetryable && (await breakers.retryAfterMs('cmdb')) > 0));
        if (!isDeferred) throw e;
        const reason = e.message;
        await outbox.add({ change, deployments: items, reason, deferredAt: new Date().toISOString() });
        deps.onFallback?.('cmdb');
        return { deferred: reason };
      }
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
