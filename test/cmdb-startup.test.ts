import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { LocalProcessInfra } from '../src/providers/infra/local-process';
import { EXAMPLE_SERVICE } from '../src/providers/infra/local-process';
import { freePort, startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { destroyAll } from '../harness/release';
import { startDevServer } from '../harness/temporal';
import { runCli } from './helpers/cli';

const MAIN = join(__dirname, '..', 'src', 'main.js');
const PASSWORD = 'pw-never-shown-42';

/** Runs `npm start`'s program until it exits, and returns its exit code and output. */
function runMain(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

async function waitUntil(what: string, isDone: () => boolean | Promise<boolean>, output = () => '') {
  const deadline = Date.now() + 120_000;
  while (!(await isDone())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const linesWith = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l));

describe('the CMDB URL from the command line', () => {
  let stateDir: string;
  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'greenlight-cmdb-url-'));
  });
  after(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  const baseEnv = () => ({
    PATH: process.env.PATH,
    GREENLIGHT_STATE_DIR: stateDir,
    TEMPORAL_ADDRESS: '127.0.0.1:1',
  });

  it('makes `cmdb show` say, in one line, that the CMDB is unreachable', async () => {
    const url = `postgres://greenlight:${PASSWORD}@127.0.0.1:${await freePort()}/postgres`;
    const shown = await runCli(['cmdb', 'show', 'web'], { ...baseEnv(), GREENLIGHT_CMDB_URL: url });
    assert.equal(shown.code, 1);
    assert.match(
      shown.stderr,
      /^greenlight: the CMDB at postgres:\/\/greenlight@127\.0\.0\.1:\d+\/postgres is unreachable \(ECONNREFUSED\); could not read deployments\n$/,
    );
  });

  for (const [url, problem] of [
    [
      `mysql://root:${PASSWORD}@db.internal:3306/cmdb`,
      /GREENLIGHT_CMDB_URL: mysql:\/\/ is not PostgreSQL; expected postgres:\/\//,
    ],
    [
      `postgres://root:${PASSWORD}#@db.internal:5432/cmdb`,
      /GREENLIGHT_CMDB_URL: not a valid URL; expected postgres:\/\//,
    ],
  ] as const) {
    it(`is refused in one line, password unshown: ${url.split(':')[0]}${url.includes('#') ? ' (malformed)' : ''}`, async () => {
      // Nothing listens there: were the URL taken, the worker would fail later, not start a server.
      const env = { ...baseEnv(), GREENLIGHT_CMDB_URL: url };
      const started = await runMain(env);
      const cli = await runCli(['cmdb', 'show', 'web'], env);
      for (const { code, stderr } of [started, cli]) {
        assert.equal(code, 1, stderr);
        assert.equal(stderr.trimEnd().split('\n').length, 1, `one line:\n${stderr}`);
        assert.match(stderr, /^greenlight: invalid environment: /);
        assert.match(stderr, problem);
        assert.ok(!stderr.includes(PASSWORD), stderr);
        assert.ok(!stderr.includes('root'), stderr);
      }
    });
  }
});

