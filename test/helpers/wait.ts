import type { GreenlightClient } from '../../src/client/api';
import type { ReleaseStatus, Stage } from '../../src/shared/release';

/** Polls the status query until `predicate` holds. */
export async function waitFor(
  api: GreenlightClient,
  releaseId: string,
  predicate: (s: ReleaseStatus) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<ReleaseStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: ReleaseStatus | undefined;
  while (Date.now() < deadline) {
    last = await api.status(releaseId);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}; last stage ${last?.stage}: ${JSON.stringify(last?.history)}`,
  );
}

export const waitForStage = (api: GreenlightClient, releaseId: string, stage: Stage, timeoutMs?: number) =>
  waitFor(api, releaseId, (s) => s.stage === stage, `stage ${stage}`, timeoutMs);
