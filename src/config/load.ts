import { Duration } from '../shared/durations';
import { checkedText } from '../shared/text';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isScalar, parse as parseYaml, parseDocument } from 'yaml';
import { z } from 'zod';
import { DEFAULT_CONFIG } from './defaults';
import { ConfigError, parseOrThrow } from './errors';
import type { WrittenAt } from './errors';
import { Config } from './schema';
import { TASK_QUEUE } from '../shared/messages';

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const Port = z.coerce.number().int().min(1).max(65_535);

/**
 * What is wrong with a CMDB URL, or null. Only PostgreSQL's schemes are taken; the URL itself is
 * never quoted (it may hold the password), only a scheme written as `scheme://`.
 */
export function cmdbUrlProblem(text: string): string | null {
  const expected = 'expected postgres://user:password@host:5432/database';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `not a valid URL; ${expected}`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    const scheme = text.startsWith(`${url.protocol}//`)
      ? `${url.protocol}// is not PostgreSQL`
      : 'not PostgreSQL';
    return `${scheme}; ${expected} (or postgresql://)`;
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return 'the user or password is not percent-encoded correctly (e.g. %40 for @)';
  }
  return null;
}

const CmdbUrl = checkedText(2000, cmdbUrlProblem);

/** The environment variables greenlight reads; nothing else in the code reads `process.env`. */
export const Environment = z.object({
  GREENLIGHT_CONFIG: optionalText,
  GREENLIGHT_STATE_DIR: z.string().default('.greenlight'),
  GREENLIGHT_LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
    .default('info'),
  GREENLIGHT_TASK_QUEUE: z.string().min(1).max(200).default(TASK_QUEUE),
  GREENLIGHT_DEV_SERVER_PORT: Port.default(7233),
  GREENLIGHT_UI_PORT: Port.default(8233),
  /** PostgreSQL URL of the CMDB; empty or unset: the embedded PGlite. */
  GREENLIGHT_CMDB_URL: optionalText.pipe(CmdbUrl.optional()),
  /** How long a CMDB query may wait for the server's answer before it fails, and is retried. */
  GREENLIGHT_CMDB_TIMEOUT: Duration.prefault('30s').pipe(
    z.number().min(1_000, 'at least 1s').max(300_000, 'at most 5m: an activity waits for it'),
  ),
  GREENLIGHT_ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
  GREENLIGHT_ADMIN_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
  GREENLIGHT_ADMIN_TOKEN: optionalText,
  /** On SIGTERM or SIGINT, how long running activities may take to finish before they are cancelled. */
  GREENLIGHT_SHUTDOWN_GRACE: Duration.prefault('30s').pipe(
    z.number().max(600_000, 'at most 10m: an orchestrator kills a worker that takes longer'),
  ),
  /**
   * How many workflows the worker keeps in memory between their tasks (Temporal's sticky cache);
   * one evicted replays its history at its next task. Unset: the SDK's default, from the heap size.
   */
  GREENLIGHT_WORKFLOW_CACHE: optionalText.pipe(
    z.coerce
      .number<string>()
      .int('a whole number of workflows')
      .min(0)
      .max(100_000, 'at most 100000 workflows')
      .optional(),
  ),
  /**
   * Worker versioning: this build's id (a commit, an image tag). Set, the worker joins the
   * deployment GREENLIGHT_DEPLOYMENT_NAME as that version, and takes only the workflows Temporal
   * routes to it (the deployment's current version, or those pinned to it).
   */
  GREENLIGHT_BUILD_ID: optionalText.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9._+-]{1,100}$/, 'a build id of 1 to 100 letters, digits, ".", "_", "+" or "-"')
      .optional(),
  ),
  GREENLIGHT_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'a deployment name of 1 to 100 letters, digits, ".", "_" or "-"')
    .default('greenlight'),
  /** How a versioned worker's workflows move to a new version: at their next task, or never. */
  GREENLIGHT_VERSIONING_BEHAVIOR: z.enum(['auto-upgrade', 'pinned']).default('auto-upgrade'),
  TEMPORAL_ADDRESS: optionalText,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_API_KEY: optionalText,
  TEMPORAL_TLS: z.enum(['true', 'false', '']).optional(),
  TEMPORAL_TLS_CERT: optionalText,
  TEMPORAL_TLS_KEY: optionalText,
  TEMPORAL_TLS_CA: optionalText,
  TEMPORAL_TLS_SERVER_NAME: optionalText,
  TEMPORAL_CLI_PATH: optionalText,
  PATH: z.string().default(''),
});

export interface TemporalSettings {
  /** host:port of the frontend; absent means "start a local dev server". */
  address?: string;
  namespace: string;
  /** The task queue the worker polls and the client starts releases on. Default `greenlight`. */
  taskQueue: string;
  /** Temporal Cloud API key. A secret: never logged. */
  apiKey?: string;
  tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
  devServerPort: number;
  uiPort: number;
  cliPath?: string;
}

export interface Settings {
  config: Config;
  configSource: string;
  stateDir: string;
  logLevel: z.output<typeof Environment>['GREENLIGHT_LOG_LEVEL'];
  temporal: TemporalSettings;
  /** PostgreSQL URL of the CMDB; absent means the embedded PGlite. A secret: never logged. */
  cmdbUrl?: string;
  /** How long a CMDB query may wait for its answer (ms). */
  cmdbTimeoutMs: number;
  searchPath: string;
  /** The worker's admin endpoint (metrics, breakers); port 0 turns it off. */
  admin: { host: string; port: number; token?: string };
  /** How long running activities may take to finish when the worker is told to stop (ms). */
  shutdownGraceMs: number;
  /** With a build id: the worker deployment version this worker is, and its workflows' behavior. */
  deployment?: WorkerDeployment;
  /** How many workflows the worker caches; absent: the SDK's default. */
  workflowCacheSize?: number;
}

