import { Option } from 'commander';
import { upcoming } from '../../shared/calendar';
import type { CalendarEntry } from '../../shared/calendar';
import { TargetName } from '../../shared/release';
import { GreenlightError } from '../errors';
import { positiveInt } from './arguments';
import type { CommandGroup } from './context';

/** What `calendar` shows of one target. */
export interface TargetCalendar {
  target: string;
  /** True when the target has no windows: it is always open. */
  isAlwaysOpen: boolean;
  entries: CalendarEntry[];
}

/** `greenlight calendar`: the coming maintenance windows of each target, on their own clocks. */
export const calendarCommands: CommandGroup = (program, cli) => {
  program
    .command('calendar')
    .description("the coming maintenance windows of each target (or one), in each window's time zone")
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
      const calendars: TargetCalendar[] = (o.target ? [o.target] : names).map((target) => {
        const windows = config.targets[target]!.maintenanceWindows;
        return { target, isAlwaysOpen: windows.length === 0, entries: upcoming(windows, [], now, o.days) };
      });
      cli.print(o.json, calendars, formatCalendars(calendars, o.days));
    });
};

export function formatCalendars(calendars: readonly TargetCalendar[], days: number): string {
  const lines: string[] = [];
  for (const c of calendars) {
    lines.push(
      `${c.target}${c.isAlwaysOpen ? ': always open (no maintenance windows)' : `: the next ${days} days`}`,
    );
    for (const e of c.entries) lines.push(`  ${e.start} → ${e.end}  ${e.name}`);
  }
  return lines.join('\n');
}
