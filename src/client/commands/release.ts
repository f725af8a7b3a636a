import { userInfo } from 'node:os';
import { Option } from 'commander';
import type { ReleaseStatus } from '../../shared/release';
import { formatList, formatStatus, stageChangeFollower } from '../format';
import { ExitCodes } from '../exit-codes';
import { positiveInt, scheduledAt } from './arguments';
import type { CommandGroup } from './context';

/** 0 when the release completed, 3 when it ended any other way. */
const endCode = (s: ReleaseStatus) => (s.stage === 'completed' ? ExitCodes.ok : ExitCodes.notCompleted);

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `greenlight release …`: start, approve, inspect and roll back releases. */
export const releaseCommands: CommandGroup = (program, cli) => {
  const release = program.command('release').description('start, approve, inspect and roll back releases');

  release
    .command('start')
    .description('start a blue/green release')
    .requiredOption('--service <name>', 'service to release, e.g. web')
    .requiredOption('--version <sha-or-tag>', 'git SHA or tag to deploy')
    .requiredOption('--target <env>', 'target environment, e.g. stage')
    .option('--skip-slow-scans', 'skip integration checks marked slow', false)
    .option(
      '--hold-before-cutover',
      'deploy, test and decide, then wait for `release go` before cutting over',
      false,
    )
    .option('--initiator <name>', 'who starts the release (default: the OS user)')
    .option('--at <time>', 'schedule it: an ISO 8601 time with its offset, e.g. 2026-12-24T22:00:00+01:00')
    .option('--in <duration>', 'schedule it a while from now, e.g. 2h')
    .option('--wait', 'wait until the release ends and print its final status', false)
    .option('--json', 'print JSON', false)
    .action(
      async (o: {
        service: string;
        version: string;
        target: string;
        skipSlowScans: boolean;
        holdBeforeCutover: boolean;
        initiator?: string;
        at?: string;
        in?: string;
        wait: boolean;
        json: boolean;
      }) => {
        const notBefore = scheduledAt(o.at, o.in);
        const client = await cli.api();
        const { releaseId } = await client.startRelease({
          service: o.service,
          version: o.version,
          target: o.target,
          skipSlowScans: o.skipSlowScans,
          holdBeforeCutover: o.holdBeforeCutover,
          initiator: o.initiator ?? osUser(),
          ...(notBefore ? { notBefore } : {}),
        });
        const started = notBefore
          ? `scheduled release ${releaseId} for ${notBefore}`
          : `started release ${releaseId}`;
        if (!o.wait) return cli.print(o.json, { releaseId, ...(notBefore ? { notBefore } : {}) }, started);
        if (!o.json) cli.io.out(`${started}\n`);
        const follow = stageChangeFollower();
        const final = await client.watch(releaseId, (s) => {
          if (!o.json) for (const line of follow(s)) cli.io.out(`${line}\n`);
        });
        if (o.json) cli.print(true, { releaseId, status: final }, '');
        cli.exitWith(endCode(final));
      },
    );

  for (const kind of ['approve', 'reject'] as const) {
    release
      .command(`${kind} <releaseId>`)
      .description(`${kind} a release waiting for approval`)
      .requiredOption('--approver <name>', 'who decides')
      .option('--comment <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (releaseId: string, o: { approver: string; comment?: string; json: boolean }) => {
        const receipt = await (
          await cli.api()
        )[kind](releaseId, { approver: o.approver, comment: o.comment });
        cli.print(o.json, receipt, receipt.message);
      });
  }

  release
    .command('override <releaseId>')
    .description(
      'let a release waiting for its target to open (a freeze, outside its maintenance windows) go now',
    )
    .requiredOption('--approver <name>', "who approves, by the target's approval rule")
    .requiredOption('--reason <text>', 'why it may not wait (kept in the status, history and CMDB)')
    .option('--json', 'print JSON', false)
    .action(async (releaseId: string, o: { approver: string; reason: string; json: boolean }) => {
      const receipt = await (
        await cli.api()
      ).overrideWindow(releaseId, { approver: o.approver, reason: o.reason });
      cli.print(o.json, receipt, receipt.message);
    });

  const interventions = {
    rollback: 'point the alias back to blue (until blue is terminated)',
    abort: 'stop a release before cutover',
    go: 'let a release held before cutover (--hold-before-cutover) cut over',
  } as const;
  for (const kind of ['rollback', 'abort', 'go'] as const) {
    release
      .command(`${kind} <releaseId>`)
      .description(interventions[kind])
      .option('--by <name>', 'who asks (default: the OS user)')
      .option('--reason <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (releaseId: string, o: { by?: string; reason?: string; json: boolean }) => {
        const receipt = await (await cli.api())[kind](releaseId, { by: o.by ?? osUser(), reason: o.reason });
        cli.print(o.json, receipt, receipt.message);
      });
  }

  release
    .command('status <releaseId>')
    .description('show a release: stage, live version, approvals, policy decisions, history')
    .option('--json', 'print JSON', false)
    .action(async (releaseId: string, o: { json: boolean }) => {
      const status = await (await cli.api()).status(releaseId);
      cli.print(o.json, status, formatStatus(status));
    });

  release
    .command('watch <releaseId>')
    .description('follow a release until it ends')
    .option('--json', 'print each status as one JSON line', false)
    .action(async (releaseId: string, o: { json: boolean }) => {
      const follow = stageChangeFollower();
      const final = await (
        await cli.api()
      ).watch(releaseId, (s) => {
        if (o.json) cli.io.out(`${JSON.stringify(s)}\n`);
        else for (const line of follow(s)) cli.io.out(`${line}\n`);
      });
      cli.exitWith(endCode(final));
    });

  release
    .command('list')
    .description('list recent releases')
    .option('--service <name>')
    .option('--target <env>')
    .option('--version <sha-or-tag>')
    .option('--stage <stage>')
    .addOption(new Option('--limit <n>', 'at most this many').default(20).argParser(positiveInt))
    .option('--json', 'print JSON', false)
    .action(
      async (o: {
        service?: string;
        target?: string;
        version?: string;
        stage?: string;
        limit: number;
        json: boolean;
      }) => {
        const rows = await (await cli.api()).list(o);
        cli.print(o.json, rows, formatList(rows));
      },
    );
};
