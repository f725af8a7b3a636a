import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { uncountedReleaseMetrics, workflowBundle } from '../../harness/temporal';

/** The histories that every later version of the workflows must replay (see replay.test.ts). */
export const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'histories');

/**
 * Replays the history of each workflow (fixture name → workflow id) against the current code, and
 * with GREENLIGHT_RECORD_HISTORIES=1 records the ones that have no fixture yet as `<prefix><name>.json`
 * (existing ones are never rewritten: they are the histories of earlier versions).
 */
export async function replayAndRecord(client: Client, workflows: Iterable<[string, string]>, prefix: string) {
  const existing = new Set(await readdir(FIXTURES));
  for (const [name, workflowId] of workflows) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    await assert.doesNotReject(
      Worker.runReplayHistory(
        { workflowBundle: await workflowBundle(), sinks: uncountedReleaseMetrics() },
        history,
        workflowId,
      ),
    );
    const file = `${prefix}${name}.json`;
    if (process.env.GREENLIGHT_RECORD_HISTORIES === '1' && !existing.has(file)) {
      // Stack traces name paths of the recording machine; replay does not need them.
      const json = historyToJSON(history).replace(/"stackTrace":\s*"(?:[^"\\]|\\.)*"/g, '"stackTrace": ""');
      await writeFile(join(FIXTURES, file), json);
    }
  }
}
