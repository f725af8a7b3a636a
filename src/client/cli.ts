import { userInfo } from 'node:os';
import { Client } from '@temporalio/client';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config/errors';
import { loadSettings } from '../config/load';
import type { Settings } from '../config/load';
import { openDnsProviders } from '../compose/dns';
import type { ReleaseStatus } from '../shared/release';
import { clientConnection } from '../temporal/connection';
import { GreenlightClient, GreenlightError } from './api';
import { tearDownLocal } from './local-teardown';
import { openCmdbForReading } from '../providers/cmdb/open';
import { hostnames, ServiceName, TargetName } from '../shared/release';
import { targetZone } from '../config/resolve';
import { formatBreakers, formatCmdb, formatList, formatStatus, stageChangeFollower } from './format';
import type { BreakerView } from '../breaker/registry';
import { BreakerName } from '../config/schema';

/** Exit codes: 0 done, 1 error or refusal, 2 bad usage, 3 the release ended without completing. */
export const ExitCodes = { ok: 0, error: 1, usage: 2, notCompleted: 3 } as const;

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
};

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode: number = ExitCodes.ok;
  let settings: Settings | undefined;
  let connected: { client: Client; api: GreenlightClient } | undefined;
  const getSettings = () => (settings ??= loadSettings(io.env));
  const api = async () => {
    if (connected) return connected.api;
    const s = getSettings();
    const connection = await clientConnection(s.temporal).catch((e: Error) => {
      const where = s.temporal.address ?? `127.0.0.1:${s.temporal.devServerPort}`;
      throw new GreenlightError(
        `cannot reach Temporal at ${where} (${e.message}); is \`npm start\` running?`,
        'unavailable',
      );
    });
    const client = new Client({ connection, namespace: s.temporal.namespace });
    connected = {
      client,
      api: new GreenlightClient(client, {
        taskQueue: s.temporal.taskQueue,
        knownTargets: Object.keys(s.config.targets),
        liveHostname: async ({ service, version, target }) => {
          const { alias, green } = hostnames(service, version, target, targetZone(s.config, target));
          const record = await openDnsProviders(s.config, s.stateDir, io.env).forTarget(target).get(alias);
          return { alias, green, live: record?.value ?? null };
        },
      }),
    };
    return connected.api;
  };
  const print = (json: boolean, value: unknown, text: string) =>
    io.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  const endCode = (s: ReleaseStatus) => (s.stage === 'completed' ? ExitCodes.ok : ExitCodes.notCompleted);

  const program = new Command('greenlight')
    .description('Blue/green releases as durable Temporal workflows')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)');

  const release = program.command('release').description('start, approve, inspect and roll back releases');

  release
    .command('start')
    .description('start a blue/green release')
    .requiredOption('--service <name>', 'service to release, e.g. web')
    .requiredOption('--version <sha-or-tag>', 'git SHA or tag to deploy')
    .requiredOption('--target <env>', 'target environment, e.g. stage')
    .option('--skip-slow-scans', 'skip integration checks marked slow', false)
    .option('--initiator <name>', 'who starts the release (default: the OS user)')
    .option('--wait', 'wait until the release ends and print its final status', false)
    .option('--json', 'print JSON', false)
    .action(
      async (o: {
        service: string;
        version: string;
        target: string;
        skipSlowScans: boolean;
        initiator?: string;
        wait: boolean;
        json: boolean;
      }) => {
        const client = await api();
        const { releaseId } = await client.startRelease({
          service: o.service,
          version: o.version,
          target: o.target,
          skipSlowScans: o.skipSlowScans,
          initiator: o.initiator ?? osUser(),
        });
        if (!o.wait) return print(o.json, { releaseId }, `started release ${releaseId}`);
        if (!o.json) io.out(`started release ${releaseId}\n`);
        const follow = stageChangeFollower();
        const final = await client.watch(releaseId, (s) => {
          if (!o.json) for (const line of follow(s)) io.out(`${line}\n`);
        });
        if (o.json) print(true, { releaseId, status: final }, '');
        exitCode = endCode(final);
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
        const receipt = await (await api())[kind](releaseId, { approver: o.approver, comment: o.comment });
        print(o.json, receipt, receipt.message);
      });
  }

  for (const kind of ['rollback', 'abort'] as const) {
    release
      .command(`${kind} <releaseId>`)
      .description(
        kind === 'rollback'
          ? 'point the alias back to blue (until blue is terminated)'
          : 'stop a release before cutover',
      )
      .option('--by <name>', 'who asks (default: the OS user)')
      .option('--reason <text>', 'why')
      .option('--json', 'print JSON', false)
      .action(async (releaseId: string, o: { by?: string; reason?: string; json: boolean }) => {
        const receipt = await (await api())[kind](releaseId, { by: o.by ?? osUser(), reason: o.reason });
        print(o.json, receipt, receipt.message);
      });
  }

  release
    .command('status <releaseId>')
    .description('show a release: stage, live version, approvals, policy decisions, history')
    .option('--json', 'print JSON', false)
    .action(async (releaseId: string, o: { json: boolean }) => {
      const status = await (await api()).status(releaseId);
      print(o.json, status, formatStatus(status));
    });

  release
    .command('watch <releaseId>')
    .description('follow a release until it ends')
    .option('--json', 'print each status as one JSON line', false)
    .action(async (releaseId: string, o: { json: boolean }) => {
      const follow = stageChangeFollower();
      const final = await (
        await api()
      ).watch(releaseId, (s) => {
        if (o.json) io.out(`${JSON.stringify(s)}\n`);
        else for (const line of follow(s)) io.out(`${line}\n`);
      });
      exitCode = endCode(final);
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
        const rows = await (await api()).list(o);
        print(o.json, rows, formatList(rows));
      },
    );

  program
    .command('dns')
    .description("the DNS records of the targets' providers")
    .command('list')
    .description('list the records greenlight manages (A, AAAA, CNAME), per DNS provider')
    .option('--target <env>', 'only the provider of this target')
    .option('--json', 'print JSON', false)
    .action(async (o: { target?: string; json: boolean }) => {
      const s = getSettings();
      if (o.target !== undefined) {
        validateName(TargetName, o.target, 'target');
        if (!Object.hasOwn(s.config.targets, o.target)) {
          throw new GreenlightError(
            `unknown target ${JSON.stringify(o.target)}; configured targets: ${Object.keys(s.config.targets).join(', ')}`,
            'unknown_target',
          );
        }
      }
      const groups = openDnsProviders(s.config, s.stateDir, io.env)
        .all()
        .filter((g) => o.target === undefined || g.targets.includes(o.target));
      const listed = [];
      for (const g of groups) {
        const records = await g.provider.list().catch((e: unknown) => {
          throw new GreenlightError(`${g.location}: ${(e as Error).message}`, 'unavailable');
        });
        listed.push({ ...g, records });
      }
      // Targets may share a server or zone: with --target, only that target's names.
      if (o.target !== undefined) {
        const suffix = `.${o.target}.${targetZone(s.config, o.target)}`;
        for (const g of listed) {
          g.records = g.records.filter((r) => r.name.endsWith(suffix));
          g.targets = [o.target];
        }
      }
      const rows = listed.flatMap((g) => g.records.map((r) => ({ ...r, targets: g.targets })));
      const text = listed
        .map((g) => {
          const lines = g.records.length
            ? g.records.map(
                (r) => `  ${r.name.padEnd(48)} ${String(r.ttl).padStart(5)} ${r.type.padEnd(5)} ${r.value}`,
              )
            : ['  (no records)'];
          return [`${g.location} (${g.targets.join(', ')})`, ...lines].join('\n');
        })
        .join('\n');
      print(o.json, rows, text);
    });

  const admin = async (method: 'GET' | 'POST', path: string): Promise<unknown> => {
    const { host, port, token } = getSettings().admin;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
    const res = await fetch(url, {
      method,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(5_000),
    }).catch((e: Error) => {
      throw new GreenlightError(
        `cannot reach the worker's admin endpoint at ${host}:${port} (${e.message}); is \`npm start\` running? (GREENLIGHT_ADMIN_HOST/PORT)`,
        'unavailable',
      );
    });
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    if (!res.ok) throw new GreenlightError(`the worker refused: ${body.error ?? res.status}`, 'refused');
    return body;
  };
  const breakers = program
    .command('breakers')
    .description("the circuit breakers of the dependencies, as the worker's admin endpoint reports them")
    .option('--json', 'print JSON', false)
    .action(async (o: { json: boolean }) => {
      const list = (await admin('GET', '/breakers')) as BreakerView[];
      print(o.json, list, formatBreakers(list));
    });
  for (const action of ['open', 'close', 'reset'] as const) {
    breakers
      .command(`${action} <name>`)
      .description(
        {
          open: 'force a breaker open: every call is rejected until it is closed or reset',
          close: 'close a breaker (from forced open, open or half-open), with an empty window',
          reset: 'reset a breaker: closed, empty window, no backoff history',
        }[action],
      )
      .option('--by <name>', 'who does it (logged)', userInfo().username)
      .option('--json', 'print JSON', false)
      .action(async (name: string, o: { by: string; json: boolean }) => {
        validateName(BreakerName, name, 'breaker name');
        const view = (await admin(
          'POST',
          `/breakers/${encodeURIComponent(name)}/${action}?by=${encodeURIComponent(o.by)}`,
        )) as BreakerView;
        print(o.json, view, formatBreakers([view]));
      });
  }

  program
    .command('local')
    .description('the embedded local infrastructure of `npm start`')
    .command('teardown')
    .description('stop the local example services and remove their DNS names (with the worker stopped)')
    .option('--json', 'print JSON', false)
    .action(async (o: { json: boolean }) => {
      const removed = await tearDownLocal(getSettings().stateDir);
      const text = removed.stopped.length
        ? removed.stopped.map((d) => `stopped ${d.service} ${d.version} (${d.hostname})`).join('\n') +
          `\nremoved ${removed.records.length} DNS record${removed.records.length === 1 ? '' : 's'}`
        : 'no local deployment runs';
      print(o.json, removed, text);
    });

  program
    .command('cmdb')
    .description('the configuration management database')
    .command('show <service>')
    .description("a service's deployments, their relationships and its recent changes")
    .option('--target <env>', 'only this target')
    .addOption(new Option('--limit <n>', 'recent changes to show').default(20).argParser(positiveInt))
    .option('--json', 'print JSON', false)
    .action(async (service: string, o: { target?: string; limit: number; json: boolean }) => {
      validateName(ServiceName, service, 'service');
      if (o.target !== undefined) validateName(TargetName, o.target, 'target');
      const s = getSettings();
      const db = await openCmdbForReading(s.stateDir, s.cmdbUrl);
      try {
        const view = {
          deployments: await db.cmdb.deployments(service, o.target),
          relationships: await db.cmdb.relationships(service, o.target),
          changes: await db.cmdb.changes(service, o.target, o.limit),
        };
        if (!o.json && view.deployments.length === 0 && view.changes.length === 0) {
          throw new GreenlightError(
            `the CMDB has no service ${service}${o.target ? ` on ${o.target}` : ''}: nothing was released there yet`,
            'not_found',
          );
        }
        print(o.json, view, formatCmdb(service, view));
      } finally {
        await db.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    exitCode = reportError(e, io);
  } finally {
    await connected?.client.connection.close();
  }
  return exitCode;
}

function reportError(e: unknown, io: Io): number {
  if (e instanceof CommanderError) {
    return e.exitCode === 0 ? ExitCodes.ok : ExitCodes.usage;
  }
  if (e instanceof GreenlightError || e instanceof ConfigError) {
    io.err(`greenlight: ${e.message}\n`);
    if (e instanceof GreenlightError && e.code === 'ended') return ExitCodes.notCompleted;
    // A malformed argument or an unknown target is bad usage, as for commander's own errors.
    const isUsage =
      e instanceof GreenlightError && (e.code === 'invalid_input' || e.code === 'unknown_target');
    return isUsage ? ExitCodes.usage : ExitCodes.error;
  }
  io.err(`greenlight: ${(e as Error).message ?? String(e)}\n`);
  return ExitCodes.error;
}

function validateName(schema: typeof ServiceName, value: string, what: string): void {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new GreenlightError(
      `invalid ${what} ${JSON.stringify(value)}: ${result.error.issues[0].message}`,
      'invalid_input',
    );
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw new InvalidArgumentError(`expected 1..1000, got ${JSON.stringify(value)}`);
  return n;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}
