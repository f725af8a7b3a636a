import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/load';
import type { ConfigInput } from '../src/config/schema';
import { startBind } from './helpers/bind';
import type { BindServer } from './helpers/bind';
import { destroyModuleDeployments, EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness } from '../harness/release';
import { workerLog } from '../harness/temporal';
import { runCli } from './helpers/cli';
import { getJson, readableText } from './helpers/inspect';

/**
 * The documented configuration (examples/greenlight.config.yaml), end to end against real local
 * servers: OpenTofu/Terraform applies the example module, BIND takes the RFC 2136 updates signed
 * with TSIG, and the CMDB is a real PostgreSQL server. Only the addresses of the servers the test
 * started, and the faster timings, differ from the file.
 */
const EXAMPLE_CONFIG = resolve(__dirname, '..', '..', 'examples', 'greenlight.config.yaml');

let bind: BindServer;
let postgres: PostgresServer;
let h: Harness;
const infraOutput: string[] = [];

let configFile: string;

before(async () => {
  [bind, postgres] = await Promise.all([startBind('greenlight.test'), startPostgres()]);
  // The documented file, pointed at the servers this test started and with faster timings.
  const raw = parseYaml(await readFile(EXAMPLE_CONFIG, 'utf8')) as ConfigInput;
  const dev = raw.targets.dev!;
  assert.equal(dev.dns?.kind, 'rfc2136');
  Object.assign(dev, {
    bake: '500ms',
    healthCheckInterval: '100ms',
    terminationWait: '200ms',
    recordTtl: 1,
    infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary() },
    dns: { ...dev.dns, server: `${bind.host}:${bind.port}` },
  });
  configFile = join(await mkdtemp(join(tmpdir(), 'greenlight-config-')), 'greenlight.config.json');
  await writeFile(configFile, JSON.stringify(raw));
  h = await startHarness(
    { parsed: loadConfig(configFile).config },
    {
      env: { GREENLIGHT_TSIG_SECRET: bind.secret },
      cmdbUrl: postgres.url,
      onInfraOutput: (_target, line) => infraOutput.push(line),
    },
  );
});

after(async () => {
  if (h) {
    await destroyModuleDeployments(h.stateDir, 'dev');
    await h.stop();
  }
  await Promise.all([bind?.stop(), postgres?.stop()]);
});

describe('the documented configuration: Terraform + RFC 2136 + PostgreSQL, end to end', () => {
  it('releases twice, cutting the alias over in BIND, and records it all in PostgreSQL', async () => {
    const first = await h.api.wait((await h.api.startRelease(releaseRequest('web', 'v1', 'dev'))).releaseId);
    assert.equal(first.stage, 'completed', first.reason ?? '');
    assert.deepEqual(await bind.resolver.resolveCname('web.dev.greenlight.test'), [
      'web-v1.dev.greenlight.test',
    ]);

    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v2', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.deepEqual(done.green?.plan, { add: 1, change: 0, destroy: 0 });
    assert.ok(
      done.tests?.checks.some((c) => c.name === 'smoke' && c.passed),
      'the command check ran',
    );

    // A stub resolver asking BIND follows the alias to green, and blue's records are gone.
    assert.deepEqual(await bind.resolver.resolveCname('web.dev.greenlight.test'), [
      'web-v2.dev.greenlight.test',
    ]);
    assert.deepEqual(await bind.resolver.resolve4('web-v2.dev.greenlight.test'), ['127.0.0.1']);
    await assert.rejects(bind.resolver.resolve4('web-v1.dev.greenlight.test'), { code: 'ENOTFOUND' });
    assert.deepEqual(await getJson(`${done.live!.endpoint}/version`), { service: 'web', version: 'v2' });
    await assert.rejects(fetch(`${first.live!.endpoint}/healthz`), 'blue was destroyed by terraform');

    const deployments = await h.cmdb.deployments('web', 'dev');
    assert.deepEqual(deployments.map((d) => [d.version, d.status]).sort(), [
      ['v1', 'terminated'],
      ['v2', 'live'],
    ]);
    assert.ok(
      (await h.cmdb.changes('web', 'dev')).some((c) => c.releaseId === releaseId && c.stage === 'completed'),
    );

    // The CLI lists the zone from BIND by a signed zone transfer.
    const env = {
      PATH: process.env.PATH,
      GREENLIGHT_CONFIG: configFile,
      GREENLIGHT_STATE_DIR: h.stateDir,
      GREENLIGHT_TSIG_SECRET: bind.secret,
    };
    const listed = await runCli(['dns', 'list', '--target', 'dev', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const records = (JSON.parse(listed.stdout) as { name: string; type: string; value: string }[]).map(
      (r) => `${r.name} ${r.type} ${r.value}`,
    );
    assert.ok(
      records.includes('web.dev.greenlight.test CNAME web-v2.dev.greenlight.test'),
      records.join('\n'),
    );
    const text = await runCli(['dns', 'list', '--target', 'dev'], env);
    assert.match(
      text.stdout,
      new RegExp(`^RFC 2136 127\\.0\\.0\\.1:${bind.port} zone greenlight\\.test \\(dev\\)`),
    );
    assert.ok(!text.stdout.includes(bind.secret));

    const unsigned = await runCli(['dns', 'list', '--target', 'dev'], { ...env, GREENLIGHT_TSIG_SECRET: '' });
    assert.equal(unsigned.code, 1);
    assert.match(
      unsigned.stderr,
      /targets\.dev\.dns\.tsig\.secret: the environment variable GREENLIGHT_TSIG_SECRET is not set/,
    );
  });

  it('keeps the TSIG secret and the database password out of histories and logs', async () => {
    const releases = await h.api.list({ service: 'web' });
    assert.ok(releases.length >= 2);
    for (const r of releases) {
      const history = readableText(await h.client.workflow.getHandle(r.releaseId).fetchHistory());
      assert.ok(history.includes('web-v'), 'the history is the real one');
      assert.ok(!history.includes(bind.secret), `the TSIG secret is in the history of ${r.releaseId}`);
      assert.ok(!history.includes(postgres.password), `the database password is in ${r.releaseId}`);
    }
    const logs = [...workerLog, ...infraOutput].join('\n');
    assert.ok(workerLog.length > 0 && infraOutput.length > 0, 'the logs were captured');
    assert.ok(!logs.includes(bind.secret) && !logs.includes(postgres.password));
  });
});
