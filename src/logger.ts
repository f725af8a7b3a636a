import pino from 'pino';
import pinoPretty from 'pino-pretty';
import type { Logger } from 'pino';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/worker';
import { OWNER_BY_WORKFLOW } from './activities/log-bindings';

export type { Logger };

/** Keys whose values never reach a log line. */
export const REDACTED_PATHS = [
  'apiKey',
  '*.apiKey',
  'temporal.apiKey',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
];

/**
 * The worker's logger: readable lines on a terminal, one JSON object per line otherwise (for a log
 * collector). Secrets under the redacted keys never appear in either.
 */
export function createLogger(
  level: string,
  options: { isTerminal?: boolean; destination?: NodeJS.WritableStream } = {},
): Logger {
  const settings = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { app: 'greenlight' },
  };
  const { isTerminal = false, destination = process.stdout } = options;
  if (!isTerminal) return options.destination ? pino(settings, destination) : pino(settings);
  return pino(
    settings,
    pinoPretty({
      sync: true,
      colorize: destination === process.stdout,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname,app',
      destination,
    }),
  );
}

const TEMPORAL_LEVELS: Record<string, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'ERROR',
  silent: 'ERROR',
};

/**
 * Routes the Temporal SDK's logs (worker, workflow and activity loggers) into pino; with
 * `metricsAddress` (host:port), the SDK serves its worker metrics there for Prometheus.
 */
export function installTemporalLogger(logger: Logger, options: { metricsAddress?: string } = {}): void {
  const sdk = logger.child({ component: 'temporal' });
  const failed = new Set<string>();
  Runtime.install({
    ...(options.metricsAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metricsAddress } } } }
      : {}),
    logger: new DefaultLogger(TEMPORAL_LEVELS[logger.level] ?? 'INFO', (entry) => {
      const meta = readableMeta(entry.meta ?? {});
      // A failed workflow is reported once, with its reason (the SDK may report it again on replay).
      if (entry.message === 'Workflow failed') {
        const key = `${String(meta.workflowId)}/${String(meta.runId)}`;
        if (failed.has(key)) return;
        if (failed.size >= 1000) failed.clear();
        failed.add(key);
      }
      switch (entry.level) {
        case 'TRACE':
          return sdk.trace(meta, entry.message);
        case 'DEBUG':
          return sdk.debug(meta, entry.message);
        case 'INFO':
          return sdk.info(meta, entry.message);
        case 'WARN':
          return sdk.warn(meta, entry.message);
        default:
          return sdk.error(meta, entry.message);
      }
    }),
  });
}

/** Errors in the SDK's log metadata become their type and message: JSON would print `{}`. */
function readableMeta(meta: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    // Not `instanceof`: errors from the workflow sandbox come from another realm.
    const isError = typeof value === 'object' && value !== null && 'message' in value && 'stack' in value;
    out[key] = isError ? describeError(value as Error) : value;
  }
  // A workflow's own lines are bound to what it is: `release`, `environment` or `train` (its id).
  const owner = typeof meta.workflowType === 'string' ? OWNER_BY_WORKFLOW[meta.workflowType] : undefined;
  if (owner && meta.activityType === undefined && typeof meta.workflowId === 'string' && !(owner in out))
    out[owner] = meta.workflowId;
  return out;
}

function describeError(e: Error): { type: string; message: string; cause?: string } {
  const type = (e as { type?: unknown }).type;
  const cause = typeof e.cause === 'object' && e.cause !== null ? (e.cause as Error).message : undefined;
  return { type: typeof type === 'string' ? type : e.name, message: e.message, ...(cause ? { cause } : {}) };
}
