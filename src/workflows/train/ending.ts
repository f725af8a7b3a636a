import { STAGES } from '../../shared/release';
import type { Stage } from '../../shared/release';
import { FailureTypes } from '../../shared/messages';
import { showInvisible } from '../../shared/text';
import { cutoverOrder } from '../../shared/train';
import type { TrainMember, TrainStage } from '../../shared/train';
import { outcome } from '../common/failures';
import { isMemberFailing } from './state';

// How a train ends early, and the small rules about its releases its steps share.

/** How a train ends early: its final stage and the reason people read. */
export class TrainEnding extends Error {
  constructor(
    readonly stage: Extract<TrainStage, 'failed' | 'rolled_back' | 'aborted' | 'rejected' | 'expired'>,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Whether a release has reached `stage` (or gone past it on the way to completing). */
export function hasReached(m: TrainMember, stage: Stage): boolean {
  if (m.stage === 'not_started') return false;
  const order = STAGES as readonly string[];
  return m.stage === 'completed' || (!isMemberFailing(m) && order.indexOf(m.stage) >= order.indexOf(stage));
}

/** A reason a release takes: plain text (no line breaks or invisible characters), at most 900 characters. */
export function plainReason(text: string): string {
  return Array.from(showInvisible(text.replace(/\s+/g, ' ')))
    .slice(0, 900)
    .join('');
}

/** The cutover steps of a valid order (validated with the request). */
export function stepsOf(
  services: readonly { service: string }[],
  after: readonly (readonly [string, string])[],
): string[][] {
  const order = cutoverOrder(
    services.map((s) => s.service),
    after,
  );
  if ('cycle' in order) throw outcome(FailureTypes.invalidInput, `invalid train: the order has a cycle`);
  return order.steps;
}
