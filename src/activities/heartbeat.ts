import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** How often a running activity heartbeats; the workflows' heartbeat timeout is a few times this. */
export const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Every activity heartbeats while it runs. A worker that dies is then noticed within the heartbeat
 * timeout (seconds), not the start-to-close timeout (minutes), and the attempt is retried on
 * another worker; and cancellation, which reaches an activity only through its heartbeats, is
 * heard during long provider calls. The first heartbeat is due one interval after the start, not
 * at it: the heartbeat timeout already runs from the start, and most activities end sooner, so a
 * heartbeat at the start would only add a call to the server for each of them.
 */
export const heartbeatInterceptors: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const ctx = Context.current();
      // A local activity runs inside the workflow task: it has no heartbeat to send.
      if (ctx.info.isLocal) return next(input);
      const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
