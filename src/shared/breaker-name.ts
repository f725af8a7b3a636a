import { z } from 'zod';

/** The dependencies a worker guards with circuit breakers. */
export const BREAKER_KINDS = ['infra', 'dns', 'checks', 'cmdb', 'artifacts', 'notify', 'prometheus'] as const;
export type BreakerKind = (typeof BREAKER_KINDS)[number];

/** Kinds with one breaker per target (per webhook, for `notify`); the others have one per worker. */
type PerTargetKind = 'infra' | 'dns' | 'notify';
const PER_TARGET_KINDS: readonly BreakerKind[] = ['infra', 'dns', 'notify'];

/**
 * A breaker's name as operators, metrics and the configuration know it: `<kind>:<target>` for a
 * per-target dependency (`dns:prod`), the kind alone for the others (`checks`, `cmdb`). Made by
 * `breakerName` and read by `parseBreakerName`, never split by hand.
 */
export type BreakerName = `${PerTargetKind}:${string}` | Exclude<BreakerKind, PerTargetKind>;

/** The breaker of a per-target dependency, or of a worker-wide one. */
export function breakerName(kind: PerTargetKind, target: string): BreakerName;
export function breakerName(kind: Exclude<BreakerKind, PerTargetKind>): BreakerName;
export function breakerName(kind: BreakerKind, target?: string): BreakerName {
  return (target === undefined ? kind : `${kind}:${target}`) as BreakerName;
}

/**
 * What a name says: its kind, and the target after a `:`. A kind alone (`dns`) is what the
 * configuration uses for every breaker of that kind. Null when it is not a kind, or the target is
 * not a name.
 */
export function parseBreakerName(name: string): { kind: BreakerKind; target: string | null } | null {
  const colon = name.indexOf(':');
  const kind = (colon < 0 ? name : name.slice(0, colon)) as BreakerKind;
  if (!BREAKER_KINDS.includes(kind)) return null;
  if (colon < 0) return { kind, target: null };
  const target = name.slice(colon + 1);
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(target) ? { kind, target } : null;
}

/** Whether a name is one breaker's: a per-target kind with its target, or a worker-wide kind alone. */
export function isBreakerName(name: string): name is BreakerName {
  const parsed = parseBreakerName(name);
  return parsed !== null && PER_TARGET_KINDS.includes(parsed.kind) === (parsed.target !== null);
}

/** One breaker's name (`dns:prod`, `checks`), as activities and the admin endpoint take it. */
export const BreakerNameSchema = z.custom<BreakerName>(
  (value) => typeof value === 'string' && value.length <= 100 && isBreakerName(value),
  'a breaker name: infra:<target>, dns:<target>, checks or cmdb',
);

/** A key of the breakers' configuration: a kind (`dns`), or a kind and a target (`dns:prod`). */
export const BreakerConfigKey = z
  .string()
  .max(100)
  .refine(
    (name) => parseBreakerName(name) !== null,
    'infra, dns, cmdb, checks, artifacts, notify or prometheus, optionally :<target> (:<webhook> for notify)',
  );
