import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_CONFIG } from '../harness/release';
import { runCli } from './helpers/cli';
import { scheduledAt } from '../src/client/commands/arguments';
import { activeFreeze, isWindowOpen, nextAllowed, upcoming } from '../src/shared/calendar';
import type { ClockSpan, FreezePeriod } from '../src/shared/calendar';
import { Freeze, MaintenanceWindow } from '../src/shared/target';

const at = (iso: string) => new Date(iso);
const berlinNights: ClockSpan = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '22:00',
  end: '02:00',
  timeZone: 'Europe/Berlin',
};

describe('windows on the clock of a time zone', () => {
  it('opens at the same local time in winter and in summer', () => {
    // Winter (UTC+1): 22:30 local is 21:30 UTC. Summer (UTC+2): 22:30 local is 20:30 UTC.
    assert.equal(isWindowOpen([berlinNights], at('2026-01-12T21:30:00Z')), true);
    assert.equal(isWindowOpen([berlinNights], at('2026-01-12T20:30:00Z')), false, '21:30 in Berlin, winter');
    assert.equal(isWindowOpen([berlinNights], at('2026-07-13T20:30:00Z')), true);
    assert.equal(isWindowOpen([berlinNights], at('2026-07-13T19:30:00Z')), false, '21:30 in Berlin, summer');
    // Crossing midnight: Friday's window closes on Saturday at 02:00 local; none opens on Saturday.
    assert.equal(isWindowOpen([berlinNights], at('2026-07-17T23:59:00Z')), true, '01:59 Saturday');
    assert.equal(isWindowOpen([berlinNights], at('2026-07-18T00:00:00Z')), false, '02:00 Saturday');
    assert.equal(isWindowOpen([berlinNights], at('2026-07-18T21:00:00Z')), false, '23:00 Saturday');
  });

  it('opens when the clock jumps over its start (spring forward), and stays open through the repeated hour (fall back)', () => {
    // 29 March 2026 in Berlin: 02:00 CET becomes 03:00 CEST; 02:30 never happens.
    const gap: ClockSpan = { days: ['sun'], start: '02:30', end: '04:00', timeZone: 'Europe/Berlin' };
    assert.equal(isWindowOpen([gap], at('2026-03-29T00:59:00Z')), false, '01:59 CET');
    assert.equal(isWindowOpen([gap], at('2026-03-29T01:00:00Z')), true, '03:00 CEST, right after the jump');
    assert.deepEqual(
      nextAllowed([gap], [], 'release', at('2026-03-29T00:00:00Z')),
      at('2026-03-29T01:00:00Z'),
    );
    // 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:00–03:00 happens twice.
    const twice: ClockSpan = { days: ['sun'], start: '02:00', end: '03:00', timeZone: 'Europe/Berlin' };
    assert.equal(isWindowOpen([twice], at('2026-10-25T00:30:00Z')), true, '02:30 CEST');
    assert.equal(isWindowOpen([twice], at('2026-10-25T01:30:00Z')), true, '02:30 CET, the hour again');
    assert.equal(isWindowOpen([twice], at('2026-10-25T02:00:00Z')), false, '03:00 CET');
  });

  it('finds the next opening across a daylight-saving change', () => {
    // Saturday 28 March 2026, noon UTC: the next window is Monday 22:00 Berlin, now summer time.
    assert.deepEqual(
      nextAllowed([berlinNights], [], 'release', at('2026-03-28T12:00:00Z')),
      at('2026-03-30T20:00:00Z'),
    );
    // Inside a window, now is allowed.
    assert.deepEqual(
      nextAllowed([berlinNights], [], 'release', at('2026-03-30T21:00:00Z')),
      at('2026-03-30T21:00:00Z'),
    );
    assert.deepEqual(nextAllowed([], [], 'release', at('2026-03-30T12:00:00Z')), at('2026-03-30T12:00:00Z'));
  });

  it('refuses a time zone that does not exist, and keeps UTC as the default', () => {
    const bad = MaintenanceWindow.safeParse({
      days: ['mon'],
      start: '22:00',
      end: '23:00',
      timeZone: 'Mars/Olympus',
    });
    assert.equal(bad.success, false);
    assert.match(bad.error!.issues[0].message, /an IANA time zone such as Europe\/Berlin or UTC/);
    const utc = MaintenanceWindow.parse({ days: ['mon'], start: '22:00', end: '23:00' });
    assert.equal(utc.timeZone, 'UTC');
    assert.equal(isWindowOpen([utc], at('2026-01-12T22:30:00Z')), true);
  });
});

