import { breakerName } from '../../shared/breaker-name';
import { log, patched, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import { BreakerNotice, isTerminalStage } from '../../shared/release';
import { describeFailure } from '../common/failures';
import { Patches } from './patches';
import type { ReleaseState } from './state';

/** States in which a breaker holds calls back. */
const OPEN_STATES: readonly string[] = ['open', 'half_open', 'forced_open'];
/** How many verified breaker notices a release takes; later ones are ignored. */
const MAX_NOTICES = 100;
/** What activities say they were doing when a breaker refused them (`guarded`'s `what`). */
const KNOWN_STEP =
  /^(read alias|describe live deployment|deploy green|publish green record|run check [a-z0-9][a-z0-9 _.-]{0,60}|swap alias|verify alias|check health|remove record|destroy deployment|describe deployment)$/;

const localActs = proxyLocalActivities<Activities>({
  startToCloseTimeout: '5s',
  retry: { maximumAttempts: 2 },
});

const nowIso = (): string => new Date().toISOString();

/**
 * The handler of a release's `breakerNotice` signal, sent by activities whose call a breaker
 * refused; `publish` shows the change.
 */
export function breakerNoticeHandler(
  release: ReleaseState,
  publish: () => void,
  onOpen: (breaker: string, detail: string) => Promise<void> = async () => {},
): (input: unknown) => Promise<void> {
  // Anyone allowed to signal can send a notice: it is believed only for a breaker that holds this
  // release's calls back and that the worker confirms is open, in the worker's words and with its
  // retry time; the sender's text is never shown.
  let isVerifying = false;
  let believed = 0;
  return async (input: unknown): Promise<void> => {
    const notice = BreakerNotice.safeParse(input);
    if (!notice.success || isTerminalStage(release.stage)) return;
    if (!patched(Patches.verifyBreakerNotice)) {
      release.setBlocked(notice.data, nowIso());
      publish();
      return;
    }
    const { breaker } = notice.data;
    const { target } = release.status;
    // The CMDB's breaker never holds a release back: its writes wait in the outbox.
    const ours: readonly string[] = [
      breakerName('infra', target),
      breakerName('dns', target),
      breakerName('checks'),
    ];
    const isOurs = ours.includes(breaker);
    if (!isOurs || isVerifying || believed >= MAX_NOTICES) {
      log.warn('breaker notice ignored', {
        breaker: breaker.slice(0, 100),
        reason: isOurs ? 'one is being checked, or too many' : 'not a breaker that holds this release back',
      });
      return;
    }
    isVerifying = true;
    const stage = release.stage;
    try {
      const actual = await localActs.breakerStatus({ breaker });
      if (!OPEN_STATES.includes(actual.state) || release.stage !== stage) {
        log.warn('breaker notice ignored', { breaker, reason: `the breaker is ${actual.state}` });
        return;
      }
      believed++;
      const state = actual.state as BreakerNotice['state'];
      release.setBlocked(
        {
          breaker,
          state,
          step: KNOWN_STEP.test(notice.data.step) ? notice.data.step : `call ${breaker}`,
          message: `circuit breaker ${breaker} is ${state.replace('_', ' ')}`,
          retryAt: new Date(Date.now() + actual.retryAfterMs).toISOString(),
        },
        nowIso(),
      );
      publish();
      await onOpen(
        breaker,
        `circuit breaker ${breaker} is ${state.replace('_', ' ')} while trying to ${release.status.blockedBy?.step ?? 'call it'}`,
      );
    } catch (e) {
      log.warn('breaker notice not verified', { breaker, error: describeFailure('breaker status', e) });
    } finally {
      isVerifying = false;
    }
  };
}
