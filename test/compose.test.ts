import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config/load';

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
    assert.match(
      output,
      /valid; project "greenlight" with services \[cmdb instances temporal temporal-db temporal-schema temporal-setup temporal-ui worker-1 worker-2\]/,
    );
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
    assert.match(output, /depends_on\.cmdb\.condition must be one of/);
  });

  it('gives the workers a configuration greenlight accepts, with the breakers shared through PostgreSQL', () => {
    const { config } = loadConfig(join(ROOT, 'examples', 'compose', 'greenlight.config.yaml'), ROOT);
    assert.equal(config.breakers.backend, 'postgres');
    assert.deepEqual(Object.keys(config.targets), ['dev', 'stage', 'prod']);
  });
});

describe('Dockerfile', () => {
  it('builds in stages and runs as an unprivileged user with production dependencies only', async () => {
    const text = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
    const stages = text.split('\n').filter((l) => /^FROM /.test(l));
    assert.ok(stages.length >= 2, `several stages: ${stages.join(' | ')}`);
    const final = text.slice(text.lastIndexOf('\nFROM '));
    assert.match(final, /^USER node$/m, 'the final stage runs as node');
    assert.doesNotMatch(final, /^USER root$/m);
    assert.match(text, /npm ci --omit=dev/, 'production dependencies only');
    assert.doesNotMatch(final, /^COPY (src|test|harness|bench)\b/m, 'no sources or tests in the image');
    assert.match(final, /COPY --from=\S+ \/app\/node_modules/);
    assert.match(final, /^ENTRYPOINT \["node", "dist\/src\/main\.js"\]$/m);
    // What the image runs is in the package's files (package.json "files" names what ships).
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    for (const part of ['bin', 'examples'])
      assert.ok(pkg.files.includes(part) && final.includes(`COPY ${part} ./${part}`));
  });
});
