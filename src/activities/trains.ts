import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { FailureTypes } from '../shared/messages';
import { ServiceName, TargetName, TrainId, Version } from '../shared/release';
import type { CheckResult, TestReport } from '../shared/release';
import { orderProblem, TRAIN_STAGES, TrainEdge, TrainPartName } from '../shared/train';
import { formatIssues } from '../config/errors';
import type { TrainManifestRecord, TrainMember } from '../shared/train';
import { targetSettings } from '../config/resolve';
import type { Config } from '../config/schema';
import { skippedSlowCheck } from '../providers/checks/types';
import type { CommandCheck } from '../providers/checks/types';
import { ArtifactDigest, Hostname } from './schemas';
import { parseInput } from './failures';
import type { ActivityContext } from './guard';

const Green = z.strictObject({ service: ServiceName, version: Version, endpoint: z.url().max(2000) });

/** A train's manifest as the CMDB keeps it. */
const StoredManifest = z
  .strictObject({
    services: z
      .array(z.strictObject({ service: ServiceName, version: Version, digest: ArtifactDigest.nullable() }))
      .min(1)
      .max(20),
    after: z.array(TrainEdge).max(200),
  })
  .refine((m) => orderProblem(m.services, m.after) === null, 'its order is not a valid cutover order');

/** `GREENLIGHT_GREEN_<SERVICE>_URL`: a service name in upper case, `-` as `_`. */
export const greenVariable = (service: string): string =>
  `GREENLIGHT_GREEN_${service.toUpperCase().replaceAll('-', '_')}_URL`;

