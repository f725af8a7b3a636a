import type { ArtifactRef, Deployment, PromotionFacts, ReleaseRequest, Stage } from '../../shared/release';
import type { TargetSettings } from '../../shared/target';
import type { Compensations } from '../common/compensation';
import type { Journal } from './journal';
import type { ReleaseState } from './state';

/** How a release ends before it completes: the final stage and the reason people read. */
export class Ending extends Error {
  constructor(
    readonly stage: Extract<Stage, 'failed' | 'aborted' | 'rejected' | 'expired' | 'rolled_back'>,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'Ending';
  }
}

/** What the steps of one release share. */
export interface Run {
  readonly release: ReleaseState;
  readonly journal: Journal;
  readonly settings: TargetSettings;
  /** The live deployment the release replaces, or null on a first release. */
  readonly blue: Deployment | null;
  /** The deployment the release creates, once deploying has returned it. */
  green: Deployment | null;
  /** The artifact green is deployed from, once resolved. */
  artifact: ArtifactRef | null;
  /** The target's promotion rule's facts of that artifact, once judged (targets with a rule). */
  promotion: PromotionFacts | null;
  /** Green's own host name and the service's alias on the target. */
  readonly names: { readonly green: string; readonly alias: string };
  /** The undo of each step taken, unwound in reverse when the release ends early. */
  readonly undo: Compensations<Ending>;
  /** When blue may go: never before the old alias record's TTL has run out. */
  blueNeededUntil: number;
  /** Green, once the release has tried to tear it down: the CMDB records it torn down. */
  removed: Deployment | null;
  /** Wait before cutover until told to go (a train's release). */
  readonly holdBeforeCutover: boolean;
  /** What the release was started with. */
  readonly request: ReleaseRequest;
}

/** The coordinates of the service's alias that the DNS activities take. */
export const coordinates = (run: Run) => ({
  service: run.release.status.service,
  target: run.release.status.target,
  zone: run.settings.zone,
});
