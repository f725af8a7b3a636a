import { userInfo } from 'node:os';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { templateEnvironment } from '../../config/resolve';
import { Duration } from '../../shared/durations';
import { formatEnvironment, formatEnvironments } from '../format';
import { GreenlightError } from '../errors';
import type { CommandGroup } from './context';

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A commander parser for `--ttl`: a duration such as 72h, at most a year. */
function ttl(value: string): number {
  const parsed = Duration.safeParse(value);
  if (!parsed.success || parsed.data <= 0 || parsed.data > 366 * 86_400_000) {
    throw new InvalidArgumentError(
      `expected a duration such as 72h (at most 366d), got ${JSON.stringify(value)}`,
    );
  }
  return parsed.data;
}

interface TransitionOptions {
  reason?: string;
  force: boolean;
  by?: string;
  json: boolean;
}
const transitionOf = (on: string, o: TransitionOptions) => ({
  on,
  by: o.by ?? osUser(),
  reason: o.reason,
  force: o.force,
});

/** `greenlight env …`: create environments, follow their lifecycle, and decommission them. */
export const envCommands: CommandGroup = (program, cli) => {
  const env = program.command('env').description('environments: create, inspect, maintain and decommission');

  env
    .command('create <name>')
    .description('create an environment from a template (default: the configured default, ephemeral)')
    .option('--template <name>', 'the template it is made from')
    .option('--ttl <duration>', 'decommissioned by itself this long from now (default: the template’s)', ttl)
    .option('--by <name>', 'who creates it (default: the OS user)')
    .option('--json', 'print JSON', false)
    .action(async (name: string, o: { template?: string; ttl?: number; by?: string; json: boolean }) => {
      const { config } = cli.settings();
      const start = templateEnvironment(
        config,
        name,
        o.template ?? config.environments.defaultTemplate,
        o.by ?? osUser(),
        o.ttl,
      );
      if ('error' in start) throw new GreenlightError(start.error, 'invalid_input');
      const created = await (await cli.api()).environments.create(start);
      cli.print(o.json, created, `created environment ${name} (${start.template}, flow ${start.flowName})`);
    });

  env
    .command('list')
    .description('list environments')
    .option('--json', 'print JSON', false)
    .action(async (o: { json: boolean }) => {
      const rows = await (await cli.api()).environments.list();
      cli.print(o.json, rows, formatEnvironments(rows));
    });

  env
    .command('status <name>')
    .description('show an environment: state, since when, what blocks it, approvals, TTL, history')
    .option('--json', 'print JSON', false)
    .action(async (name: string, o: { json: boolean }) => {
      const status = await (await cli.api()).environments.status(name);
      cli.print(o.json, status, formatEnvironment(status));
    });

  /** A command that asks for one transition of the flow by name (`null`: the name is an argument). */
  const asking = (parent: Command, verb: string, on: string | null, description: string) =>
    parent
      .command(on === null ? `${verb} <name> <transition>` : `${verb} <name>`)
      .description(description)
      .option('--reason <text>', 'why')
      .option(
        '--force',
        'take it although the policy says no (needs approval when the environment’s rule asks for any)',
        false,
      )
      .option('--by <name>', 'who asks (default: the OS user)')
      .option('--json', 'print JSON', false)
      .action(async (name: string, ...rest: unknown[]) => {
        // Commander passes the arguments, then the options: `do` has the transition's name first.
        const [transition, o] =
          on === null
            ? [rest[0] as string, rest[1] as TransitionOptions]
            : [on, rest[0] as TransitionOptions];
        const receipt = await (await cli.api()).environments.transition(name, transitionOf(transition, o));
        cli.print(o.json, receipt, receipt.message);
      });
  const maintenance = env.command('maintenance').description('start or end maintenance');
  asking(maintenance, 'start', 'start_maintenance', 'start maintenance (start_maintenance)');
  asking(maintenance, 'end', 'end_maintenance', 'end maintenance (end_maintenance)');
  asking(env, 'decommission', 'decommission', 'decommission an environment (approval on protected ones)');
  asking(
    env,
    'reconcile',
    'reconcile',
    'apply the module again and point aliases back as the CMDB has them (approval on protected ones)',
  );
  asking(env, 'do', null, "ask for any transition of the environment's flow by name");

  const asked = (verb: string, description: string, call: 'upgrade' | 'checkDrift') =>
    env
      .command(`${verb} <name>`)
      .description(description)
      .option('--by <name>', 'who asks (default: the OS user)')
      .option('--json', 'print JSON', false)
      .action(async (name: string, o: { by?: string; json: boolean }) => {
        const receipt = await (await cli.api()).environments[call](name, { by: o.by ?? osUser() });
        cli.print(o.json, receipt, receipt.message);
      });
  asked(
    'upgrade',
    "adopt the flow as the worker's configuration defines it now (recorded); it was pinned at creation",
    'upgrade',
  );
  asked('drift', 'look for drift now instead of at the next interval', 'checkDrift');

  for (const kind of ['approve', 'reject'] as const) {
    env
      .command(`${kind} <name>`)
      .description(`${kind} the transition an environment waits to take`)
      .requiredOption('--approver <name>', 'who decides')
      .option('--comment <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (name: string, o: { approver: string; comment?: string; json: boolean }) => {
        const receipt = await (
          await cli.api()
        ).environments.decide(name, kind, { approver: o.approver, comment: o.comment });
        cli.print(o.json, receipt, receipt.message);
      });
  }

  env
    .command('retry <name>')
    .description('run the transition that blocked the environment again (compensating first)')
    .option('--by <name>', 'who asks (default: the OS user)')
    .option('--json', 'print JSON', false)
    .action(async (name: string, o: { by?: string; json: boolean }) => {
      const receipt = await (await cli.api()).environments.retry(name, { by: o.by ?? osUser() });
      cli.print(o.json, receipt, receipt.message);
    });

  env
    .command('extend <name>')
    .description('move the TTL: decommissioned this long from now')
    .requiredOption('--ttl <duration>', 'e.g. 24h', ttl)
    .option('--by <name>', 'who asks (default: the OS user)')
    .option('--json', 'print JSON', false)
    .action(async (name: string, o: { ttl: number; by?: string; json: boolean }) => {
      const receipt = await (
        await cli.api()
      ).environments.extend(name, { ttlMs: o.ttl, by: o.by ?? osUser() });
      cli.print(o.json, receipt, receipt.message);
    });
};
