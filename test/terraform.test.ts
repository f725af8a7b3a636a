import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isProviderError } from '../src/providers/errors';
import { classify, parsePlan, TerraformInfra } from '../src/providers/infra/terraform';
import { EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { getJson } from './helpers/temporal';

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
});
