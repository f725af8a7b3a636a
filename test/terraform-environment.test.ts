// An environment's own module through the real `tofu`/`terraform` binary: applied with its name and
// tag, its outputs checked, drift found by `plan -detailed-exitcode`, and destroyed without a trace.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TerraformEnvironment } from '../src/providers/infra/terraform-environment';
import { iacBinary } from './helpers/iac';

let moduleDir: string;
let workDir: string;
let environments: TerraformEnvironment;

before(async () => {
  moduleDir = await mkdtemp(join(tmpdir(), 'greenlight-envmodule-'));
  workDir = await mkdtemp(join(tmpdir(), 'greenlight-envwork-'));
  await writeFile(join(moduleDir, 'cidr.txt'), '10.0.1.0/24');
  await writeFile(
    join(moduleDir, 'main.tf'),
    `variable "environment" { type = string }
variable "tags" { type = map(string) }
resource "terraform_data" "network" {
  input = { name = "\${var.environment}-network", cidr = trimspace(file("\${path.module}/cidr.txt")), tags = var.tags }
}
output "network" { value = terraform_data.network.output.name }
output "tags" { value = terraform_data.network.output.tags }
`,
  );
  environments = new TerraformEnvironment({
    binary: iacBinary(),
    moduleDir,
    workDir,
    searchPath: process.env.PATH ?? '',
  });
});

after(async () => {
  await environments?.destroy('pr-1').catch(() => undefined);
  await rm(moduleDir, { recursive: true, force: true });
  await rm(workDir, { recursive: true, force: true });
});

describe("an environment's own module on the real binary", () => {
  it('applies it with the environment’s name and tag, and reads its outputs back', async () => {
    const applied = await environments.apply('pr-1');
    assert.deepEqual(applied, {
      plan: { add: 1, change: 0, destroy: 0 },
      outputs: ['network', 'tags'],
      unset: [],
    });
    assert.deepEqual(await environments.resources('pr-1'), ['module.environment.terraform_data.network']);
    // Applied again: nothing to do.
    assert.deepEqual((await environments.apply('pr-1')).plan, { add: 0, change: 0, destroy: 0 });
  });

  it('finds drift with plan -detailed-exitcode, and none once applied again', async () => {
    assert.deepEqual(await environments.plan('pr-1'), {
      isChanged: false,
      plan: { add: 0, change: 0, destroy: 0 },
    });
    await writeFile(join(moduleDir, 'cidr.txt'), '10.0.2.0/24');
    const drifted = await environments.plan('pr-1');
    assert.equal(drifted.isChanged, true);
    assert.deepEqual(drifted.plan, { add: 0, change: 1, destroy: 0 });
    await environments.apply('pr-1');
    assert.equal((await environments.plan('pr-1')).isChanged, false);
  });

  it('names the outputs left without a value', async () => {
    await writeFile(join(moduleDir, 'unset.tf'), 'output "registry" { value = null }\n');
    try {
      const applied = await environments.apply('pr-1');
      assert.deepEqual(applied.unset, ['registry']);
    } finally {
      await rm(join(moduleDir, 'unset.tf'));
    }
  });

  it('destroys it, leaving an empty state and no working directory', async () => {
    await environments.destroy('pr-1');
    assert.deepEqual(await environments.resources('pr-1'), []);
    assert.equal(existsSync(join(workDir, 'pr-1')), false);
    // Destroying what is gone succeeds.
    await environments.destroy('pr-1');
    assert.equal(existsSync(join(workDir, 'pr-1')), false);
  });
});