/** What a release train asks of the worker: its parts by name, its releases' statuses, its checks and final action. */
export function createTrainActivities({ deps, guarded }: ActivityContext) {
  const { config } = deps;
  const trains = config.trains;
  const refuse = (message: string) =>
    ApplicationFailure.create({ type: FailureTypes.invalidInput, message, nonRetryable: true });

  return {
    /**
     * The cross-service checks and final action a train names, as this worker's configuration
     * defines them: all checks when it names none; an unknown name fails the train before anything
     * is deployed.
     */
    async trainParts(input: unknown): Promise<{ checks: string[]; finalAction: string | null }> {
      const { checks, finalAction } = parseInput(
        z.strictObject({
          checks: z.array(TrainPartName).max(20).optional(),
          finalAction: TrainPartName.optional(),
        }),
        input,
      );
      const known = trains.checks.map((c) => c.name);
      const unknown = (checks ?? []).filter((name) => !known.includes(name));
      if (unknown.length) {
        throw refuse(
          `unknown cross-service check${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; the worker's trains.checks are ${known.join(', ') || 'none'}`,
        );
      }
      if (finalAction && !Object.hasOwn(trains.actions, finalAction)) {
        throw refuse(
          `unknown final action ${finalAction}; the worker's trains.actions are ${Object.keys(trains.actions).join(', ') || 'none'}`,
        );
      }
      return { checks: checks ?? known, finalAction: finalAction ?? null };
    },

    /** The train's releases as Temporal knows them now (their `status` queries). */
    async trainMembers(
      input: unknown,
    ): Promise<{ members: Record<string, Omit<TrainMember, 'service' | 'version'>> }> {
      const { releaseIds } = parseInput(
        z.strictObject({ releaseIds: z.array(z.string().min(1).max(300)).min(1).max(20) }),
        input,
      );
      const members: Record<string, Omit<TrainMember, 'service' | 'version'>> = {};
      for (const releaseId of releaseIds) {
        const status = await deps.releaseStatus?.(releaseId);
        members[releaseId] = status
          ? {
              releaseId,
              stage: status.stage,
              green: status.green
                ? { hostname: Hostname.parse(status.green.hostname), endpoint: status.green.endpoint }
                : null,
              artifact: status.artifact
                ? { uri: status.artifact.uri, digest: ArtifactDigest.parse(status.artifact.digest) }
                : null,
              testsPassed: status.tests ? status.tests.passed : null,
              replaces: status.previous?.version ?? null,
              promotion: status.promotion
                ? {
                    promoted: status.promotion.promoted,
                    soaked: status.promotion.soaked,
                    explanation: status.promotion.explanation,
                  }
                : null,
              // On its way back, why: the note of the stage it entered.
              reason: status.reason ?? status.history.at(-1)?.note ?? null,
            }
          : {
              releaseId,
              stage: 'not_started',
              green: null,
              artifact: null,
              testsPassed: null,
              replaces: null,
              promotion: null,
              reason: null,
            };
      }
      return { members };
    },

    /**
     * The cross-service checks against every green together: each command gets every green's URL
     * (`GREENLIGHT_GREEN_<SERVICE>_URL`), the train (`GREENLIGHT_TRAIN`) and the target.
     */
    async runTrainChecks(input: unknown): Promise<TestReport> {
      const {
        trainId,
        target,
        checks: names,
        skipSlowScans,
        greens,
      } = parseInput(
        z.strictObject({
          trainId: TrainId,
          target: TargetName,
          checks: z.array(TrainPartName).max(20),
          skipSlowScans: z.boolean(),
          greens: z.array(Green).min(1).max(20),
        }),
        input,
      );
      const startedAt = new Date().toISOString();
      const env = trainEnv(trainId, target, greens);
      const results: CheckResult[] = [];
      for (const name of names) {
        const configured = trains.checks.find((c) => c.name === name);
        if (!configured) throw refuse(`unknown cross-service check ${name}`);
        const check: CommandCheck = {
          kind: 'command',
          name,
          command: configured.command,
          timeoutMs: configured.timeout,
          slow: configured.slow,
        };
        if (check.slow && skipSlowScans) {
          results.push(skippedSlowCheck(name));
          continue;
        }
        results.push(
          await guarded('checks', `run cross-service check ${name}`, () =>
            deps.checks.run(check, {
              // BASE_URL: the first service's green, for a check written for one service.
              endpoint: greens[0]!.endpoint,
              service: greens[0]!.service,
              version: greens[0]!.version,
              env,
              signal: Context.current().cancellationSignal,
            }),
          ),
        );
      }
      return {
        passed: results.every((r) => r.passed),
        checks: results,
        startedAt,
        finishedAt: new Date().toISOString(),
      };
    },

    /** A train's manifest from the CMDB (what it released, and how it ended), or null. */
    async trainManifest(input: unknown): Promise<TrainManifestRecord | null> {
      const { trainId } = parseInput(z.strictObject({ trainId: TrainId }), input);
      const record = await guarded('cmdb', `read the manifest of ${trainId}`, () => deps.cmdb.train(trainId));
      if (!record) return null;
      // What the CMDB holds is checked like any input before a train acts on it.
      const manifest = StoredManifest.safeParse({ services: record.manifest, after: record.after });
      if (!manifest.success) {
        throw refuse(
          `the CMDB's manifest of ${trainId} is malformed: ${formatIssues(manifest.error.issues)}`,
        );
      }
      return {
        trainId: record.trainId,
        target: record.target,
        services: manifest.data.services,
        after: manifest.data.after,
        configHash: record.configHash,
        outcome: record.outcome,
      };
    },

    /**
     * Records a train's manifest and outcome in the CMDB, with the hash of its target's effective
     * configuration (as this worker has it).
     */
    async recordTrain(input: unknown): Promise<{ configHash: string }> {
      const t = parseInput(
        z.strictObject({
          trainId: TrainId,
          target: TargetName,
          fromTrain: TrainId.nullable(),
          services: z
            .array(
              z.strictObject({ service: ServiceName, version: Version, digest: ArtifactDigest.nullable() }),
            )
            .min(1)
            .max(20),
          after: z.array(TrainEdge).max(200),
          outcome: z.enum(TRAIN_STAGES),
        }),
        input,
      );
      const configHash = targetConfigHash(config, t.target);
      await guarded(
        'cmdb',
        'record train',
        () =>
          deps.cmdb.recordTrain({
            trainId: t.trainId,
            target: t.target,
            fromTrain: t.fromTrain,
            manifest: t.services,
            after: t.after,
            configHash,
            outcome: t.outcome,
            recordedAt: new Date().toISOString(),
          }),
        { notify: false },
      );
      return { configHash };
    },

    /**
     * What a train has decided about one of its releases, from the train itself: whether it let
     * the release cut over (and with which approvals), and whether it committed. A release asks
     * this before acting on a go or a commit, which anyone could have sent.
     */
    async trainDecision(input: unknown): Promise<{
      released: boolean;
      committed: boolean;
      approvals: { approver: string; comment?: string }[];
    }> {
      const { train, releaseId } = parseInput(
        z.strictObject({ train: TrainId, releaseId: z.string().min(1).max(300) }),
        input,
      );
      const status = await deps.trainStatus?.(train);
      const isMember = status?.services.some((m) => m.releaseId === releaseId) === true;
      if (!status || !isMember) return { released: false, committed: false, approvals: [] };
      // A train of the version before these lists did not keep them: its word is taken as given.
      return {
        released: status.released === undefined || status.released.includes(releaseId),
        committed: status.committed === undefined || status.committed,
        approvals: status.approvals.approvedBy.map(({ approver, comment }) => ({
          approver,
          ...(comment ? { comment } : {}),
        })),
      };
    },

    /** Who holds a service's lane on a target (a release or a train), or null. */
    async laneHolder(input: unknown): Promise<{ holder: string | null }> {
      const { service, target } = parseInput(
        z.strictObject({ service: ServiceName, target: TargetName }),
        input,
      );
      return { holder: (await deps.laneHolder?.(service, target))?.releaseId ?? null };
    },

    /** The train's final action, once every service has baked: its failure is reported, not retried. */
    async runTrainAction(input: unknown): Promise<{ passed: boolean; detail: string; output?: string }> {
      const { trainId, target, name, services } = parseInput(
        z.strictObject({
          trainId: TrainId,
          target: TargetName,
          name: TrainPartName,
          services: z
            .array(Green.extend({ digest: ArtifactDigest.nullable() }))
            .min(1)
            .max(20),
        }),
        input,
      );
      const action = Object.hasOwn(trains.actions, name) ? trains.actions[name] : undefined;
      if (!action) throw refuse(`unknown final action ${name}`);
      const env = {
        ...trainEnv(trainId, target, services),
        ...Object.fromEntries(
          services.map((s) => [
            `GREENLIGHT_VERSION_${s.service.toUpperCase().replaceAll('-', '_')}`,
            s.version,
          ]),
        ),
      };
      const result = await deps.checks.run(
        { kind: 'command', name, command: action.command, timeoutMs: action.timeout, slow: false },
        {
          endpoint: services[0]!.endpoint,
          service: services[0]!.service,
          version: services[0]!.version,
          env,
          signal: Context.current().cancellationSignal,
        },
      );
      return {
        passed: result.passed,
        detail: result.detail,
        ...(result.output ? { output: result.output } : {}),
      };
    },
  };
}

/** sha256 of a target's effective settings, as this worker's configuration resolves them. */
export function targetConfigHash(config: Config, target: string): string {
  const settings = targetSettings(config, target) ?? { target };
  return `sha256:${createHash('sha256').update(JSON.stringify(settings)).digest('hex')}`;
}

function trainEnv(
  trainId: string,
  target: string,
  greens: readonly { service: string; endpoint: string }[],
): Record<string, string> {
  return {
    GREENLIGHT_TRAIN: trainId,
    GREENLIGHT_TARGET: target,
    GREENLIGHT_SERVICES: greens.map((g) => g.service).join(','),
    ...Object.fromEntries(greens.map((g) => [greenVariable(g.service), g.endpoint])),
  };
}