describe('freezes', () => {
  const holidays: FreezePeriod = {
    name: 'holidays',
    blocks: ['release'],
    timeZone: 'America/New_York',
    from: '2026-12-24',
    to: '2026-12-26',
  };

  it('block what they name, whole local days, and nothing else', () => {
    assert.equal(
      activeFreeze([holidays], 'release', at('2026-12-24T05:30:00Z'))?.name,
      'holidays',
      '00:30 on the 24th in New York',
    );
    assert.equal(activeFreeze([holidays], 'release', at('2026-12-24T04:30:00Z')), null, '23:30 on the 23rd');
    assert.equal(
      activeFreeze([holidays], 'release', at('2026-12-27T04:59:00Z'))?.name,
      'holidays',
      '23:59 on the 26th',
    );
    assert.equal(
      activeFreeze([holidays], 'release', at('2026-12-27T05:00:00Z')),
      null,
      'midnight after the 26th',
    );
    assert.equal(activeFreeze([holidays], 'maintenance', at('2026-12-25T12:00:00Z')), null);
    assert.deepEqual(
      nextAllowed([], [holidays], 'release', at('2026-12-25T12:00:00Z')),
      at('2026-12-27T05:00:00Z'),
    );
    assert.deepEqual(
      nextAllowed([], [holidays], 'maintenance', at('2026-12-25T12:00:00Z')),
      at('2026-12-25T12:00:00Z'),
    );
  });

  it('recur on their own clock, and with windows the next allowed instant is inside a window and outside every freeze', () => {
    const fridays: FreezePeriod = {
      name: 'no-friday-deploys',
      blocks: ['release'],
      timeZone: 'Europe/Berlin',
      recurring: { days: ['fri'], start: '12:00', end: '23:59' },
    };
    assert.equal(activeFreeze([fridays], 'release', at('2026-07-17T10:00:00Z'))?.name, 'no-friday-deploys');
    // Friday's window (22:00) is frozen until 23:59; it stays open until 02:00 Saturday.
    assert.deepEqual(
      nextAllowed([berlinNights], [fridays], 'release', at('2026-07-17T10:00:00Z')),
      at('2026-07-17T21:59:00Z'),
    );
    // A dated freeze over Tuesday and Wednesday (Berlin): Wednesday night's window is still open at
    // midnight, when the freeze ends.
    const midweek: FreezePeriod = {
      name: 'audit',
      blocks: ['release'],
      timeZone: 'Europe/Berlin',
      from: '2026-12-22',
      to: '2026-12-23',
    };
    assert.deepEqual(
      nextAllowed([berlinNights], [midweek], 'release', at('2026-12-22T12:00:00Z')),
      at('2026-12-23T23:00:00Z'),
    );
  });

  it('are listed with the coming windows in order, for the calendar command', () => {
    const entries = upcoming(
      [berlinNights],
      [
        {
          name: 'audit',
          blocks: ['release'],
          timeZone: 'Europe/Berlin',
          from: '2026-12-22',
          to: '2026-12-23',
        },
      ],
      at('2026-12-21T12:00:00Z'),
      3,
    );
    assert.deepEqual(
      entries.map((e) => [e.kind, e.name, e.start, e.end]),
      [
        [
          'window',
          'window 1 (Europe/Berlin)',
          '2026-12-21T22:00:00.000+01:00',
          '2026-12-22T02:00:00.000+01:00',
        ],
        ['freeze', 'audit', '2026-12-22T00:00:00.000+01:00', '2026-12-24T00:00:00.000+01:00'],
        [
          'window',
          'window 1 (Europe/Berlin)',
          '2026-12-22T22:00:00.000+01:00',
          '2026-12-23T02:00:00.000+01:00',
        ],
        [
          'window',
          'window 1 (Europe/Berlin)',
          '2026-12-23T22:00:00.000+01:00',
          '2026-12-24T02:00:00.000+01:00',
        ],
      ],
    );
  });
});

