import { userInfo } from 'node:os';
import { Option } from 'commander';
import type { TrainStatus } from '../../shared/train';
import { ExitCodes } from '../exit-codes';
import { readManifest, trainRequestOf } from '../manifest';
import { formatTrain, formatTrains } from '../train-format';
import { positiveInt } from './arguments';
import type { CommandGroup } from './context';

const endCode = (s: TrainStatus) => (s.stage === 'completed' ? ExitCodes.ok : ExitCodes.notCompleted);
const collect = (value: string, previous: string[]) => [...previous, value];

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** `greenlight train …`: several services released to one target together. */
export const trainCommands: CommandGroup = (program, cli) => {
  const train = program
    .command('train')
    .description(
      'release trains: several services released together, cut over in dependency order, all or nothing',
    );

  train
    .command('start')
    .description(
      'start a train: every service deploys and tests green, then one approval, then cutover in order',
    )
    .option('--target <env>', 'target environment (or target: in the manifest)')
    .option(
      '--service <service=version>',
      'a service and its version, e.g. api=1f2e3d4 (repeat)',
      collect,
      [],
    )
    .option('--after <service:dependency>', 'ui:api cuts ui over once api has baked (repeat)', collect, [])
    .option(
      '--check <name>',
      "a cross-service check from the worker's trains.checks (repeat; default all)",
      collect,
      [],
    )
    .option(
      '--final-action <name>',
      "run this action of the worker's trains.actions once every service has baked",
    )
    .option('--manifest <file>', 'a YAML manifest: services, after, checks, finalAction (options add to it)')
    .option(
      '--from <trainId>',
      'promote exactly what that completed train released (versions, artifact digests, order) to --target',
    )
    .option('--skip-slow-scans', 'skip checks marked slow', false)
    .option('--initiator <name>', 'who starts the train (default: the OS user)')
    .option('--wait', 'wait until the train ends and print its final status', false)
    .option('--json', 'print JSON', false)
    .action(
      async (o: {
        target?: string;
        service: string[];
        after: string[];
        check: string[];
        finalAction?: string;
        manifest?: string;
        from?: string;
        skipSlowScans: boolean;
        initiator?: string;
        wait: boolean;
        json: boolean;
      }) => {
        const manifest = o.manifest ? await readManifest(o.manifest) : null;
        const request = trainRequestOf(manifest, {
          target: o.target,
          services: o.service,
          after: o.after,
          checks: o.check,
          finalAction: o.finalAction,
          skipSlowScans: o.skipSlowScans,
          initiator: o.initiator ?? osUser(),
          from: o.from,
        });
        const trains = (await cli.api()).trains;
        const { trainId } = await trains.start(request);
        if (!o.wait) return cli.print(o.json, { trainId }, `started train ${trainId}`);
        if (!o.json) cli.io.out(`started train ${trainId}\n`);
        const final = await trains.watch(trainId, (s) => {
          if (!o.json)
            cli.io.out(
              `${s.stage}${s.waitingFor ? ` (waiting for ${s.waitingFor})` : ''}: ${s.services.map((m) => `${m.service} ${m.stage}`).join(', ')}\n`,
            );
        });
        if (o.json) cli.print(true, { trainId, status: final }, '');
        else cli.io.out(`${formatTrain(final)}\n`);
        cli.exitWith(endCode(final));
      },
    );

  for (const kind of ['approve', 'reject'] as const) {
    train
      .command(`${kind} <trainId>`)
      .description(`${kind} a train waiting for approval (one decision for all its services)`)
      .requiredOption('--approver <name>', 'who decides')
      .option('--comment <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (trainId: string, o: { approver: string; comment?: string; json: boolean }) => {
        const receipt = await (
          await cli.api()
        ).trains[kind](trainId, { approver: o.approver, comment: o.comment });
        cli.print(o.json, receipt, receipt.message);
      });
  }

  const interventions = {
    abort: 'stop a train before cutover: every release tears its green down',
    rollback: 'roll every service cut over back, in reverse order; the others tear green down',
  } as const;
  for (const kind of ['abort', 'rollback'] as const) {
    train
      .command(`${kind} <trainId>`)
      .description(interventions[kind])
      .option('--by <name>', 'who asks (default: the OS user)')
      .option('--reason <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (trainId: string, o: { by?: string; reason?: string; json: boolean }) => {
        const receipt = await (
          await cli.api()
        ).trains[kind](trainId, { by: o.by ?? osUser(), reason: o.reason });
        cli.print(o.json, receipt, receipt.message);
      });
  }

  train
    .command('status <trainId>')
    .description('show a train: stage, order, each service’s release, checks, policy, approvals, history')
    .option('--json', 'print JSON', false)
    .action(async (trainId: string, o: { json: boolean }) => {
      const status = await (await cli.api()).trains.status(trainId);
      cli.print(o.json, status, formatTrain(status));
    });

  train
    .command('watch <trainId>')
    .description('follow a train until it ends')
    .option('--json', 'print each status as one JSON line', false)
    .action(async (trainId: string, o: { json: boolean }) => {
      const final = await (
        await cli.api()
      ).trains.watch(trainId, (s) => {
        cli.io.out(
          o.json
            ? `${JSON.stringify(s)}\n`
            : `${s.stage}: ${s.services.map((m) => `${m.service} ${m.stage}`).join(', ')}\n`,
        );
      });
      cli.exitWith(endCode(final));
    });

  train
    .command('list')
    .description('list recent trains')
    .option('--target <env>')
    .addOption(new Option('--limit <n>', 'at most this many').default(20).argParser(positiveInt))
    .option('--json', 'print JSON', false)
    .action(async (o: { target?: string; limit: number; json: boolean }) => {
      const rows = await (await cli.api()).trains.list(o);
      cli.print(o.json, rows, formatTrains(rows));
    });
};