export interface WorkerDeployment {
  name: string;
  buildId: string;
  behavior: 'auto-upgrade' | 'pinned';
}

/** Reads and validates the environment and the configuration file, once, at a composition root. */
export function loadSettings(env: NodeJS.ProcessEnv, cwd = process.cwd()): Settings {
  const e = parseOrThrow(Environment, env, 'invalid environment');
  const { config, source } = loadConfig(e.GREENLIGHT_CONFIG, cwd);
  if (Boolean(e.TEMPORAL_TLS_CERT) !== Boolean(e.TEMPORAL_TLS_KEY)) {
    throw new ConfigError(
      'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together: set both for mTLS, or neither',
    );
  }
  const isTls =
    e.TEMPORAL_TLS === 'true' ||
    Boolean(e.TEMPORAL_API_KEY || e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME);
  return {
    config,
    configSource: source,
    stateDir: resolve(cwd, e.GREENLIGHT_STATE_DIR),
    logLevel: e.GREENLIGHT_LOG_LEVEL,
    searchPath: e.PATH,
    cmdbUrl: e.GREENLIGHT_CMDB_URL,
    cmdbTimeoutMs: e.GREENLIGHT_CMDB_TIMEOUT,
    admin: { host: e.GREENLIGHT_ADMIN_HOST, port: e.GREENLIGHT_ADMIN_PORT, token: e.GREENLIGHT_ADMIN_TOKEN },
    shutdownGraceMs: e.GREENLIGHT_SHUTDOWN_GRACE,
    ...(e.GREENLIGHT_WORKFLOW_CACHE === undefined ? {} : { workflowCacheSize: e.GREENLIGHT_WORKFLOW_CACHE }),
    ...(e.GREENLIGHT_BUILD_ID
      ? {
          deployment: {
            name: e.GREENLIGHT_DEPLOYMENT_NAME,
            buildId: e.GREENLIGHT_BUILD_ID,
            behavior: e.GREENLIGHT_VERSIONING_BEHAVIOR,
          },
        }
      : {}),
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.GREENLIGHT_TASK_QUEUE,
      apiKey: e.TEMPORAL_API_KEY,
      tls: isTls
        ? {
            certPath: e.TEMPORAL_TLS_CERT,
            keyPath: e.TEMPORAL_TLS_KEY,
            caPath: e.TEMPORAL_TLS_CA,
            serverName: e.TEMPORAL_TLS_SERVER_NAME,
          }
        : undefined,
      devServerPort: e.GREENLIGHT_DEV_SERVER_PORT,
      uiPort: e.GREENLIGHT_UI_PORT,
      cliPath: e.TEMPORAL_CLI_PATH,
    },
  };
}

/** The configuration file (YAML or JSON), or the embedded default when no path is given. */
export function loadConfig(
  path: string | undefined,
  cwd = process.cwd(),
): { config: Config; source: string } {
  if (!path)
    return {
      config: parseOrThrow(Config, DEFAULT_CONFIG, 'embedded default configuration'),
      source: 'embedded default',
    };
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read GREENLIGHT_CONFIG ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    // YAML: keys such as `__proto__` become plain own keys (the schema then refuses them by name);
    // `<<` merges only in a `%YAML 1.1` document; more than 100 aliases are refused.
    data = /\.json$/i.test(full) ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(
      `${full} is not valid ${/\.json$/i.test(full) ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  const config = parseOrThrow(Config, data, `invalid configuration in ${full}`, writtenIn(text));
  // Module and secret file paths are relative to the configuration file.
  for (const target of Object.values(config.targets)) {
    if (target.infra.kind === 'terraform') target.infra.module = resolve(dirname(full), target.infra.module);
    if (target.environment.module)
      target.environment.module = resolve(dirname(full), target.environment.module);
    const secret = target.dns.kind === 'rfc2136' ? target.dns.tsig?.secret : undefined;
    if (secret && 'file' in secret) secret.file = resolve(dirname(full), secret.file);
    const backendEnv = target.infra.kind === 'terraform' ? (target.infra.backend?.env ?? {}) : {};
    for (const ref of Object.values(backendEnv))
      if ('file' in ref) ref.file = resolve(dirname(full), ref.file);
  }
  const secretRefs = [
    ...config.notifications.webhooks.flatMap((w) => [
      w.secret,
      typeof w.url === 'string' ? undefined : w.url,
    ]),
    ...Object.values(config.prometheus?.headers ?? {}),
    ...(config.encryption?.keys ?? []).map((k) => k.key),
  ];
  for (const ref of secretRefs) if (ref && 'file' in ref) ref.file = resolve(dirname(full), ref.file);
  if (config.artifacts.kind === 'local' && config.artifacts.dir)
    config.artifacts.dir = resolve(dirname(full), config.artifacts.dir);
  for (const template of Object.values(config.environments.templates)) {
    if (template.module) template.module = resolve(dirname(full), template.module);
  }
  return { config, source: full };
}

/** Where a number was written in a YAML or JSON text (JSON is YAML too), for error messages. */
function writtenIn(text: string): WrittenAt {
  let document: ReturnType<typeof parseDocument> | undefined;
  return (path) => {
    document ??= parseDocument(text);
    const node = document.getIn(path as unknown[], true);
    return isScalar(node) && typeof node.source === 'string' && node.source.length <= 80
      ? node.source
      : undefined;
  };
}
