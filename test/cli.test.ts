import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from '../harness/release';
import { startHarness } from '../harness/release';
import { cliEnvironment, runCli } from './helpers/cli';
import { waitForStage } from './helpers/wait';

let h: Harness;
let env: NodeJS.ProcessEnv;

before(async () => {
  h = await startHarness();
  env = await cliEnvironment(h);
});

after(async () => {
  await h?.stop();
});

const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runCli(args, { ...env, ...extraEnv });

describe('greenlight CLI', () => {
  it('starts a release with --json, shows its status, and refuses a bad approval with a reason and exit 1', async () => {
    const start = await cli([
      'release',
      'start',
      '--service',
      'web',
      '--version',
      '1f2e3d4',
      '--target',
      'prod',
      '--initiator',
      'alice',
      '--json',
    ]);
    assert.equal(start.code, 0, start.stderr);
    const { releaseId } = JSON.parse(start.stdout) as { releaseId: string };
    assert.match(releaseId, /^web-prod-1f2e3d4-[0-9a-f]{6}$/);
    await waitForStage(h.api, releaseId, 'awaiting_approval');

    const own = await cli(['release', 'approve', releaseId, '--approver', 'alice']);
    assert.equal(own.code, 1);
    assert.equal(own.stderr, 'greenlight: alice started this release and may not approve it on prod\n');

    const ok = await cli([
      'release',
      'approve',
      releaseId,
      '--approver',
      'bob',
      '--comment',
      'looks good',
      '--json',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), {
      accepted: true,
      stage: 'awaiting_approval',
      message: 'approved by bob (1 of 2)',
    });

    const status = await cli(['release', 'status', releaseId, '--json']);
    const s = JSON.parse(status.stdout);
    assert.equal(s.stage, 'awaiting_approval');
    assert.equal(s.approvals.approvedBy[0].comment, 'looks good');
    // The refused approval was an Update rejected by its validator: it never entered the history.
    assert.deepEqual(s.approvals.refused, []);

    const text = await cli(['release', 'status', releaseId]);
    assert.match(text.stdout, /^release {3}web-prod-1f2e3d4-/);
    assert.match(text.stdout, /waiting {3}1 more approval \(1 of 2 given\)/);
    assert.match(
      text.stdout,
      /policy {4}blocked all\(tests_passed ✓, approval_obtained ✗, not\(slow_scans_skipped ✗\) ✓\) ✗/,
    );

    const abort = await cli(['release', 'abort', releaseId, '--by', 'ops', '--reason', 'test over']);
    assert.equal(abort.code, 0, abort.stderr);
    assert.match(abort.stdout, /abort requested by ops: test over/);
  });

  it('waits for a release with --wait, printing its stages, and exits 0 when it completes', async () => {
    const run = await cli([
      'release',
      'start',
      '--service',
      'api',
      '--version',
      'v1',
      '--target',
      'dev',
      '--wait',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /started release api-dev-v1-/);
    assert.match(run.stdout, /completed/);

    const list = await cli(['release', 'list', '--service', 'api', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { service: string; version: string }[];
    assert.ok(rows.every((r) => r.service === 'api'));

    const cmdb = await cli(['cmdb', 'show', 'api', '--target', 'dev', '--json']);
    assert.equal(cmdb.code, 0, cmdb.stderr);
    const view = JSON.parse(cmdb.stdout) as {
      deployments: { version: string; status: string }[];
      changes: { stage: string }[];
    };
    assert.deepEqual(
      view.deployments.map((d) => [d.version, d.status]),
      [['v1', 'live']],
    );
    assert.equal(view.changes[0].stage, 'completed');
    const text = await cli(['cmdb', 'show', 'api']);
    assert.match(text.stdout, /^deployments of api\n {2}dev {6}v1 {11}live/);
    const bad = await cli(['cmdb', 'show', 'API;drop']);
    assert.equal(bad.code, 2, 'a malformed argument is bad usage');
    assert.match(bad.stderr, /^greenlight: invalid service "API;drop"/);

    const dns = await cli(['dns', 'list', '--json']);
    const records = JSON.parse(dns.stdout) as { name: string; value: string }[];
    assert.ok(
      records.some((r) => r.name === 'api.dev.test.internal' && r.value === 'api-v1.dev.test.internal'),
    );
  });

  it('holds a release before cutover with --hold-before-cutover until `release go`', async () => {
    const start = await cli([
      'release',
      'start',
      '--service',
      'held',
      '--version',
      'v1',
      '--target',
      'dev',
      '--hold-before-cutover',
      '--json',
    ]);
    assert.equal(start.code, 0, start.stderr);
    const { releaseId } = JSON.parse(start.stdout) as { releaseId: string };
    await waitForStage(h.api, releaseId, 'awaiting_go');
    const text = await cli(['release', 'status', releaseId]);
    assert.match(text.stdout, /waiting {3}a go to cut over, until /);

    const go = await cli(['release', 'go', releaseId, '--by', 'ops']);
    assert.equal(go.code, 0, go.stderr);
    assert.equal(go.stdout, 'go from ops; cutting over\n');
    assert.equal((await h.api.wait(releaseId)).stage, 'completed');
    const again = await cli(['release', 'go', releaseId]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `greenlight: release ${releaseId}: release has already ended (completed)\n`);
  });

  it('exits 3 when a waited-for release ends without completing', async () => {
    const run = await cli([
      'release',
      'start',
      '--service',
      'broken',
      '--version',
      'v1',
      '--target',
      'dev',
      '--wait',
      '--json',
    ]);
    assert.equal(run.code, 3, run.stderr);
    const out = JSON.parse(run.stdout) as { status: { stage: string } };
    assert.equal(out.status.stage, 'failed');
  });

  it('refuses bad input in one line, before anything reaches Temporal', async () => {
    const bad = await cli([
      'release',
      'start',
      '--service',
      'web',
      '--version',
      '1.0;rm -rf /',
      '--target',
      'dev',
    ]);
    assert.equal(bad.code, 2, 'a malformed version is bad usage');
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /^greenlight: invalid release request: version: .*\(got "1\.0;rm -rf \/"\)/);
    const unknown = await cli([
      'release',
      'start',
      '--service',
      'web',
      '--version',
      'v1',
      '--target',
      'moon',
    ]);
    assert.match(
      unknown.stderr,
      /unknown target "moon"; configured targets: dev, stage, prod, qa, uat, soak/,
    );
    assert.equal(unknown.code, 2, 'an unknown target is bad usage');
    assert.equal(bad.stdout + unknown.stdout, '', 'no release id was printed');
    // Nothing was started: the lane of web on dev is free and no release of web to dev exists.
    assert.equal(await h.api.runningRelease('web', 'dev'), null);
    const { count } = await h.client.workflow.count("GreenlightService = 'web' AND GreenlightTarget = 'dev'");
    assert.equal(count, 0);
  });

  it('prints every stage once, refuses the live version up front, and speaks of ended releases in their words', async () => {
    const first = await cli([
      'release',
      'start',
      '--service',
      'shop',
      '--version',
      'v1',
      '--target',
      'dev',
      '--wait',
    ]);
    assert.equal(first.code, 0, first.stderr);
    const releaseId = /started release (\S+)/.exec(first.stdout)![1]!;
    const final = await h.api.status(releaseId);
    const printed = first.stdout
      .split('\n')
      .flatMap((line) => /^\d\d:\d\d:\d\d {2}([a-z_]+)/.exec(line)?.[1] ?? []);
    assert.deepEqual(
      printed,
      final.history.map((x) => x.stage),
      'each stage once, in order, from the first',
    );

    // The version that is live: refused before anything starts.
    const again = await cli(['release', 'start', '--service', 'shop', '--version', 'v1', '--target', 'dev']);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      'greenlight: shop v1 is already live on dev (shop.dev.test.internal → shop-v1.dev.test.internal); nothing to release\n',
    );
    const { count } = await h.client.workflow.count("GreenlightService = 'shop'");
    assert.equal(count, 1, 'no second release was started');

    // Ended releases are described by their own stage, with what to do instead.
    const rollback = await cli(['release', 'rollback', releaseId]);
    assert.equal(rollback.code, 1);
    assert.match(
      rollback.stderr,
      /release has already ended \(completed\); to go back, release the previous version/,
    );
    const staged = await cli([
      'release',
      'start',
      '--service',
      'shop',
      '--version',
      'v2',
      '--target',
      'stage',
      '--json',
    ]);
    const stagedId = (JSON.parse(staged.stdout) as { releaseId: string }).releaseId;
    await waitForStage(h.api, stagedId, 'awaiting_approval');
    // dns list --target lists that target's names only, though targets share the local store.
    const names = async (...args: string[]) =>
      (JSON.parse((await cli(['dns', 'list', ...args, '--json'])).stdout) as { name: string }[]).map(
        (r) => r.name,
      );
    assert.ok((await names()).includes('shop-v2.stage.test.internal'), 'the store holds stage and dev names');
    const devNames = await names('--target', 'dev');
    assert.ok(devNames.includes('shop.dev.test.internal'));
    assert.ok(
      devNames.every((name) => name.endsWith('.dev.test.internal')),
      devNames.join(', '),
    );
    assert.equal((await cli(['release', 'abort', stagedId])).code, 0);
    await h.api.wait(stagedId);
    const twice = await cli(['release', 'abort', stagedId]);
    assert.match(twice.stderr, /release has already ended \(aborted\)\n$/);
    const status = await cli(['release', 'status', stagedId]);
    assert.match(status.stdout, /green {5}v2 \(shop-v2\.stage\.test\.internal\), torn down/);

    // Usage errors exit 2; an unknown service is said to be unknown.
    const bogus = await cli(['release', 'list', '--stage', 'bogus']);
    assert.equal(bogus.code, 2);
    assert.match(
      bogus.stderr,
      /invalid GreenlightStage: .*expected one of scheduled, queued, waiting_for_window, deploying/,
    );
    const nosuch = await cli(['cmdb', 'show', 'nosuch']);
    assert.equal(nosuch.code, 1);
    assert.match(nosuch.stderr, /the CMDB has no service nosuch: nothing was released there yet/);
  });

  it('exits 2 on usage errors and 1 when no server answers', async () => {
    const usage = await cli(['release', 'approve', 'x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /required option '--approver <name>' not specified/);
    const missing = await cli(['release', 'status', 'no-such-release']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'greenlight: no release no-such-release\n');
    const down = await cli(['release', 'status', 'x'], { TEMPORAL_ADDRESS: '127.0.0.1:9' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^greenlight: cannot reach Temporal at 127\.0\.0\.1:9/);
  });
});
