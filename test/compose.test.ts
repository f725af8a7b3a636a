import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// No Docker engine runs here, so the compose file is validated, not run: with compose-go, the
// library behind `docker compose config` (schema, interpolation, service references).
const ROOT = join(__dirname, '..', '..');
const TOOL = join(ROOT, 'tools', 'compose-check');

function composeCheck(file: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('go', ['run', '.', file], { cwd: TOOL }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

const hasGo = (): Promise<boolean> =>
  new Promise((resolve) => execFile('go', ['version'], (error) => resolve(!error)));

describe('docker-compose.yml', () => {
  it('is a valid Compose project with the Temporal server, PostgreSQL and the worker', async (t) => {
    if (!(await hasGo())) {
      // CI installs Go (it builds the Temporal CLI); only a developer machine without Go gets here.
      assert.notEqual(process.env.CI, 'true', 'Go is required in CI');
      t.skip('Go is not installed');
      return;
    }
    const { code, output } = await composeCheck(join(ROOT, 'docker-compose.yml'));
    assert.equal(code, 0, output);
    assert.match(output, /valid; project "greenlight" with services \[postgres temporal worker\]/);
  });

  it('rejects a broken variant, so the check can fail', async (t) => {
    if (!(await hasGo())) {
      t.skip('Go is not installed');
      return;
    }
    const original = await readFile(join(ROOT, 'docker-compose.yml'), 'utf8');
    const dir = await mkdtemp(join(tmpdir(), 'greenlight-compose-'));
    const broken = join(dir, 'docker-compose.yml');
    await writeFile(broken, original.replace('condition: service_healthy', 'condition: service_sleepy'));
    const { code, output } = await composeCheck(broken);
    assert.equal(code, 1);
    assert.match(output, /depends_on.temporal.condition must be one of/);
  });
});
