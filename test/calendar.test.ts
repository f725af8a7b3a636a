import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TEST_CONFIG } from '../harness/release';
import { runCli } from './helpers/cli';
import { activeFreeze, isWindowOpen, nextAllowed, upcoming } from '../src/shared/calendar';
import type { ClockSpan, FreezePeriod } from '../src/shared/calendar';
import { MaintenanceWindow } from '../src/shared/target';

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

describe('greenlight calendar', () => {
  it("lists each target's coming windows on their own clocks, and says when a target is always open", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-calendar-'));
    try {
      const config = {
        ...TEST_CONFIG,
        targets: {
          dev: {},
          prod: {
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
      const [dev, prod] = JSON.parse(json.stdout) as {
        target: string;
        isAlwaysOpen: boolean;
        entries: { start: string; end: string }[];
      }[];
      assert.deepEqual([dev.target, dev.isAlwaysOpen, dev.entries], ['dev', true, []]);
      assert.equal(prod.isAlwaysOpen, false);
      assert.ok(prod.entries.length >= 3 && prod.entries.length <= 4, JSON.stringify(prod.entries));
      for (const e of prod.entries) {
        assert.match(e.start, /T22:00:00\.000\+0[12]:00$/, 'opens at 22:00 Berlin time');
        assert.match(e.end, /T02:00:00\.000\+0[12]:00$/);
      }
      const text = await runCli(['calendar', '--target', 'dev'], env);
      assert.equal(text.stdout, 'dev: always open (no maintenance windows)\n');
      const unknown = await runCli(['calendar', '--target', 'staging'], env);
      assert.equal(unknown.code, 2);
      assert.equal(unknown.stderr, 'greenlight: unknown target "staging"; configured targets: dev, prod\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
