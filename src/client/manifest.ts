import { readFile, stat } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ServiceName, TargetName, Version } from '../shared/release';
import { describeIssues } from '../shared/text';
import { MAX_TRAIN_SERVICES, TrainPartName } from '../shared/train';
import type { TrainRequestInput } from '../shared/train';
import { GreenlightError } from './errors';

/** A manifest is a few lines; a file far larger is not one. */
const MAX_MANIFEST_BYTES = 64 * 1024;

/** `ui:api`: ui cuts over after api has baked. */
const AfterPair = z
  .string()
  .max(80)
  .transform((pair, ctx) => {
    const [dependent, dependency, ...rest] = pair.split(':');
    const names = [dependent, dependency].map((n) => ServiceName.safeParse(n));
    if (rest.length || names.some((n) => !n.success)) {
      ctx.addIssue({
        code: 'custom',
        message: `${JSON.stringify(pair)} is not <service>:<service it comes after>`,
      });
      return z.NEVER;
    }
    return [dependent!, dependency!] as [string, string];
  });

/**
 * A train's manifest (`train start --manifest train.yaml`): the services and their versions, the
 * cutover order, the cross-service checks and the final action by name.
 */
export const TrainManifest = z.strictObject({
  target: TargetName.optional(),
  services: z
    .record(ServiceName, Version)
    .refine((s) => Object.keys(s).length >= 1 && Object.keys(s).length <= MAX_TRAIN_SERVICES, {
      message: `1 to ${MAX_TRAIN_SERVICES} services, as service: version`,
    }),
  after: z.array(AfterPair).max(200).default([]),
  checks: z.array(TrainPartName).max(20).optional(),
  finalAction: TrainPartName.optional(),
});
export type TrainManifest = z.output<typeof TrainManifest>;

/** Reads and validates a manifest file; every problem is named with its field. */
export async function readManifest(path: string): Promise<TrainManifest> {
  const size = await stat(path).then(
    (s) => s.size,
    (e: NodeJS.ErrnoException) => {
      throw new GreenlightError(`cannot read the manifest ${path}: ${e.code ?? e.message}`, 'invalid_input');
    },
  );
  if (size > MAX_MANIFEST_BYTES)
    throw new GreenlightError(
      `the manifest ${path} is ${size} bytes; at most ${MAX_MANIFEST_BYTES}`,
      'invalid_input',
    );
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(path, 'utf8'), { maxAliasCount: 10 });
  } catch (e) {
    throw new GreenlightError(
      `the manifest ${path} is not YAML: ${(e as Error).message.split('\n')[0]}`,
      'invalid_input',
    );
  }
  const parsed = TrainManifest.safeParse(raw);
  if (!parsed.success)
    throw new GreenlightError(
      `invalid manifest ${path}: ${describeIssues(parsed.error.issues)}`,
      'invalid_input',
    );
  return parsed.data;
}

/** `api=1f2e3d4` from `--service`. */
export function parseServiceVersion(value: string): { service: string; version: string } {
  const [service, version, ...rest] = value.split('=');
  if (rest.length || !ServiceName.safeParse(service).success || !Version.safeParse(version).success) {
    throw new GreenlightError(
      `--service ${JSON.stringify(value.slice(0, 100))} is not <service>=<version>, e.g. api=1f2e3d4`,
      'invalid_input',
    );
  }
  return { service: service!, version: version! };
}

/** `ui:api` from `--after`. */
export function parseAfter(value: string): [string, string] {
  const parsed = AfterPair.safeParse(value);
  if (!parsed.success)
    throw new GreenlightError(`--after ${parsed.error.issues[0]!.message}`, 'invalid_input');
  return parsed.data;
}

/** A train request from a manifest and the command line's options (which add to the manifest). */
export function trainRequestOf(
  manifest: TrainManifest | null,
  o: {
    target?: string;
    services: string[];
    after: string[];
    checks: string[];
    finalAction?: string;
    skipSlowScans: boolean;
    initiator: string;
    from?: string;
  },
): TrainRequestInput {
  if (o.target && manifest?.target && o.target !== manifest.target) {
    throw new GreenlightError(
      `--target ${o.target} and the manifest's target: ${manifest.target} differ; name one`,
      'invalid_input',
    );
  }
  const target = o.target ?? manifest?.target;
  if (!target)
    throw new GreenlightError('name the target: --target, or target: in the manifest', 'invalid_input');
  const services = [
    ...Object.entries(manifest?.services ?? {}).map(([service, version]) => ({ service, version })),
    ...o.services.map(parseServiceVersion),
  ];
  if (o.from) {
    if (services.length || o.after.length || manifest)
      throw new GreenlightError(
        `--from ${o.from} releases exactly that train's manifest: name no --service, --after or --manifest`,
        'invalid_input',
      );
    return {
      target,
      initiator: o.initiator,
      from: o.from,
      ...(o.checks.length ? { checks: o.checks } : {}),
      ...(o.finalAction ? { finalAction: o.finalAction } : {}),
      skipSlowScans: o.skipSlowScans,
    };
  }
  if (services.length === 0)
    throw new GreenlightError(
      'name the services: --service api=<version> (repeated), or a manifest',
      'invalid_input',
    );
  const checks = o.checks.length ? o.checks : manifest?.checks;
  const finalAction = o.finalAction ?? manifest?.finalAction;
  return {
    target,
    initiator: o.initiator,
    services,
    after: [...(manifest?.after ?? []), ...o.after.map(parseAfter)],
    ...(checks ? { checks } : {}),
    ...(finalAction ? { finalAction } : {}),
    skipSlowScans: o.skipSlowScans,
  };
}
