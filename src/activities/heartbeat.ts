import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** How often a running activity heartbeats; the workflows' heartbeat timeout is a few times this. */
export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Every activity heartbeats while it runs. A worker that dies is then noticed within the heartbeat
 * timeout (seconds), not the start-to-close timeout (minutes), and the attempt is retried on
 * another worker; and cancellation, which reaches an activity only through its heartbeats, is
 * heard during long provider calls.
 */
export const heartbeatInterceptors: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const ctx = Context.current();
      // A local activity runs inside the workflow task: it has no heartbeat to send.
      if (ctx.info.isLocal) return next(input);
      ctx.heartbeat();
      const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
