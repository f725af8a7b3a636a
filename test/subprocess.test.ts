import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { isAlive } from '../src/providers/process';
import { isSubprocessError, runProcess } from '../src/providers/subprocess';

/** Alive and not a zombie waiting to be reaped (a container's init may never reap it). */
function isRunning(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false; // gone between the two looks
  }
}

const node = (script: string) => ({ file: process.execPath, args: ['-e', script], env: {} });

describe('one way to run a program', () => {
  it('gives it only the environment it is given, never a shell', async () => {
    process.env.GREENLIGHT_TEST_SECRET = 'hunter2';
    const ended = await runProcess({
      ...node('console.log(JSON.stringify(process.env)); console.log(process.argv[1])'),
      args: ['-e', 'console.log(JSON.stringify(process.env)); console.log(process.argv[1])', '$(id); `id`'],
      env: { ONLY: 'this' },
    });
    delete process.env.GREENLIGHT_TEST_SECRET;
    assert.equal(ended.exitCode, 0);
    const [envLine, argLine] = ended.stdout.trim().split('\n');
    assert.deepEqual(
      Object.keys(JSON.parse(envLine!)).filter((k) => k !== 'NODE_OPTIONS'),
      ['ONLY'],
    );
    assert.equal(argLine, '$(id); `id`', 'the argument arrives as written');
  });

  it('stops a program that outlives its time, and what it started, and says so', async () => {
    const ended = await runProcess({
      ...node(
        "require('child_process').spawn(process.execPath, ['-e', 'console.log(\\'child \\' + process.pid); setInterval(() => {}, 1000)'], { stdio: 'inherit' }); setInterval(() => {}, 1000)",
      ),
      timeoutMs: 500,
      killGraceMs: 300,
    });
    assert.equal(ended.isTimedOut, true);
    assert.equal(ended.signal, 'SIGTERM');
    const child = Number(/child (\d+)/.exec(ended.outputTail)?.[1]);
    assert.ok(child > 0, ended.outputTail);
    for (let i = 0; i < 40 && isRunning(child); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isRunning(child), false, 'what it started was stopped with it');
  });

  it('sends SIGINT on cancellation, then SIGKILL after the grace when it is ignored', async () => {
    const abort = new AbortController();
    const running = runProcess({
      ...node(
        "process.on('SIGINT', () => console.log('got SIGINT')); console.log('ready'); setInterval(() => {}, 1000)",
      ),
      signal: abort.signal,
      killGraceMs: 300,
      onLine: (line) => {
        if (line === 'ready') abort.abort();
      },
    });
    const ended = await running;
    assert.equal(ended.isCanceled, true);
    assert.match(ended.outputTail, /got SIGINT/);
    assert.equal(ended.signal, 'SIGKILL');
  });

  it('keeps the end of the output, and fails clearly when the program does not exist', async () => {
    const ended = await runProcess({
      ...node("process.stdout.write('x'.repeat(10000) + 'END'); process.exit(3)"),
      tailChars: 100,
    });
    assert.equal(ended.exitCode, 3);
    assert.equal(ended.outputTail.length, 100);
    assert.ok(ended.outputTail.endsWith('END'));
    await assert.rejects(runProcess({ file: '/no/such/program', args: [], env: {} }), (e: unknown) => {
      assert.ok(isSubprocessError(e));
      assert.equal(e.message, 'cannot run /no/such/program: ENOENT');
      return true;
    });
  });
});
