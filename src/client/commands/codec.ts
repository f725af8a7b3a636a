import { InvalidArgumentError, Option } from 'commander';
import { openEncryption } from '../../compose/codec';
import { startCodecServer } from '../../codec/server';
import { GreenlightError } from '../errors';
import type { CommandGroup } from './context';

/** A TCP port, 0 to 65535 (0: any free one). */
function port(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65_535) {
    throw new InvalidArgumentError(`${JSON.stringify(value.slice(0, 20))} is not a port (0 to 65535)`);
  }
  return n;
}

/** An origin a browser sends: http(s)://host[:port], nothing after it. */
function origin(value: string, previous: string[] = []): string[] {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || value.replace(/\/$/, '') !== url.origin) {
    throw new InvalidArgumentError(
      `${JSON.stringify(value.slice(0, 80))} is not an origin: expected http(s)://host[:port], such as http://localhost:8233`,
    );
  }
  return [...previous, url.origin];
}

/** `greenlight codec-server`: decrypts payloads for the Temporal Web UI and CLI with the configured keys. */
export const codecCommands: CommandGroup = (program, cli) => {
  program
    .command('codec-server')
    .description(
      "serve POST /encode and /decode with the configuration's encryption keys, for the Temporal Web UI (its codec endpoint) and `temporal --codec-endpoint`",
    )
    .option(
      '--host <address>',
      'where to listen; beyond loopback only with GREENLIGHT_CODEC_TOKEN set or --trust-network',
      '127.0.0.1',
    )
    .option(
      '--trust-network',
      "listen beyond loopback without a token, where the network already limits who reaches it (a container's port published on loopback)",
      false,
    )
    .addOption(new Option('--port <port>', 'the port').default(8089).argParser(port))
    .option(
      '--origin <url>',
      "the Web UI's origin, whose pages may call it (repeat for several; default http://localhost:<GREENLIGHT_UI_PORT>)",
      origin,
    )
    .action(async (o: { host: string; port: number; origin?: string[]; trustNetwork: boolean }) => {
      const settings = cli.settings();
      const codec = openEncryption(settings.config, cli.io.env);
      if (!codec) {
        throw new GreenlightError(
          `no encryption keys in the configuration (${settings.configSource}): add encryption.keys, the same as the workers'`,
          'invalid_input',
        );
      }
      const origins = o.origin ?? [`http://localhost:${settings.temporal.uiPort}`];
      const token = cli.io.env.GREENLIGHT_CODEC_TOKEN || undefined;
      const server = await startCodecServer({
        codec,
        host: o.host,
        port: o.port,
        origins,
        token,
        trustNetwork: o.trustNetwork,
      }).catch((e: Error) => {
        throw new GreenlightError(`codec server not started: ${e.message}`, 'unavailable');
      });
      cli.io.out(
        `codec server on ${server.url} (POST /encode, /decode); key ${codec.keyId} encrypts; pages of ${origins.join(', ')} may call it${token ? '; requests need the bearer token' : ''}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    });
};
