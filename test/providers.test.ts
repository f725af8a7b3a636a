import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HttpCheckRunner } from '../src/providers/checks/http';
import { CommandCheckRunner } from '../src/providers/checks/command';
import type { CommandCheck, HttpCheck } from '../src/providers/checks/types';
import { LocalDnsStore } from '../src/providers/dns/local-store';
import { isProviderError } from '../src/providers/errors';
import { EXAMPLE_SERVICE, LocalProcessInfra } from '../src/providers/infra/local-process';
import { JsonFile } from '../src/providers/json-file';
import { getJson, isProcessAlive } from './helpers/inspect';

let stateDir: string;
before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-providers-'));
});
after(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('local process infrastructure', () => {
  it('runs the example service as its own process, idempotently, and stops it', async () => {
    const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
    const spec = {
      service: 'web',
      version: 'abc123',
      target: 'dev',
      hostname: 'web-abc123.dev.test',
      releaseId: 'r1',
    };
    const d = await infra.deploy(spec);
    assert.match(d.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await getJson(`${d.endpoint}/version`), { service: 'web', version: 'abc123' });
    const pid = (await infra.pidOf(spec.hostname))!;
    assert.ok(isProcessAlive(pid));

    const again = await infra.deploy(spec);
    assert.deepEqual(again, d, 'a retried deploy returns the running instance');
    assert.equal(await infra.pidOf(spec.hostname), pid);

    await infra.destroy(spec);
    assert.equal(isProcessAlive(pid), false);
    assert.equal(await infra.describe(spec), null);
    await infra.destroy(spec); // idempotent
  });

  it('refuses to reuse a host name that runs another version', async () => {
    const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
    const spec = {
      service: 'web',
      version: 'v3',
      target: 'dev',
      hostname: 'web-v3.dev.test',
      releaseId: 'r4',
    };
    await infra.deploy(spec);
    await assert.rejects(infra.deploy({ ...spec, version: 'V3' }), (e: unknown) => {
      assert.ok(isProviderError(e));
      assert.equal(e.isRetryable, false);
      assert.match(e.message, /web-v3\.dev\.test already runs web v3; refusing to reuse it for web V3/);
      return true;
    });
    await infra.destroy(spec);
  });

  it('reports an instance that dies as gone, and redeploys it', async () => {
    const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
    const spec = {
      service: 'web',
      version: 'v9',
      target: 'dev',
      hostname: 'web-v9.dev.test',
      releaseId: 'r2',
    };
    const first = await infra.deploy(spec);
    process.kill((await infra.pidOf(spec.hostname))!, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await infra.describe(spec), null);
    const second = await infra.deploy(spec);
    assert.notEqual(second.endpoint, first.endpoint);
    await infra.destroy(spec);
  });

  it('fails with a typed, retryable error when an instance cannot start', async () => {
    const infra = new LocalProcessInfra({
      stateDir,
      entryPoint: join(stateDir, 'missing.js'),
      startTimeoutMs: 3000,
    });
    await assert.rejects(
      infra.deploy({
        service: 'web',
        version: 'v0',
        target: 'dev',
        hostname: 'web-v0.dev.test',
        releaseId: 'r3',
      }),
      (e: unknown) => isProviderError(e) && e.kind === 'DeployFailed' && e.isRetryable,
    );
  });

  it('leaves no unknown process when its worker dies while an instance starts: the retry stops it', async () => {
    const spec = {
      service: 'web',
      version: 'v9',
      target: 'dev',
      hostname: 'web-v9.dev.test',
      releaseId: 'r9',
    };
    // A program that runs but never listens: the deploy waits, and its worker is killed meanwhile.
    const slow = join(stateDir, 'slow.js');
    await writeFile(slow, 'setInterval(() => {}, 1000);\n');
    const worker = spawn(
      process.execPath,
      [
        '-e',
        `const { LocalProcessInfra } = require(${JSON.stringify(require.resolve('../src/providers/infra/local-process'))});
         new LocalProcessInfra({ stateDir: process.argv[1], entryPoint: process.argv[2] }).deploy(JSON.parse(process.argv[3]));`,
        stateDir,
        slow,
        JSON.stringify(spec),
      ],
      { stdio: 'ignore' },
    );
    const file = join(stateDir, 'infra', `${spec.hostname}.json`);
    let orphan = 0;
    for (let i = 0; i < 100 && !orphan; i++) {
      await new Promise((r) => setTimeout(r, 100));
      orphan = existsSync(file) ? (JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid : 0;
    }
    worker.kill('SIGKILL');
    const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
    try {
      assert.ok(orphan > 0, 'the instance is recorded while it starts');
      assert.ok(isProcessAlive(orphan), 'the starting instance outlives its worker');
      assert.equal(
        await infra.describe(spec),
        null,
        'an instance that never listened does not count as running',
      );
      const deployed = await infra.deploy(spec);
      await waitUntilGone(orphan);
      assert.equal(isProcessAlive(orphan), false, 'the half-started instance was stopped');
      assert.deepEqual(await getJson(`${deployed.endpoint}/version`), { service: 'web', version: 'v9' });
    } finally {
      await infra.destroy(spec);
      if (orphan > 0 && isProcessAlive(orphan)) process.kill(orphan, 'SIGKILL');
    }
  });

  it('never signals a process that took over a recorded pid: it runs another program', async () => {
    const spec = {
      service: 'web',
      version: 'v8',
      target: 'dev',
      hostname: 'web-v8.dev.test',
      releaseId: 'r8',
    };
    // A process that is not the instance, under the pid the instance file names.
    const stranger = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      await mkdir(join(stateDir, 'infra'), { recursive: true });
      await writeFile(
        join(stateDir, 'infra', `${spec.hostname}.json`),
        JSON.stringify({ ...spec, pid: stranger.pid, port: 1234, startedAt: 'x', program: EXAMPLE_SERVICE }),
      );
      const infra = new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE });
      assert.equal(await infra.describe(spec), null, 'not the instance: nothing runs there');
      await infra.destroy(spec);
      assert.equal(isProcessAlive(stranger.pid!), true, 'the stranger was left alone');
    } finally {
      stranger.kill('SIGKILL');
    }
  });
});

