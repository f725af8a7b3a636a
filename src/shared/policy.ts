import { z } from 'zod';

/**
 * A promotion policy: a fact name, or `all` / `any` / `not` over policies.
 * Facts are booleans such as `tests_passed`, `approval_obtained`, `maintenance_window_open`.
 */
export type Policy = string | { all: Policy[] } | { any: Policy[] } | { not: Policy };

export const FactName = z
  .string()
  .max(100, 'a fact name has at most 100 characters')
  .regex(/^[a-z][a-z0-9_]*$/, 'a fact name is lower_snake_case, e.g. tests_passed');

/** How deep `all`, `any` and `not` may nest: far more than a person writes, far less than a stack holds. */
export const MAX_POLICY_DEPTH = 32;

const PolicyTree: z.ZodType<Policy> = z.lazy(() =>
  z.union([
    FactName,
    z.strictObject({ all: z.array(PolicyTree).min(1).max(100) }),
    z.strictObject({ any: z.array(PolicyTree).min(1).max(100) }),
    z.strictObject({ not: PolicyTree }),
  ]),
);

/** A policy; its depth is measured first, without recursion, so no input can overflow the stack. */
export const Policy: z.ZodType<Policy> = z
  .unknown()
  .superRefine((value, ctx) => {
    if (isDeeperThan(value, MAX_POLICY_DEPTH)) {
      ctx.addIssue({ code: 'custom', message: `a policy nests at most ${MAX_POLICY_DEPTH} levels deep` });
    }
  })
  .pipe(PolicyTree);

/**
 * Whether `all`, `any` and `not` nest more than `max` levels in `value`: objects count, the arrays
 * of `all` and `any` do not (an explicit stack, no recursion).
 */
function isDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== 'object' || item === null) continue;
    const level = Array.isArray(item) ? depth : depth + 1;
    if (level > max) return true;
    for (const child of Object.values(item)) stack.push([child, level]);
  }
  return false;
}

export type Facts = Record<string, boolean>;

/** The facts a release knows when it evaluates its promotion policy. */
export const RELEASE_FACTS = {
  tests_passed: 'every integration check that ran passed',
  slow_scans_skipped: 'the release was started with skipSlowScans',
  approval_obtained: "the target's required number of distinct approvals has been given",
  maintenance_window_open: "now is inside one of the target's maintenance windows (always, when it has none)",
  first_release: 'nothing was live on the target before this release',
  promoted: "the artifact completed a release on the target's promotion.from, and was not rolled back there",
  soaked: 'and stayed live there at least promotion.soak',
} as const;

/** The facts each interval of baking yields, for a target's `rollbackPolicy`. */
export const ROLLBACK_FACTS = {
  health_check_failed: "green's health check failed",
  error_threshold_exceeded: 'a metric query crossed its bound (for its `for`)',
} as const;

export const DEFAULT_ROLLBACK_POLICY: Policy = { any: ['health_check_failed', 'error_threshold_exceeded'] };

/** The facts of a promotion rule. */
export const PROMOTION_FACTS = ['promoted', 'soaked'] as const;

/**
 * The policy a target enforces: with a promotion rule, its own policy and `promoted` and `soaked`,
 * unless the policy names either fact itself (then it says how they count, e.g. `any: [soaked,
 * approval_obtained]`).
 */
export function effectivePolicy(policy: Policy, hasPromotion: boolean): Policy {
  if (!hasPromotion) return policy;
  const named = policyFacts(policy);
  if (PROMOTION_FACTS.some((f) => named.includes(f))) return policy;
  return { all: [policy, ...PROMOTION_FACTS] };
}

/** The outcome of evaluating a policy: a value, never an exception. */
export interface PolicyDecision {
  allowed: boolean;
  /** Human-readable trace, e.g. `all(tests_passed ✓, approval_obtained ✗) ✗`. */
  explanation: string;
  /** Facts the policy names that are not known; an unknown fact counts as false. */
  unknownFacts: string[];
}

export function evaluatePolicy(policy: Policy, facts: Facts): PolicyDecision {
  const unknownFacts = new Set<string>();
  const visit = (p: Policy): { allowed: boolean; text: string } => {
    if (typeof p === 'string') {
      if (!(p in facts)) unknownFacts.add(p);
      const allowed = facts[p] === true;
      return { allowed, text: `${p} ${mark(allowed)}` };
    }
    if ('all' in p) {
      const parts = p.all.map(visit);
      const allowed = parts.every((r) => r.allowed);
      return { allowed, text: `all(${parts.map((r) => r.text).join(', ')}) ${mark(allowed)}` };
    }
    if ('any' in p) {
      const parts = p.any.map(visit);
      const allowed = parts.some((r) => r.allowed);
      return { allowed, text: `any(${parts.map((r) => r.text).join(', ')}) ${mark(allowed)}` };
    }
    const inner = visit(p.not);
    return { allowed: !inner.allowed, text: `not(${inner.text}) ${mark(!inner.allowed)}` };
  };
  const { allowed, text } = visit(policy);
  return { allowed, explanation: text, unknownFacts: [...unknownFacts].sort() };
}

/** The fact names a policy mentions. */
export function policyFacts(policy: Policy): string[] {
  const names = new Set<string>();
  // An explicit stack, and whatever is not a policy skipped: the configuration's own checks may look
  // at a policy that its schema refused (zod goes on), nested however deep.
  const stack: unknown[] = [policy];
  while (stack.length) {
    const p = stack.pop();
    if (typeof p === 'string') names.add(p);
    if (typeof p !== 'object' || p === null || Array.isArray(p)) continue;
    const node = p as Record<string, unknown>;
    for (const list of [node.all, node.any]) if (Array.isArray(list)) for (const q of list) stack.push(q);
    if ('not' in node) stack.push(node.not);
  }
  return [...names].sort();
}

function mark(allowed: boolean): string {
  return allowed ? '✓' : '✗';
}
