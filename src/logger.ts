import pino from 'pino';
import type { Logger } from 'pino';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { LogLevel } from '@temporalio/worker';

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

export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { app: 'greenlight' },
  });
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

/** Routes the Temporal SDK's logs (worker, workflow and activity loggers) into pino. */
export function installTemporalLogger(logger: Logger): void {
  const sdk = logger.child({ component: 'temporal' });
  Runtime.install({
    logger: new DefaultLogger(TEMPORAL_LEVELS[logger.level] ?? 'INFO', (entry) => {
      const meta = entry.meta ?? {};
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
