// The baselines of the orchestration benchmarks: Temporal's own cost for the same work a release
// asks of it, with nothing of greenlight's. Like a release, a "lane" is started by Update-with-Start
// and runs the "release" as its child until it ends; the child runs as many activities (each doing
// nothing) and timers (of the same lengths) as a release did, and waits for as many signals where a
// release waits for its approvals.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  condition,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1m' });

/** What a release asked of Temporal: counted from one release's history by the benchmark. */
export interface Shape {
  /** Activities before the release waits for people (an approval), and after. */
  before: number;
  after: number;
  /** Signals or Updates it waits for in between (approvals): 0 for a release that needs none. */
  signals: number;
  timersMs: number[];
}

export const startBaseline = defineUpdate<string, [Shape]>('start');
export const nudge = defineSignal('nudge');
/** An approval, as a release takes one: an Update the worker answers. */
export const approve = defineUpdate<number, [string]>('approve');
/** Set while the baseline waits for its signals, as a release's stage says it awaits approval. */
const stage = defineSearchAttributeKey('GreenlightStage', SearchAttributeType.KEYWORD);

export async function baselineLane(): Promise<void> {
  let child: Promise<void> | null = null;
  setHandler(startBaseline, async (shape) => {
    const handle = await startChild(baselineRelease, { args: [shape] });
    child = handle.result();
    return handle.workflowId;
  });
  await condition(() => child !== null);
  await child;
}

export async function baselineRelease(shape: Shape): Promise<void> {
  let nudges = 0;
  setHandler(nudge, () => void nudges++);
  setHandler(approve, () => ++nudges);
  for (let i = 0; i < shape.before; i++) await noop();
  if (shape.signals > 0) {
    upsertSearchAttributes([{ key: stage, value: 'awaiting_approval' }]);
    await condition(() => nudges >= shape.signals);
    upsertSearchAttributes([{ key: stage, value: 'approved' }]);
  }
  for (let i = 0; i < shape.after; i++) await noop();
  for (const ms of shape.timersMs) await sleep(ms);
}

/** The sequential benchmark's baseline: the same number of activities, one after another. */
export async function baselineSequence(activityCount: number): Promise<void> {
  for (let i = 0; i < activityCount; i++) await noop();
}

/** The idle benchmark's baseline: wakes every `intervalMs` to run one activity, as an idle environment checks drift. */
export async function baselineIdle(intervalMs: number): Promise<void> {
  upsertSearchAttributes([{ key: stage, value: 'active' }]);
  for (;;) {
    await sleep(intervalMs);
    await noop();
  }
}
