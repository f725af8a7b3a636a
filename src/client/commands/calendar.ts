import { Option } from 'commander';
import { targetSettings } from '../../config/resolve';
import { closedReason, nextAllowed, upcoming } from '../../shared/calendar';
import type { CalendarEntry } from '../../shared/calendar';
import { TargetName } from '../../shared/release';
import type { TargetSettings } from '../../shared/target';
import { GreenlightError } from '../errors';
import { positiveInt } from './arguments';
import type { CommandGroup } from './context';

/** What `calendar` shows of one target. */
export interface TargetCalendar {
  target: string;
  /** True when the target has no windows: outside its freezes, it is always open. */
  isAlwaysOpen: boolean;
  /** Why a release may not go now (a freeze, outside every window), or null when it may. */
  closedNow: string | null;
  /** When a release may go next (now when open); null when not within the horizon. */
  releasesGoAt: string | null;
  /** What a release that comes while it is closed does. */
  onClosedWindow: 'wait' | 'refuse';
  entries: CalendarEntry[];
}

/** `greenlight calendar`: the coming maintenance windows and freezes of each target, on their own clocks. */
export const calendarCommands: CommandGroup = (program, cli) => {
  program
    .command('calendar')
    .description(
      "the coming maintenance windows and freezes of each target (or one), in each one's time zone, and whether releases may go now",
    )
    .option('--target <env>', 'one target')
    .addOption(new Option('--days <n>', 'how far ahead').default(14).argParser(positiveInt))
    .option('--json', 'print JSON', false)
    .action((o: { target?: string; days: number; json: boolean }) => {
      const { config } = cli.settings();
      const names = Object.keys(config.targets);
      if (o.target !== undefined) {
        if (!TargetName.safeParse(o.target).success || !names.includes(o.target)) {
          throw new GreenlightError(
            `unknown target ${JSON.stringify(o.target.slice(0, 60))}; configured targets: ${names.join(', ')}`,
            'invalid_input',
          );
        }
      }
      const now = new Date();
      const calendars = (o.target ? [o.target] : names).map((target) =>
        targetCalendar(targetSettings(config, target)!, now, o.days),
      );
      cli.print(o.json, calendars, formatCalendars(calendars, o.days));
    });
};

/** A target's calendar at `now`: its windows and freezes (its own and the global ones). */
export function targetCalendar(settings: TargetSettings, now: Date, days: number): TargetCalendar {
  const windows = settings.maintenanceWindows;
  const freezes = settings.freezes ?? [];
  const closedNow = closedReason(windows, freezes, 'release', now);
  const next = closedNow ? nextAllowed(windows, freezes, 'release', now) : now;
  return {
    target: settings.name,
    isAlwaysOpen: windows.length === 0,
    closedNow,
    releasesGoAt: next?.toISOString() ?? null,
    onClosedWindow: settings.onClosedWindow ?? 'wait',
    entries: upcoming(windows, freezes, now, days),
  };
}

export function formatCalendars(calendars: readonly TargetCalendar[], days: number): string {
  const lines: string[] = [];
  for (const c of calendars) {
    const state = !c.closedNow
      ? 'open now'
      : `closed now (${c.closedNow}); ${
          c.onClosedWindow === 'refuse'
            ? 'releases are refused'
            : c.releasesGoAt
              ? `releases wait until ${c.releasesGoAt}`
              : 'releases wait, and it does not open within 400 days'
        }`;
    lines.push(
      `${c.target}: ${state}${c.isAlwaysOpen ? ', no maintenance windows' : ''}; the next ${days} days:`,
    );
    if (c.entries.length === 0) lines.push('  (no windows or freezes)');
    for (const e of c.entries) {
      const what = e.kind === 'freeze' ? `freeze ${e.name}, blocks ${(e.blocks ?? []).join(', ')}` : e.name;
      lines.push(`  ${e.start} → ${e.end}  ${what}`);
    }
  }
  return lines.join('\n');
}
