import { z } from 'zod';
import { TrainPartName } from '../shared/train';
import { CommandCheckConfig } from './checks';
import { namedRecord, TimerDuration } from './fields';

/**
 * What release trains may run, defined here and only named by a train: a train is started by
 * whoever may start workflows, so the commands it runs come from the worker's configuration.
 */
export const TrainsConfig = z.strictObject({
  /**
   * Cross-service checks, run against every green of a train together: commands (argument
   * arrays, no shell) that get each green's URL as `GREENLIGHT_GREEN_<SERVICE>_URL`.
   */
  checks: z
    .array(CommandCheckConfig.safeExtend({ name: TrainPartName }))
    .max(20)
    .default([])
    .superRefine((checks, ctx) => {
      const names = checks.map((c) => c.name);
      const repeated = names.find((n, i) => names.indexOf(n) !== i);
      if (repeated) ctx.addIssue({ code: 'custom', message: `two checks are named ${repeated}` });
    }),
  /** Final actions by name (`finalAction` of a train): a command run once every service has baked. */
  actions: namedRecord(
    TrainPartName,
    z.strictObject({
      command: CommandCheckConfig.shape.command,
      timeout: TimerDuration.prefault('10m'),
    }),
    'action',
  ).default({}),
});
export type TrainsConfig = z.output<typeof TrainsConfig>;