describe('freezes in the configuration', () => {
  const problems = (input: unknown) => {
    const parsed = Freeze.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('take a period or a recurring span, block releases by default, and run on UTC unless told', () => {
    assert.deepEqual(Freeze.parse({ name: 'launch', from: '2026-12-24T18:00', to: '2026-12-27' }), {
      name: 'launch',
      from: '2026-12-24T18:00',
      to: '2026-12-27',
      blocks: ['release'],
      timeZone: 'UTC',
    });
    assert.deepEqual(
      problems({ name: 'nights', recurring: { days: ['mon'], start: '20:00', end: '06:00' } }),
      [],
    );
  });

  it('say what is wrong with a freeze, each problem by its field', () => {
    assert.deepEqual(problems({ name: 'x' }), [': a freeze has either from and to, or recurring']);
    assert.deepEqual(
      problems({
        name: 'x',
        from: '2026-12-24',
        to: '2026-12-25',
        recurring: { days: ['mon'], start: '01:00', end: '02:00' },
      }),
      [': a freeze has either from and to, or recurring'],
    );
    assert.deepEqual(problems({ name: 'x', from: '2026-12-24' }), [
      ': a dated freeze needs both from and to',
    ]);
    assert.deepEqual(problems({ name: 'x', recurring: { days: ['mon'], start: '09:00', end: '09:00' } }), [
      'recurring.end: end is start: the freeze would never hold',
    ]);
    assert.deepEqual(problems({ name: 'x', from: '2026-12-24', to: '2026-12-23' }), [
      'to: 2026-12-23 is not after 2026-12-24',
    ]);
    assert.deepEqual(problems({ name: 'x', from: '2026-02-30', to: '2026-03-02' }), [
      'from: 2026-02-30 is not a date on the calendar',
    ]);
    assert.match(
      problems({ name: 'x', from: '24.12.2026', to: '2026-12-25' })[0]!,
      /^from: a date YYYY-MM-DD/,
    );
    assert.match(
      problems({ name: 'x', from: '2026-12-24', to: '2026-12-25', blocks: ['deploy'] })[0]!,
      /^blocks\.0: /,
    );
    assert.match(
      problems({ name: 'x', from: '2026-12-24', to: '2026-12-25', timeZone: 'Mars/Olympus' })[0]!,
      /^timeZone: an IANA time zone/,
    );
    assert.match(problems({ name: 'a\u202eb', from: '2026-12-24', to: '2026-12-25' })[0]!, /^name: /);
    assert.match(problems({ name: 'x'.repeat(101), from: '2026-12-24', to: '2026-12-25' })[0]!, /^name: /);
  });
});

describe('greenlight calendar', () => {
  it("lists each target's coming windows and freezes on their own clocks, and whether a release may go now", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-calendar-'));
    try {
      const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
      const config = {
        ...TEST_CONFIG,
        freezes: [{ name: 'year-end', from: day(-1), to: day(1), blocks: ['release', 'decommission'] }],
        targets: {
          dev: {},
          prod: {
            onClosedWindow: 'refuse',
            freezes: [
              { name: 'weekends', recurring: { days: ['sat', 'sun'], start: '00:00', end: '23:59' } },
            ],
            maintenanceWindows: [
              {
                days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'],
                start: '22:00',
                end: '02:00',
                timeZone: 'Europe/Berlin',
              },
            ],
          },
        },
      };
      await writeFile(join(dir, 'config.json'), JSON.stringify(config));
      const env = {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        GREENLIGHT_CONFIG: join(dir, 'config.json'),
        GREENLIGHT_STATE_DIR: join(dir, 'state'),
      };
      const json = await runCli(['calendar', '--days', '3', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      type Entry = { kind: string; name: string; start: string; end: string; blocks?: string[] };
      const [dev, prod] = JSON.parse(json.stdout) as {
        target: string;
        isAlwaysOpen: boolean;
        closedNow: string | null;
        releasesGoAt: string | null;
        onClosedWindow: string;
        entries: Entry[];
      }[];
      // The global freeze covers yesterday through tomorrow (whole UTC days): releases wait for its end.
      const freezeEnd = `${day(2)}T00:00:00.000Z`;
      assert.deepEqual(
        [dev!.target, dev!.isAlwaysOpen, dev!.closedNow, dev!.releasesGoAt, dev!.onClosedWindow],
        ['dev', true, 'freeze year-end blocks release', freezeEnd, 'wait'],
      );
      assert.deepEqual(dev!.entries, [
        {
          kind: 'freeze',
          name: 'year-end',
          start: `${day(-1)}T00:00:00.000Z`,
          end: freezeEnd,
          blocks: ['release', 'decommission'],
        },
      ]);
      assert.equal(prod!.isAlwaysOpen, false);
      assert.equal(prod!.closedNow, 'freeze year-end blocks release');
      assert.equal(prod!.onClosedWindow, 'refuse');
      const windows = prod!.entries.filter((e) => e.kind === 'window');
      assert.ok(windows.length >= 3 && windows.length <= 4, JSON.stringify(windows));
      for (const e of windows) {
        assert.match(e.start, /T22:00:00\.000\+0[12]:00$/, 'opens at 22:00 Berlin time');
        assert.match(e.end, /T02:00:00\.000\+0[12]:00$/);
      }
      assert.ok(prod!.entries.some((e) => e.name === 'year-end'));
      const starts = prod!.entries.map((e) => Date.parse(e.start));
      assert.deepEqual(
        starts,
        [...starts].sort((x, y) => x - y),
        'in order of start',
      );
      const text = await runCli(['calendar', '--target', 'dev', '--days', '3'], env);
      assert.equal(
        text.stdout,
        `dev: closed now (freeze year-end blocks release); releases wait until ${freezeEnd}, no maintenance windows; the next 3 days:\n` +
          `  ${day(-1)}T00:00:00.000Z → ${freezeEnd}  freeze year-end, blocks release, decommission\n`,
      );
      const refusing = await runCli(['calendar', '--target', 'prod', '--days', '1'], env);
      assert.match(
        refusing.stdout,
        /^prod: closed now \(freeze year-end blocks release\); releases are refused; the next 1 days:\n/,
      );
      const unknown = await runCli(['calendar', '--target', 'staging'], env);
      assert.equal(unknown.code, 2);
      assert.equal(unknown.stderr, 'greenlight: unknown target "staging"; configured targets: dev, prod\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('scheduling a release (--at, --in)', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const refusal = (at?: string, inDuration?: string) => {
    try {
      scheduledAt(at, inDuration, now);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };

  it('takes a time with its offset, or a duration from now, as one UTC instant', () => {
    assert.equal(scheduledAt('2026-12-24T22:00:00+01:00', undefined, now), '2026-12-24T21:00:00.000Z');
    assert.equal(scheduledAt('2026-12-24T21:00Z', undefined, now), '2026-12-24T21:00:00.000Z');
    assert.equal(scheduledAt(undefined, '2h', now), '2026-12-01T14:00:00.000Z');
    assert.equal(scheduledAt(undefined, undefined, now), undefined);
  });

  it('refuses both at once, a time without its offset, one that has passed, and one more than a year ahead', () => {
    assert.equal(refusal('2026-12-24T22:00:00Z', '2h'), 'give --at or --in, not both');
    assert.match(
      refusal('2026-12-24T22:00:00')!,
      /^invalid --at "2026-12-24T22:00:00": an ISO 8601 time with its offset/,
    );
    assert.match(refusal('tomorrow')!, /^invalid --at "tomorrow"/);
    assert.match(refusal('2026-13-45T22:00:00Z')!, /^invalid --at/);
    assert.equal(
      refusal('2026-12-01T11:00:00Z'),
      '--at 2026-12-01T11:00:00.000Z has passed; start it now, or give a time to come',
    );
    assert.equal(refusal('2028-01-01T00:00:00Z'), '2028-01-01T00:00:00.000Z is more than a year ahead');
    assert.match(refusal(undefined, 'soon')!, /^invalid --in "soon": a duration such as 30m, 2h or 1d$/);
    assert.match(refusal(undefined, '0s')!, /^invalid --in "0s"/);
  });
});
