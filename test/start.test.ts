import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalProcessInfra } from '../src/providers/infra/local-process';
import { EXAMPLE_SERVICE } from '../src/providers/infra/local-process';
import { freePort } from './helpers/postgres';
import { destroyAll } from '../harness/release';
import { temporalCliPath } from '../harness/temporal';
import { runCli } from './helpers/cli';
import { getJson } from './helpers/inspect';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

let stateDir: string;
let env: NodeJS.ProcessEnv;
/** Every `npm start` this file ran: stopped at the end even when a test failed half-way. */
const children: ChildProcess[] = [];

/** `npm start`'s program, until it prints that the worker started. */
async function start(): Promise<{ child: ChildProcess; output: () => string }> {
  // Its own process group, so that a stop can be a terminal's Ctrl-C: SIGINT to the whole group.
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('"msg":"worker started"')) {
    if (child.exitCode !== null) throw new Error(`npm start exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not start the worker:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, output: () => output };
}

/** Ctrl-C in a terminal: SIGINT to the process group, the dev server included. */
async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  process.kill(-child.pid!, 'SIGINT');
  return exited;
}

const cli = (args: string[]) => runCli(args, env);

before(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'greenlight-start-'));
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_CLI_PATH: await temporalCliPath(),
    GREENLIGHT_STATE_DIR: stateDir,
    GREENLIGHT_DEV_SERVER_PORT: String(await freePort()),
    GREENLIGHT_UI_PORT: String(await freePort()),
    GREENLIGHT_LOG_LEVEL: 'info',
  };
});

after(async () => {
  for (const child of children) if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  await destroyAll(new LocalProcessInfra({ stateDir, entryPoint: EXAMPLE_SERVICE }), stateDir);
  await rm(stateDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('runs a dev server with its UI and a worker, and a release survives a restart of both', async () => {
    const first = await start();
    // The log and this line reach the pipe by two writers: wait for both.
    for (let i = 0; i < 100 && !first.output().includes('Temporal Web UI'); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(
      first.output(),
      new RegExp(`Temporal Web UI: http://localhost:${env.GREENLIGHT_UI_PORT}/namespaces/default/workflows`),
    );
    // The workflow bundle is built quietly: webpack's report tells an operator nothing.
    assert.doesNotMatch(first.output(), /webpack/i);
    const ui = await fetch(`http://127.0.0.1:${env.GREENLIGHT_UI_PORT}/`);
    assert.equal(ui.status, 200, 'the Web UI answers');

    const started = await cli([
      'release',
      'start',
      '--service',
      'web',
      '--version',
      '1f2e3d4',
      '--target',
      'stage',
      '--json',
    ]);
    assert.equal(started.code, 0, started.stderr);
    const { releaseId } = JSON.parse(started.stdout) as { releaseId: string };
    for (let i = 0; ; i++) {
      const s = JSON.parse((await cli(['release', 'status', releaseId, '--json'])).stdout) as {
        stage: string;
      };
      if (s.stage === 'awaiting_approval') break;
      assert.ok(i < 100, `release did not reach the approval gate: ${s.stage}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(await stop(first.child), 0, 'a clean shutdown on SIGINT');

    // Everything stopped: the server's database under the state dir keeps the release.
    const second = await start();
    const approved = await cli(['release', 'approve', releaseId, '--approver', 'bob']);
    assert.equal(approved.code, 0, approved.stderr + second.output());
    const watched = await cli(['release', 'watch', releaseId]);
    assert.equal(watched.code, 0, watched.stderr);
    const status = JSON.parse((await cli(['release', 'status', releaseId, '--json'])).stdout) as {
      stage: string;
      live: { endpoint: string };
    };
    assert.equal(status.stage, 'completed');
    assert.deepEqual(await getJson(`${status.live.endpoint}/version`), {
      service: 'web',
      version: '1f2e3d4',
    });
    const refused = await cli(['local', 'teardown']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the worker \(process \d+\) is running on .*; stop it first/);
    assert.equal(await stop(second.child), 0);

    // On stop, it says what keeps running and how to stop it; the shutdown itself is quiet.
    const stopping = second.output().slice(second.output().indexOf('"msg":"shutting down'));
    assert.match(
      stopping,
      /1 local deployment keeps running, like real infrastructure; `npx greenlight local teardown` stops them/,
    );
    const warnings = stopping.split('\n').filter((line) => /"level":(40|50)/.test(line));
    assert.deepEqual(warnings, [], 'no warning or error while shutting down');
    const teardown = await cli(['local', 'teardown']);
    assert.equal(teardown.code, 0, teardown.stderr);
    assert.match(
      teardown.stdout,
      /stopped web 1f2e3d4 \(web-1f2e3d4\.stage\.greenlight\.local\)\nremoved 2 DNS records/,
    );
    await assert.rejects(fetch(`${status.live.endpoint}/version`), 'the local deployment is stopped');
  });
});

describe('npm start with a flow that has an error', () => {
  /** `npm start`'s program with this configuration, to its exit. */
  async function refusedAtStart(config: object): Promise<{ code: number | null; output: string }> {
    const file = join(stateDir, 'bad-flow.config.json');
    await writeFile(file, JSON.stringify(config));
    const child = spawn(process.execPath, [MAIN], {
      env: { ...env, GREENLIGHT_CONFIG: file },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    return { code, output };
  }
  const base = {
    targets: { dev: { environment: { flow: 'custom' } } },
    checks: [{ name: 'health', path: '/healthz' }],
    healthCheck: { name: 'health', path: '/healthz' },
  };
  const flow = (transitions: object[]) => ({
    ...base,
    environments: { flows: { custom: { states: ['new', 'active', 'gone'], transitions } } },
  });

  it('refuses to start, naming the key of an unknown state, before anything runs', async () => {
    const { code, output } = await refusedAtStart(
      flow([
        { on: 'start', from: 'new', to: 'actve', auto: true },
        { on: 'decommission', from: '*', to: 'gone' },
      ]),
    );
    assert.equal(code, 1, output);
    assert.match(
      output,
      /environments\.flows\.custom\.transitions\.0\.to: unknown state "actve"; the states are new, active, gone/,
    );
    assert.doesNotMatch(output, /worker started/);
  });

  it('refuses a flow that runs terraform where the environment has no module, naming the key', async () => {
    const { code, output } = await refusedAtStart(
      flow([
        { on: 'start', from: 'new', to: 'active', auto: true, actions: [{ run: 'terraform.apply' }] },
        { on: 'decommission', from: '*', to: 'gone', actions: [{ run: 'terraform.destroy' }] },
      ]),
    );
    assert.equal(code, 1, output);
    assert.match(
      output,
      /targets\.dev\.environment\.module: the flow custom runs terraform actions: give this environment a module/,
    );
  });
});
