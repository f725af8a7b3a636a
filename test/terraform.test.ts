import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { isProviderError } from '../src/providers/errors';
import { TerraformInfra } from '../src/providers/infra/terraform';
import { classify, parsePlan } from '../src/providers/infra/terraform-cli';
import { postgresStateBackend, STATE_SCHEMA } from '../src/providers/infra/terraform-backend';
import { EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { getJson } from './helpers/inspect';

let dir: string;
let binary: string;
const infra = (moduleDir = EXAMPLE_MODULE, killGraceMs?: number) =>
  new TerraformInfra({
    binary,
    moduleDir,
    workDir: join(dir, 'work'),
    searchPath: process.env.PATH ?? '',
    home: dir,
    ...(killGraceMs ? { killGraceMs } : {}),
  });

before(async () => {
  binary = iacBinary();
  dir = await mkdtemp(join(tmpdir(), 'greenlight-tf-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Terraform/OpenTofu infrastructure, with a real binary', () => {
  it('applies a saved plan, is idempotent, describes the deployment and destroys it', async () => {
    const tf = infra();
    const spec = {
      service: 'web',
      version: 'v1',
      target: 'dev',
      hostname: 'web-v1.dev.tf.test',
      releaseId: 'rel-1',
    };
    const d = await tf.deploy(spec);
    assert.deepEqual(d.plan, { add: 1, change: 0, destroy: 0 });
    assert.deepEqual(await getJson(`${d.endpoint}/version`), { service: 'web', version: 'v1' });

    const again = await tf.deploy(spec);
    assert.deepEqual(again.plan, { add: 0, change: 0, destroy: 0 }, 'a retried deploy changes nothing');
    assert.equal(again.endpoint, d.endpoint);

    assert.deepEqual(await tf.describe(spec), {
      service: 'web',
      version: 'v1',
      target: 'dev',
      hostname: spec.hostname,
      endpoint: d.endpoint,
      releaseId: 'rel-1',
    });
    await tf.destroy(spec);
    assert.equal(await tf.describe(spec), null);
    await assert.rejects(fetch(`${d.endpoint}/healthz`), 'the instance is gone');
    await tf.destroy(spec); // idempotent
  });

  it('passes values as literals: an interpolation in a value is never evaluated', async () => {
    const tf = infra();
    const spec = {
      service: 'web',
      version: 'v2',
      target: 'dev',
      hostname: 'web-v2.dev.tf.test',
      releaseId: '${file("/etc/passwd")}',
    };
    const d = await tf.deploy(spec);
    assert.equal(d.releaseId, '${file("/etc/passwd")}');
    assert.equal((await tf.describe(spec))?.releaseId, '${file("/etc/passwd")}');
    await tf.destroy(spec);
  });

  it('describes a deployment of any module from the values it was applied with', async () => {
    const plain = join(dir, 'plain-module');
    await mkdir(plain, { recursive: true });
    await writeFile(
      join(plain, 'main.tf'),
      ['service', 'app_version', 'target', 'hostname', 'release_id']
        .map((v) => `variable "${v}" {}`)
        .join('\n') + '\noutput "endpoint" {\n  value = "http://${var.hostname}:8080"\n}\n',
    );
    const tf = infra(plain);
    const spec = {
      service: 'api',
      version: 'V1.2',
      target: 'qa',
      hostname: 'api-v1-2.qa.tf.test',
      releaseId: 'rel-$x',
    };
    await tf.deploy(spec);
    assert.deepEqual(await tf.describe(spec), {
      service: 'api',
      version: 'V1.2',
      target: 'qa',
      hostname: spec.hostname,
      endpoint: 'http://api-v1-2.qa.tf.test:8080',
      releaseId: 'rel-$x',
    });
    await tf.destroy(spec);
  });

  it('fails with a non-retryable error for an invalid module', async () => {
    const broken = join(dir, 'broken-module');
    await mkdir(broken, { recursive: true });
    await writeFile(
      join(broken, 'main.tf'),
      'resource "terraform_data" "x" {\n  input = var.undeclared\n}\n',
    );
    await assert.rejects(
      infra(broken).deploy({
        service: 'web',
        version: 'v3',
        target: 'dev',
        hostname: 'web-v3.dev.tf.test',
        releaseId: 'r',
      }),
      (e: unknown) => {
        assert.ok(isProviderError(e));
        assert.equal(e.kind, 'InfraConfigInvalid');
        assert.equal(e.isRetryable, false);
        return true;
      },
    );
  });

  it('interrupts a running apply with SIGINT on cancellation, leaving the state unlocked', async () => {
    const slow = join(dir, 'slow-module');
    await mkdir(slow, { recursive: true });
    await writeFile(
      join(slow, 'main.tf'),
      [
        'variable "service" {}',
        'variable "app_version" {}',
        'variable "target" {}',
        'variable "hostname" {}',
        'variable "release_id" {}',
        'resource "terraform_data" "slow" {',
        '  provisioner "local-exec" {',
        '    command = "sleep 60"',
        '  }',
        '}',
        'output "endpoint" {',
        '  value = "http://127.0.0.1:9"',
        '}',
      ].join('\n'),
    );
    const tf = infra(slow, 15_000);
    const spec = {
      service: 'web',
      version: 'v4',
      target: 'dev',
      hostname: 'web-v4.dev.tf.test',
      releaseId: 'r',
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled')), 3000);
    const t0 = Date.now();
    await assert.rejects(tf.deploy(spec, controller.signal), /cancelled/);
    assert.ok(Date.now() - t0 < 15_000, 'SIGINT stopped it before the kill grace ran out');
    // The lock was released: the next command on the same state works.
    await tf.destroy(spec);
    assert.equal(existsSync(join(dir, 'work', spec.hostname)), false);
  });
});

describe('Terraform state in PostgreSQL, reached by every worker', () => {
  let postgres: PostgresServer;
  const output: string[] = [];
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.stop();
  });

  /** A worker's Terraform infrastructure: its own, empty work dir; the state in the CMDB's database. */
  const worker = (name: string) =>
    new TerraformInfra({
      binary,
      moduleDir: EXAMPLE_MODULE,
      workDir: join(dir, name, 'terraform', 'dev'),
      backend: postgresStateBackend(postgres.url),
      workspacePrefix: 'dev',
      searchPath: process.env.PATH ?? '',
      home: dir,
      onOutput: (line) => output.push(line),
    });

  it('describes and destroys on one worker what another applied', async (t) => {
    const applier = worker('worker-a');
    const other = worker('worker-b');
    const spec = (version: string) => ({
      service: 'web',
      version,
      target: 'dev',
      hostname: `web-${version}.dev.tf.test`,
      releaseId: `rel-$${version}`,
    });
    const [v5, v6] = [spec('v5'), spec('v6')];
    // When an assertion failed before the destroys.
    t.after(() => Promise.all([applier.destroy(v5), applier.destroy(v6)]));
    const d5 = await applier.deploy(v5);
    assert.deepEqual(await getJson(`${d5.endpoint}/version`), { service: 'web', version: 'v5' });
    const applierDir = join(dir, 'worker-a', 'terraform', 'dev', v5.hostname);
    assert.equal(existsSync(join(applierDir, 'terraform.tfstate')), false, 'no state on the disk');
    assert.equal(existsSync(join(applierDir, 'instance.json')), true, 'the module wrote its instance');

    assert.deepEqual(await other.describe(v5), {
      service: 'web',
      version: 'v5',
      target: 'dev',
      hostname: v5.hostname,
      endpoint: d5.endpoint,
      releaseId: 'rel-$v5',
    });
    assert.equal(await other.describe(v6), null, 'never applied');
    assert.equal(existsSync(join(dir, 'worker-b', 'terraform', 'dev', v6.hostname)), false, 'no litter');
    // As a release does: a deployment looked up first, then applied, beside another's workspace.
    const d6 = await other.deploy(v6);
    assert.equal((await applier.describe(v6))?.endpoint, d6.endpoint);
    for (const file of await filesUnder(dir)) {
      assert.ok(!(await readFile(file, 'latin1')).includes(postgres.password), `the password is in ${file}`);
    }
    assert.deepEqual(await workspaces(postgres.url), ['dev_web-v5.dev.tf.test', 'dev_web-v6.dev.tf.test']);

    await other.destroy(v5);
    await assert.rejects(fetch(`${d5.endpoint}/healthz`), 'the instance is gone');
    assert.equal(existsSync(join(applierDir, 'instance.json')), false, "the module's destroy ran");
    assert.equal(await applier.describe(v5), null, 'the applier sees it gone too');
    await applier.destroy(v6);
    await assert.rejects(fetch(`${d6.endpoint}/healthz`), 'the instance is gone');
    assert.deepEqual(await workspaces(postgres.url), [], 'no state is left, not even empty');
    await other.destroy(v5); // idempotent
    assert.ok(output.length > 0);
    assert.ok(!output.some((line) => line.includes(postgres.password)), 'the password is in the output');
  });

  it('keeps a deployment applied before the backend in its local file, on the worker that applied it', async (t) => {
    const workDir = join(dir, 'worker-c', 'terraform', 'dev');
    const earlier = new TerraformInfra({
      binary,
      moduleDir: EXAMPLE_MODULE,
      workDir,
      searchPath: process.env.PATH ?? '',
      home: dir,
    });
    const upgraded = worker('worker-c');
    const v7 = {
      service: 'web',
      version: 'v7',
      target: 'dev',
      hostname: 'web-v7.dev.tf.test',
      releaseId: 'rel-7',
    };
    t.after(() => earlier.destroy(v7));
    const d = await earlier.deploy(v7);
    assert.equal((await upgraded.describe(v7))?.releaseId, 'rel-7');
    assert.deepEqual((await upgraded.deploy(v7)).plan, { add: 0, change: 0, destroy: 0 }, 'the same state');
    assert.deepEqual(await workspaces(postgres.url), [], 'nothing moved into the backend');
    await upgraded.destroy(v7);
    await assert.rejects(fetch(`${d.endpoint}/healthz`), 'the instance is gone');
  });
});

/** Every file under `root`, recursively. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The workspaces whose state the pg backend keeps. */
async function workspaces(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM ${STATE_SCHEMA}.states ORDER BY name`,
    );
    return rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

describe('Terraform output parsing', () => {
  it('reads the plan summary', () => {
    assert.deepEqual(parsePlan('…\nPlan: 2 to add, 1 to change, 3 to destroy.\n'), {
      add: 2,
      change: 1,
      destroy: 3,
    });
    assert.deepEqual(parsePlan('No changes. Your infrastructure matches the configuration.'), {
      add: 0,
      change: 0,
      destroy: 0,
    });
  });

  it('maps a held state lock to a retryable error and bad configuration to a non-retryable one', () => {
    const locked = classify('tofu apply', 1, 'Error: Error acquiring the state lock\n\nLock Info: …');
    assert.equal(locked.kind, 'InfraStateLocked');
    assert.equal(locked.isRetryable, true);
    const invalid = classify('tofu plan', 1, '│ Error: Reference to undeclared input variable');
    assert.equal(invalid.kind, 'InfraConfigInvalid');
    assert.equal(invalid.isRetryable, false);
    assert.match(invalid.message, /^tofu plan failed: Error: Reference to undeclared input variable$/);
    const other = classify('tofu apply', 1, 'Error: local-exec provisioner error');
    assert.equal(other.kind, 'DeployFailed');
    assert.equal(other.isRetryable, true);
  });

  it("quotes the error's explanation, not only its title, and leaves out the lines that point into the module", () => {
    // As the binary prints a failed provisioner with -no-color.
    const output = [
      'Error: local-exec provisioner error',
      '',
      '  with module.app.terraform_data.instance,',
      '  on ../../main.tf line 61, in resource "terraform_data" "instance":',
      '  61:   provisioner "local-exec" {',
      '',
      "Error running command 'node start.js': exit",
      'status 127. Output: /bin/sh: 1: node: not found',
      '',
      // What it printed on stdout before: progress, not the error.
      'module.app.terraform_data.instance: Creating...',
    ].join('\n');
    assert.equal(
      classify('tofu apply', 1, output).message,
      "tofu apply failed: Error: local-exec provisioner error: Error running command 'node start.js': exit status 127. Output: /bin/sh: 1: node: not found",
    );
    const long = classify('tofu apply', 1, `Error: boom\n${'x'.repeat(5_000)}`).message;
    assert.ok(long.length <= 'tofu apply failed: '.length + 600, `${long.length} characters`);
  });
});