describe('a worker whose CMDB is down when it starts', () => {
  let server: TestWorkflowEnvironment;
  let postgres: PostgresServer | undefined;
  let worker: ChildProcess | undefined;
  let stateDir: string;
  let env: NodeJS.ProcessEnv;
  let output = '';

  before(async () => {
    server = await startDevServer();
    stateDir = await mkdtemp(join(tmpdir(), 'greenlight-cmdb-down-'));
    const config = join(stateDir, 'greenlight.config.json');
    await writeFile(
      config,
      JSON.stringify({
        zone: 'test.internal',
        targets: {
          dev: {
            recordTtl: 1,
            policy: 'tests_passed',
            bake: '1s',
            healthCheckInterval: '200ms',
            terminationWait: '500ms',
          },
        },
        checks: [{ name: 'health', path: '/healthz' }],
        healthCheck: { name: 'health', path: '/healthz', latencyBudget: '1s' },
        // A trial soon after the server is back.
        breakers: { dependencies: { cmdb: { waitDuration: '2s' } } },
      }),
    );
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GREENLIGHT_STATE_DIR: stateDir,
      GREENLIGHT_CONFIG: config,
      GREENLIGHT_LOG_LEVEL: 'info',
      GREENLIGHT_ADMIN_PORT: '0',
      GREENLIGHT_TASK_QUEUE: `greenlight-cmdb-down-${process.pid}`,
      // Nothing listens on this port yet.
      GREENLIGHT_CMDB_URL: `postgres://greenlight:${PASSWORD}@127.0.0.1:${await freePort()}/postgres`,
      TEMPORAL_ADDRESS: server.connection.options.address,
    };
  });

  after(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGINT');
      await new Promise((r) => worker!.once('exit', r));
    }
    await postgres?.stop();
    await destroyAll(new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }), stateDir);
    await server?.teardown();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('starts and releases, keeps CMDB records in the outbox, and writes them once the CMDB is up', async () => {
    worker = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    worker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    worker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const log = () => output;
    await waitUntil(
      'the worker started',
      () => {
        if (worker!.exitCode !== null) throw new Error(`the worker exited ${worker!.exitCode}:\n${output}`);
        return output.includes('"msg":"worker started"');
      },
      log,
    );
    const [unreachable, ...more] = linesWith(output, /CMDB unreachable/);
    assert.deepEqual(more, [], 'one line says the CMDB is unreachable');
    assert.match(unreachable!, /starting without it/);
    assert.match(unreachable!, /is unreachable \(ECONNREFUSED\)/);
    assert.deepEqual(linesWith(output, /^\s+at /), [], 'no stack trace');
    assert.ok(!output.includes(PASSWORD), 'the password is never logged');

    // A release goes through; its records wait in the outbox.
    const release = await runCli(
      ['release', 'start', '--service', 'web', '--version', 'v1', '--target', 'dev', '--wait', '--json'],
      env,
    );
    assert.equal(release.code, 0, release.stderr + output);
    assert.equal((JSON.parse(release.stdout) as { status: { stage: string } }).status.stage, 'completed');
    const outboxPath = join(stateDir, 'outbox', 'cmdb.json');
    const deferred = async () =>
      (JSON.parse(await readFile(outboxPath, 'utf8')) as { entries: unknown[] }).entries.length;
    assert.ok((await deferred()) > 0, 'the release records are in the outbox');

    const down = await runCli(['cmdb', 'show', 'web'], env);
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      /^greenlight: the CMDB at postgres:\/\/greenlight@127\.0\.0\.1:\d+\/postgres is unreachable \(ECONNREFUSED\); could not read deployments\n$/,
    );

    // The server comes up: the worker migrates it, and the outbox drains into it.
    postgres = await startPostgres({
      port: Number(new URL(env.GREENLIGHT_CMDB_URL!).port),
      password: PASSWORD,
    });
    await waitUntil(
      'the CMDB is migrated',
      () => output.includes('CMDB reachable: migrated and in use'),
      log,
    );
    await waitUntil('the outbox is replayed', async () => (await deferred()) === 0, log);
    const shown = await runCli(['cmdb', 'show', 'web', '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    const cmdb = JSON.parse(shown.stdout) as {
      deployments: { version: string; status: string }[];
      changes: { stage: string }[];
    };
    assert.deepEqual(
      cmdb.deployments.map((d) => [d.version, d.status]),
      [['v1', 'live']],
    );
    assert.ok(
      cmdb.changes.some((c) => c.stage === 'completed'),
      JSON.stringify(cmdb.changes),
    );
    assert.equal(linesWith(output, /CMDB unreachable/).length, 1, 'still one line');
    assert.deepEqual(linesWith(output, /^\s+at /), []);
  });

  it('stops, in one line, when the server refuses the login', async () => {
    const port = Number(new URL(env.GREENLIGHT_CMDB_URL!).port);
    postgres ??= await startPostgres({ port, password: PASSWORD });
    const wrong = env.GREENLIGHT_CMDB_URL!.replace(PASSWORD, 'not-the-password-43');
    const { code, stderr } = await runMain({ ...env, GREENLIGHT_CMDB_URL: wrong });
    assert.equal(code, 1);
    assert.equal(stderr.trimEnd().split('\n').length, 1, `one line, no stack trace:\n${stderr}`);
    assert.match(stderr, /^greenlight: CMDB migrate failed: password authentication failed/);
    assert.ok(!stderr.includes('not-the-password-43'), stderr);
  });
});
