import { condition, setHandler } from '@temporalio/workflow';
import { freeLaneSignal } from '../shared/messages';

/**
 * The lock of one service and target. Its workflow id is unique per lane, so while one release
 * holds it (as its child), starting another fails atomically. It ends when freed or when its
 * parent closes.
 */
export async function releaseLane(holder: { releaseId: string }): Promise<{ releaseId: string }> {
  let isFree = false;
  setHandler(freeLaneSignal, () => {
    isFree = true;
  });
  await condition(() => isFree);
  return holder;
}
