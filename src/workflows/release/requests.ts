import {
  APPROVAL_FIELDS,
  ApprovalInput,
  INTERVENTION_FIELDS,
  InterventionInput,
  OVERRIDE_FIELDS,
  OverrideInput,
} from '../../shared/release';
import type { RequestKind } from '../../shared/release';
import { describeIssues, showInvisible } from '../../shared/text';

// The requests people send a release (approve, reject, abort, rollback, go, override): how each is read,
// and how a refusal and an intervention are worded. The rules that judge them are the state's.

/** How a request arrived; `cancel` is a cancellation of the workflow itself. */
export type Via = 'signal' | 'update' | 'cancel';
export type Verdict = { ok: true; message: string } | { ok: false; reason: string };

/** Reads a request's payload; a malformed one is refused with each bad field named. */
export function parseRequest(
  kind: RequestKind,
  raw: unknown,
): { ok: true; data: unknown } | { ok: false; reason: string } {
  const isDecision = kind === 'approve' || kind === 'reject' || kind === 'override';
  const schema = kind === 'override' ? OverrideInput : isDecision ? ApprovalInput : InterventionInput;
  const parsed = schema.safeParse(isDecision ? raw : (raw ?? {}));
  if (parsed.success) return { ok: true, data: parsed.data };
  const fields = kind === 'override' ? OVERRIDE_FIELDS : isDecision ? APPROVAL_FIELDS : INTERVENTION_FIELDS;
  return { ok: false, reason: `invalid ${kind}: ${describeIssues(parsed.error.issues, { fields })}` };
}

export const refused = (reason: string): Verdict => ({ ok: false, reason });

/** The newest refused requests kept in a status. */
export const MAX_REFUSED = 50;

/** Keeps a refused request in a status's list, bounded so a flood of bad requests cannot grow it. */
export function keepRefusal<T>(list: T[], entry: T): void {
  list.push(entry);
  if (list.length > MAX_REFUSED) list.splice(0, list.length - MAX_REFUSED);
}

/** What an accepted abort or rollback says: who asked, and why. */
export function interventionNote(kind: 'abort' | 'rollback', { by, reason }: InterventionInput): string {
  return `${kind} requested${by ? ` by ${by}` : ''}${reason ? `: ${reason}` : ''}`;
}

/** The name a malformed request claims, kept for the audit trail when it is a short plain string. */
export function claimedName(raw: unknown, key: 'approver' | 'by'): string | null {
  const value = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[key] : undefined;
  if (typeof value !== 'string' || value.length > 100) return null;
  return showInvisible(value);
}
