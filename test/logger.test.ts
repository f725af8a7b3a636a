import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { Runtime } from '@temporalio/worker';
import { createLogger, installTemporalLogger } from '../src/logger';

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('the worker log', () => {
  it('writes one JSON object per line when not on a terminal, and readable lines on one', () => {
    const json = capture();
    createLogger('info', { destination: json.stream }).info(
      { releaseId: 'r1', password: 'hunter2' },
      'cutover done',
    );
    const [line] = json.lines();
    const parsed = JSON.parse(line!) as Record<string, unknown>;
    assert.equal(parsed.msg, 'cutover done');
    assert.equal(parsed.password, '[redacted]');

    const text = capture();
    createLogger('info', { isTerminal: true, destination: text.stream }).info(
      { releaseId: 'r1' },
      'cutover done',
    );
    assert.match(text.lines()[0]!, /^\[\d\d:\d\d:\d\d\] INFO: cutover done$/);
    assert.match(text.lines().join('\n'), /releaseId: "r1"/);
  });

  it('reports a failed workflow once, with its reason instead of {}', () => {
    const out = capture();
    installTemporalLogger(createLogger('info', { destination: out.stream }));
    // Errors from the workflow sandbox come from another realm.
    const error = runInNewContext(
      'Object.assign(new Error("release rolled back: health check failed"), { type: "ReleaseFailed" })',
    );
    const meta = { workflowId: 'web-dev-v2-abc', runId: 'run-1', error };
    Runtime.instance().logger.warn('Workflow failed', meta);
    Runtime.instance().logger.warn('Workflow failed', meta);
    const failures = out.lines().map((l) => JSON.parse(l) as { msg: string; error: unknown });
    assert.equal(failures.length, 1, 'once per run');
    assert.deepEqual(failures[0]!.error, {
      type: 'ReleaseFailed',
      message: 'release rolled back: health check failed',
    });
  });
});
