import { condition, patched } from '@temporalio/workflow';
import type { WindowWait } from '../../shared/release';
import { quick } from '../common/proxies';
import { Patches } from './patches';
import { Ending } from './run';
import type { Run } from './run';

const nowIso = (): string => new Date().toISOString();

/**
 * How long a waiting release sleeps before it reads the calendar again: a freeze lifted, moved or
 * added in the worker's configuration meanwhile is seen within this.
 */
export const WINDOW_RECHECK_MS = 60 * 60_000;

/**
 * Waits until the target is open for releases (in a maintenance window, in no freeze that blocks
 * releases), by the worker's configuration as it is at each look: before anything is deployed, and
 * again before cutover (an approval may have taken the release into a freeze). The release waits
 * durably (stage `waiting_for_window`) and goes by itself when the target opens, unless the target
 * refuses releases while closed; an approved override lets it go at once. An abort ends the wait.
 * A rollback never passes here.
 */
export async function awaitWindow(run: Run, moment: WindowWait['moment']): Promise<void> {
  if (!patched(Patches.calendarGate)) return;
  const { release, settings } = run;
  const { target } = release.status;
  for (;;) {
    if (release.isWindowOverridden) {
      if (release.stage === 'waiting_for_window') await recordOverride(run);
      return;
    }
    const gate = await quick.calendarGate.executeWithOptions({ summary: `is ${target} open for releases` }, [
      { target, action: 'release', at: nowIso() },
    ]);
    if (gate.closedReason === null) {
      // Open: an override sent from now on has nothing to override.
      release.leaveWindow();
      return;
    }
    const closed = `${target} is closed: ${gate.closedReason}`;
    if (gate.onClosedWindow === 'refuse') {
      const next = gate.nextAllowed ? `; it opens at ${gate.nextAllowed}` : '';
      throw new Ending('failed', `${closed}, and it refuses releases while closed${next}`);
    }
    if (gate.nextAllowed === null) {
      throw new Ending(
        'failed',
        `${closed}, and it does not open within the coming 400 days; check its maintenanceWindows and freezes`,
      );
    }
    const wait = release.status.window;
    // A new reason or time is a new entry in the history and the CMDB; a look that finds the
    // calendar unchanged is not.
    if (
      release.stage !== 'waiting_for_window' ||
      wait?.goesAt !== gate.nextAllowed ||
      wait.reason !== gate.closedReason
    ) {
      release.waitForWindow(
        { reason: gate.closedReason, goesAt: gate.nextAllowed, moment, since: nowIso() },
        settings.approval,
      );
      await run.journal.enter(
        'waiting_for_window',
        `${closed}; goes at ${gate.nextAllowed} (${moment})`,
        [],
        `${target} to open at ${gate.nextAllowed} (${gate.closedReason}), or an approved override`,
      );
    }
    const untilOpen = Math.max(Date.parse(gate.nextAllowed) - Date.now(), 1_000);
    await condition(() => release.isWindowOverridden, Math.min(untilOpen, WINDOW_RECHECK_MS), {
      summary: `wait for ${target} to open at ${gate.nextAllowed}`,
    });
  }
}

/** Records an accepted override where the release's changes are: the history and the CMDB. */
export async function recordOverride(run: Run): Promise<void> {
  const override = run.release.status.windowOverride;
  if (!override) return;
  await run.journal.record(
    'window_override',
    `let go while closed (${override.closedReason}) by ${override.approver}: ${override.reason}`,
  );
}
