import { statsCommands } from './commands/stats';
import { ENCRYPTED_ENCODING } from '../codec/encryption';
import { codecCommands } from './commands/codec';
import { Client } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { openDnsProviders } from '../compose/dns';
import { ConfigError } from '../config/errors';
import { loadSettings } from '../config/load';
import type { Settings } from '../config/load';
import { targetZone } from '../config/resolve';
import { hostnames } from '../shared/release';
import { shortenLongValues } from '../shared/text';
import { clientConnection } from '../temporal/connection';
import { dataConverterFor, openEncryption } from '../compose/codec';
import { GreenlightClient, GreenlightError } from './api';
import { breakerCommands } from './commands/breakers';
import { cmdbCommands } from './commands/cmdb';
import type { CliContext, CommandGroup, Io } from './commands/context';
import { dnsCommands } from './commands/dns';
import { envCommands } from './commands/env';
import { localCommands } from './commands/local';
import { releaseCommands } from './commands/release';
import { trainCommands } from './commands/train';
import { calendarCommands } from './commands/calendar';
import { ExitCodes } from './exit-codes';

export { ExitCodes } from './exit-codes';
export type { Io } from './commands/context';

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
};

/** Every command group of the CLI, in the order `--help` lists them. */
export const COMMAND_GROUPS: readonly CommandGroup[] = [
  releaseCommands,
  trainCommands,
  envCommands,
  calendarCommands,
  dnsCommands,
  breakerCommands,
  localCommands,
  cmdbCommands,
  codecCommands,
  statsCommands,
];

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function run(argv: string[], given: Io = defaultIo): Promise<number> {
  // What goes to stderr is a message for a person: an oversized argument is never echoed in full.
  const io: Io = { ...given, err: (text) => given.err(shortenLongValues(text)) };
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
    const dataConverter = dataConverterFor(openEncryption(s.config, io.env));
    const client = new Client({
      connection,
      namespace: s.temporal.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
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
  const cli: CliContext = {
    io,
    settings: getSettings,
    api,
    print: (json, value, text) => io.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`),
    exitWith: (code) => {
      exitCode = code;
    },
  };

  const program = new Command('greenlight')
    .description('Blue/green releases as durable Temporal workflows')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError('(run with --help for usage)');

  for (const group of COMMAND_GROUPS) {
    group(program, cli);
  }

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
  const message = (e as Error).message ?? String(e);
  // The SDK's words for a payload it cannot read are `Unknown encoding: binary/encrypted`.
  if (message.includes(`Unknown encoding: ${ENCRYPTED_ENCODING}`)) {
    io.err(
      `greenlight: the workflow's payloads are encrypted, and this configuration lists no keys: give the CLI the workers' configuration (GREENLIGHT_CONFIG) with its encryption.keys\n`,
    );
    return ExitCodes.error;
  }
  io.err(`greenlight: ${message}\n`);
  return ExitCodes.error;
}
