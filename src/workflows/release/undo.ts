import { log, sleep } from '@temporalio/workflow';
import { FailureTypes } from '../../shared/messages';
import { quick } from '../common/proxies';
import type { Undone } from '../common/compensation';
import { describeFailure, isFailureOfType } from '../common/failures';
import type { Ending, Run } from './run';
import { coordinates } from './run';

/** How often a rollback tries to restore the alias before it gives up and says so. */
const RESTORE_ATTEMPTS = 3;

/**
 * The undo of a cutover: points the alias back at blue (or removes it on a first release). Done
 * when the alias no longer leads to green: restored, never moved, or moved by someone else. Gives
 * up after a few attempts, each of which retries its activity for up to 15 minutes; green is then
 * kept, since tearing it down while the alias may point at it would take the service down.
 */
export async function restoreAlias(run: Run, cause: Ending): Promise<Undone> {
  const green = run.green!;
  const to = run.blue?.hostname ?? null;
  for (let attempt = 1; ; attempt++) {
    try {
      await quick.cutOverAlias.executeWithOptions(
        { summary: `restore ${run.names.alias} → ${to ?? 'nothing'}` },
        [
          {
            ...coordinates(run),
            from: green.hostname,
            to,
            ttl: run.settings.recordTtl,
            // A blue whose instance is gone has no address to verify; the alias is restored all the same.
            requireAddress: !run.blue?.isGone,
          },
        ],
      );
      run.release.setLive(run.blue);
      return { ok: true };
    } catch (e) {
      if (isFailureOfType(e, FailureTypes.dnsConflict)) {
        run.release.setLive(run.blue);
        return { ok: true };
      }
      log.error('restoring the alias failed', { attempt, error: describeFailure('restore', e) });
      if (attempt >= RESTORE_ATTEMPTS) {
        const where = cause.stage === 'rolled_back' ? 'still points' : 'may point';
        return {
          ok: false,
          note: `the alias could not be restored and ${where} at green, which was kept running`,
        };
      }
      await sleep('1m', { summary: `wait before restoring the alias again (attempt ${attempt + 1})` });
    }
  }
}

/**
 * The undo of deploying: removes green. Before green is known (deploying failed or was cancelled
 * on the way) it is removed by name, but only if this release created it.
 */
export async function removeGreen(run: Run, cause: Ending): Promise<Undone> {
  const { release } = run;
  if (release.stage !== 'rolling_back') await run.journal.enter('cleaning_up', cause.reason);
  const green = run.green;
  const leak = green
    ? await tearDown(run, green.hostname)
    : await tearDown(run, run.names.green, release.status.releaseId);
  if (green) {
    run.removed = green;
    if (!leak) release.setGreenTornDown();
  }
  return leak ? { ok: false, note: leak } : { ok: true };
}

/** Removes a deployment; returns what was left behind when that failed, so the outcome can say so. */
export async function tearDown(run: Run, hostname: string, ifOwnedBy?: string): Promise<string | null> {
  try {
    await quick.tearDownDeployment.executeWithOptions({ summary: `tear down ${hostname}` }, [
      { hostname, target: run.release.status.target, ...(ifOwnedBy ? { ifOwnedBy } : {}) },
    ]);
    return null;
  } catch (e) {
    log.error('tear-down failed; the deployment may still run', {
      hostname,
      error: describeFailure('tear-down', e),
    });
    return `tearing down ${hostname} failed (${describeFailure('tear-down', e)}); it may still run`;
  }
}
