// The libraries every workflow shares, loaded once when the worker's sandbox starts
// (`preloadModules`) instead of once per workflow: each workflow otherwise evaluates its own copy of
// every module it imports, and zod and luxon alone are about 4 MB of heap per cached workflow.
// Neither keeps state a workflow changes. The sandbox freezes what it shares, so anything a library
// sets up lazily must be set up here, before the freeze: zod registers its default locale and its
// memoizer in its global configuration when the first schema (the first container) is built.
// This module uses what it imports, which also keeps the bundler from dropping the imports (both
// libraries declare themselves free of side effects).
import { DateTime } from 'luxon';
import { z } from 'zod';

const settled = z
  .object({ at: z.string() })
  .safeParse({ at: DateTime.fromMillis(0, { zone: 'utc' }).toISO() });

export const sharedLibraries = { DateTime, z, settled: settled.success };