describe("the example module's scripts", () => {
  const scripts = join(__dirname, '..', '..', 'examples', 'infra');
  it('stop an instance a cut-short apply left on the port before starting another, so none is left running', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const env = {
      PATH: process.env.PATH ?? '',
      SERVICE: 'web',
      VERSION: 'v1',
      PORT: String(port),
      STATE_FILE: join(stateDir, 'instance.json'),
    };
    const run = (script: string) => {
      const result = spawnSync(process.execPath, [join(scripts, script)], { env, encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
    };
    const pidOf = async () => (JSON.parse(await readFile(env.STATE_FILE, 'utf8')) as { pid: number }).pid;
    run('start.js');
    const first = await pidOf();
    // The apply runs again with the state file still there, as when Terraform was killed before it saved its state.
    run('start.js');
    const second = await pidOf();
    try {
      assert.notEqual(second, first);
      assert.equal(isProcessAlive(first), false, 'the earlier instance was stopped');
      assert.equal(isProcessAlive(second), true, 'the new one runs, and is the one recorded');
      assert.deepEqual(await getJson(`http://127.0.0.1:${port}/version`), { service: 'web', version: 'v1' });
    } finally {
      run('stop.js');
    }
    await waitUntilGone(second);
    assert.equal(isProcessAlive(second), false, 'stop.js stops what is recorded');
  });
});

async function waitUntilGone(pid: number): Promise<void> {
  for (let i = 0; i < 50 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

describe('local DNS store', () => {
  it('swaps an alias only when it holds the expected value', async () => {
    const dns = new LocalDnsStore(stateDir);
    const change = { name: 'app.dev.test', type: 'CNAME' as const, ttl: 30 };
    await dns.compareAndSwap({ ...change, expected: null, next: 'app-v1.dev.test' });
    await dns.compareAndSwap({ ...change, expected: 'app-v1.dev.test', next: 'app-v2.dev.test' });
    await assert.rejects(
      dns.compareAndSwap({ ...change, expected: 'app-v1.dev.test', next: 'app-v3.dev.test' }),
      (e: unknown) => {
        assert.ok(isProviderError(e));
        assert.equal(e.kind, 'DnsConflict');
        assert.equal(e.isRetryable, false);
        assert.match(e.message, /app\.dev\.test points to app-v2\.dev\.test, expected app-v1\.dev\.test/);
        return true;
      },
    );
    assert.equal(
      (await dns.get('APP.dev.test.'))?.value,
      'app-v2.dev.test',
      'names are case-insensitive, trailing dot ignored',
    );
  });

  it('resolves through CNAMEs to an address, and detects loops', async () => {
    const dns = new LocalDnsStore(stateDir);
    await dns.upsert({ name: 'app-v2.dev.test', type: 'A', value: '127.0.0.1', ttl: 30 });
    assert.deepEqual(await dns.resolve('app.dev.test'), { chain: ['app-v2.dev.test'], address: '127.0.0.1' });
    assert.deepEqual(await dns.resolve('nothing.dev.test'), { chain: [], address: null });
    await dns.upsert({ name: 'a.loop.test', type: 'CNAME', value: 'b.loop.test', ttl: 30 });
    await dns.upsert({ name: 'b.loop.test', type: 'CNAME', value: 'a.loop.test', ttl: 30 });
    await assert.rejects(dns.resolve('a.loop.test'), /CNAME loop/);
  });

  it('serialises concurrent writes so none is lost', async () => {
    const file = new JsonFile<{ n: number[] }>(join(stateDir, 'concurrent.json'), () => ({ n: [] }));
    await Promise.all(Array.from({ length: 50 }, (_, i) => file.update((doc) => void doc.n.push(i))));
    assert.equal((await file.read()).n.length, 50);
  });

  it('keeps every change when two processes change the same JSON file (workers sharing a state dir)', async () => {
    const path = join(stateDir, 'shared.json');
    const writer = join(__dirname, 'fixtures', 'json-file-writer.js');
    const run = (tag: string) =>
      new Promise<number | null>((resolve) =>
        execFile(process.execPath, [writer, path, tag, '150'], (error) =>
          resolve(error ? Number(error.code ?? 1) : 0),
        ),
      );
    assert.deepEqual(await Promise.all([run('a'), run('b')]), [0, 0]);
    const n = (await new JsonFile<{ n: string[] }>(path, () => ({ n: [] })).read()).n;
    assert.equal(n.length, 300, 'no change was lost');
    assert.equal(new Set(n).size, 300);
    assert.equal(existsSync(`${path}.lock`), false, 'the lock is gone');
  });

  it('waits for a lock another process holds, and breaks one its holder left when it died', async () => {
    const path = join(stateDir, 'locked.json');
    const file = new JsonFile<{ n: number[] }>(path, () => ({ n: [] }));
    await writeFile(`${path}.lock`, 'someone else\n');
    let isDone = false;
    const update = file.update((doc) => void doc.n.push(1)).then(() => (isDone = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(isDone, false, 'a fresh lock is waited for');
    // Its holder died 20 s ago: the lock was not refreshed since.
    const then = new Date(Date.now() - 20_000);
    await utimes(`${path}.lock`, then, then);
    await update;
    assert.deepEqual((await file.read()).n, [1]);
    assert.equal(existsSync(`${path}.lock`), false);
  });
});

describe('HTTP checks', () => {
  let endpoint: string;
  const server = createServer((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 300);
      return;
    }
    res.writeHead(req.url === '/ok' ? 200 : 500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: 'v5' }));
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const check = (over: Partial<HttpCheck>): HttpCheck => ({
    kind: 'http',
    name: 'c',
    path: '/ok',
    expectStatus: 200,
    latencyBudgetMs: 1000,
    repeat: 1,
    slow: false,
    ...over,
  });
  const ctx = () => ({ endpoint, service: 'web', version: 'v5' });
  const runner = new HttpCheckRunner();

  it('passes on status and templated body', async () => {
    const r = await runner.run(check({ bodyIncludes: '"version":"{{version}}"', repeat: 3 }), ctx());
    assert.equal(r.passed, true, r.detail);
    assert.match(r.detail, /3 requests, slowest \d+ ms/);
  });

  it('fails on a wrong status, a missing body text, a slow answer and a refused connection', async () => {
    assert.match((await runner.run(check({ path: '/err' }), ctx())).detail, /status 500, expected 200/);
    assert.match((await runner.run(check({ bodyIncludes: 'v6' }), ctx())).detail, /does not contain "v6"/);
    assert.match(
      (await runner.run(check({ path: '/slow', latencyBudgetMs: 100 }), ctx())).detail,
      /no answer within 100 ms/,
    );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await runner.run(check({}), { ...ctx(), endpoint: `http://127.0.0.1:${port}` });
    assert.equal(refused.passed, false);
    assert.match(refused.detail, /ECONNREFUSED/);
  });
});

describe('command checks', () => {
  const runner = new CommandCheckRunner({ searchPath: process.env.PATH ?? '' });
  const check = (command: string[], over: Partial<CommandCheck> = {}): CommandCheck => ({
    kind: 'command',
    name: 'cmd',
    command,
    timeoutMs: 10_000,
    slow: false,
    ...over,
  });
  const ctx = { endpoint: 'http://127.0.0.1:9', service: 'web', version: 'v7' };

  it('passes on exit 0 and sees only BASE_URL, the release and PATH in its environment', async () => {
    const script =
      'console.log(JSON.stringify(Object.keys(process.env).sort())); console.log(process.env.BASE_URL)';
    const r = await runner.run(check([process.execPath, '-e', script]), ctx);
    assert.equal(r.passed, true, r.detail);
    assert.match(r.detail, /^exit 0 in \d+ ms$/);
    const [keys, url] = r.output!.split('\n');
    assert.deepEqual(JSON.parse(keys), ['BASE_URL', 'GREENLIGHT_SERVICE', 'GREENLIGHT_VERSION', 'PATH']);
    assert.equal(url, 'http://127.0.0.1:9');
  });

  it('passes arguments to the program as they are: no shell ever sees them', async () => {
    const marker = join(stateDir, 'pwned');
    const hostile = `$(touch ${marker}); touch ${marker} && echo \`touch ${marker}\``;
    const r = await runner.run(
      check([
        process.execPath,
        '-e',
        'process.exit(process.argv[1] === process.argv[2] ? 0 : 1)',
        hostile,
        hostile,
      ]),
      ctx,
    );
    assert.equal(r.passed, true, r.detail);
    assert.equal(existsSync(marker), false, 'nothing was executed by a shell');
  });

  it('fails with the exit code and the tail of the output', async () => {
    const r = await runner.run(
      check([
        process.execPath,
        '-e',
        'console.log("x".repeat(5000)); console.error("boom"); process.exit(3)',
      ]),
      ctx,
    );
    assert.equal(r.passed, false);
    assert.match(r.detail, /^exit 3 after \d+ ms$/);
    assert.ok(r.output!.endsWith('boom'));
    assert.ok(r.output!.length <= 2000);
  });

  it('fails on a timeout, and on a program that does not exist', async () => {
    const slow = await runner.run(
      check([process.execPath, '-e', 'setTimeout(() => {}, 60000)'], { timeoutMs: 300 }),
      ctx,
    );
    assert.equal(slow.passed, false);
    assert.equal(slow.detail, 'timed out after 300 ms');
    const missing = await runner.run(check(['greenlight-no-such-program']), ctx);
    assert.equal(missing.passed, false);
    assert.equal(missing.detail, 'could not run greenlight-no-such-program: ENOENT');
  });

  it('does not wait for, or leave behind, processes the command started', async () => {
    const marker = `sleep 29.${process.pid}`;
    const background = await runner.run(check(['sh', '-c', `${marker} & echo started`]), ctx);
    assert.equal(background.passed, true, background.detail);
    assert.equal(background.output, 'started');
    const t0 = Date.now();
    const slow = await runner.run(check(['sh', '-c', `${marker}; echo never`], { timeoutMs: 500 }), ctx);
    assert.equal(slow.detail, 'timed out after 500 ms');
    assert.ok(Date.now() - t0 < 5000, 'the timeout is kept even though the shell waits on a child');
    await new Promise((r) => setTimeout(r, 300));
    const left = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', `no process of the checks is left: ${left}`);
  });

  it('does not start a command for an already cancelled check', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled before'));
    const marker = join(stateDir, 'started');
    await assert.rejects(
      runner.run(check(['touch', marker]), { ...ctx, signal: controller.signal }),
      /cancelled before/,
    );
    assert.equal(existsSync(marker), false);
  });

  it('stops the command when the activity is cancelled', async () => {
    const controller = new AbortController();
    const pending = runner.run(check([process.execPath, '-e', 'setTimeout(() => {}, 60000)']), {
      ...ctx,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('cancelled')), 200);
    const t0 = Date.now();
    await assert.rejects(pending, /cancelled/);
    assert.ok(Date.now() - t0 < 5000);
  });
});
