import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { ConfigError } from '../src/config/errors';
import { loadConfig } from '../src/config/load';
import type { ConfigInput } from '../src/config/schema';
import { openTerraformTargets } from '../src/compose/infra';
import { postgresStateBackend, secretRedactor, STATE_SCHEMA } from '../src/providers/infra/terraform-backend';
import { EXAMPLE_MODULE, iacBinary } from './helpers/iac';
import { startPostgres } from './helpers/postgres';
import type { PostgresServer } from './helpers/postgres';
import { TEST_CONFIG } from '../harness/release';
import { getJson } from './helpers/inspect';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'greenlight-tfstate-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A configuration file with one Terraform target `dev` whose infra has these extra keys. */
async function configWith(infra: Record<string, unknown>): Promise<string> {
  const config: ConfigInput = {
    ...TEST_CONFIG,
    targets: { dev: { infra: { kind: 'terraform', module: EXAMPLE_MODULE, binary: iacBinary(), ...infra } } },
  };
  const path = join(await mkdtemp(join(dir, 'config-')), 'greenlight.config.json');
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** The first line of the ConfigError that loading `infra` throws. */
async function problemWith(infra: Record<string, unknown>): Promise<string> {
  const path = await configWith(infra);
  try {
    loadConfig(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    // One problem is on the error's one line, after the file's name.
    const lines = e.message.split('\n');
    return lines.length > 1 ? lines[1]!.trim() : e.message.slice(e.message.indexOf(': targets.') + 2);
  }
  assert.fail('the configuration was accepted');
}

describe('where Terraform state is configured', () => {
  it('takes a backend with plain settings and secrets by reference', async () => {
    const path = await configWith({
      backend: {
        type: 's3',
        config: { bucket: 'tf-state', region: 'eu-central-1', use_lockfile: true, max_retries: 5 },
        env: { AWS_SECRET_ACCESS_KEY: { file: 'secrets/aws' }, AWS_ACCESS_KEY_ID: { env: 'KEY_ID' } },
      },
    });
    const infra = loadConfig(path).config.targets.dev!.infra;
    assert.equal(infra.kind, 'terraform');
    assert.deepEqual(infra.kind === 'terraform' && infra.backend, {
      type: 's3',
      config: { bucket: 'tf-state', region: 'eu-central-1', use_lockfile: true, max_retries: 5 },
      env: {
        AWS_SECRET_ACCESS_KEY: { file: join(path, '..', 'secrets', 'aws') },
        AWS_ACCESS_KEY_ID: { env: 'KEY_ID' },
      },
    });
  });

  it('refuses a secret written in the settings, without echoing it', async () => {
    const line = await problemWith({
      backend: { type: 's3', config: { bucket: 'b', secret_key: 'wJalrXUtnFEMI' } },
    });
    assert.match(line, /^targets\.dev\.infra\.backend\.config\.secret_key: a secret is never written here/);
    assert.ok(!line.includes('wJalrXUtnFEMI'));
  });

  it('refuses a secret written in env instead of its reference', async () => {
    const line = await problemWith({
      backend: { type: 'pg', env: { PG_CONN_STR: 'postgres://u:hunter2@db/x' } },
    });
    assert.match(
      line,
      /^targets\.dev\.infra\.backend\.env\.PG_CONN_STR: a secret is referenced, never written here/,
    );
    assert.ok(!line.includes('hunter2'));
  });

  it('names the field and the value of other mistakes', async () => {
    assert.equal(
      await problemWith({ backend: { type: 's3', config: { key: '${var.x}' } } }),
      'targets.dev.infra.backend.config.key: a plain value: `${` and `%{` are not allowed here (got "${var.x}")',
    );
    assert.equal(
      await problemWith({ backend: { type: 's3', config: { tags: ['a'] } } }),
      'targets.dev.infra.backend.config.tags: a string, a number or a boolean (got ["a"])',
    );
    assert.equal(
      await problemWith({ backend: { type: 'pg', env: { TF_WORKSPACE: { env: 'X' } } } }),
      'targets.dev.infra.backend.env.TF_WORKSPACE: PATH, HOME and TF_* are set by greenlight (got "TF_WORKSPACE")',
    );
    assert.equal(
      await problemWith({ backend: { type: 'local' } }),
      'targets.dev.infra.backend.type: a local file is on one machine only: name a backend every worker reaches (got "local")',
    );
    assert.equal(
      await problemWith({ backend: { type: 's3', config: { bucket: 'x'.repeat(1001) } } }),
      `targets.dev.infra.backend.config.bucket: at most 1000 characters (got "${'x'.repeat(76)}...)`,
    );
  });

  it('says which variable of a backend is not set, never its value', async () => {
    const { config } = loadConfig(
      await configWith({ backend: { type: 'pg', env: { PG_CONN_STR: { env: 'TEAM_STATE_URL' } } } }),
    );
    assert.throws(
      () => openTerraformTargets(config, dir, { searchPath: '', env: {} }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          'targets.dev.infra.backend.env.PG_CONN_STR: the environment variable TEAM_STATE_URL is not set',
    );
  });
});

describe("the CMDB's connection string, given to the tool", () => {
  it('connects as the CMDB does: without TLS unless the URL asks for it', () => {
    assert.deepEqual(postgresStateBackend('postgres://u:pw@db:5432/cmdb'), {
      type: 'pg',
      config: { schema_name: STATE_SCHEMA },
      env: { PG_CONN_STR: 'postgres://u:pw@db:5432/cmdb?sslmode=disable' },
    });
    const tls = 'postgres://u:pw@db:5432/cmdb?sslmode=verify-full';
    assert.equal(postgresStateBackend(tls).env.PG_CONN_STR, tls);
  });

  it('is replaced by *** in what the tool prints, and so is its password alone, plain or encoded', () => {
    const redact = secretRedactor(postgresStateBackend('postgres://greenlight:s3cr%40t-pw@db/cmdb'));
    assert.equal(
      redact(
        'dial postgres://greenlight:s3cr%40t-pw@db/cmdb?sslmode=disable: password s3cr@t-pw, s3cr%40t-pw',
      ),
      'dial ***: password ***, ***',
    );
  });
});

describe('Terraform state of a fleet, with a real binary and PostgreSQL', () => {
  let postgres: PostgresServer;
  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    await postgres?.stop();
  });

  const spec = (version: string) => ({
    service: 'web',
    version,
    target: 'dev',
    hostname: `web-${version}.dev.fleet.test`,
    releaseId: `rel-${version}`,
  });

  it("keeps state in the CMDB's database when the CMDB is a PostgreSQL server", async (t) => {
    const { config } = loadConfig(await configWith({}));
    const options = { cmdbUrl: postgres.url, searchPath: process.env.PATH ?? '', env: {} };
    const [one, two] = ['worker-1', 'worker-2'].map((worker) =>
      openTerraformTargets(config, join(dir, worker), options).get('dev')!,
    );
    const v7 = spec('v7');
    t.after(() => one!.destroy(v7));
    const d = await one!.deploy(v7);
    assert.equal(
      existsSync(join(dir, 'worker-1', 'terraform', 'dev', v7.hostname, 'terraform.tfstate')),
      false,
    );
    assert.deepEqual(await states(postgres.url, STATE_SCHEMA), ['dev_web-v7.dev.fleet.test']);
    assert.equal((await two!.describe(v7))?.endpoint, d.endpoint);
    await two!.destroy(v7);
    await assert.rejects(fetch(`${d.endpoint}/healthz`), 'the instance is gone');
    assert.deepEqual(await states(postgres.url, STATE_SCHEMA), []);
  });

  it("keeps state in the target's own backend when it names one", async (t) => {
    const { config } = loadConfig(
      await configWith({
        backend: {
          type: 'pg',
          config: { schema_name: 'team_state' },
          env: { PG_CONN_STR: { env: 'TEAM_STATE_URL' } },
        },
      }),
    );
    const options = {
      cmdbUrl: postgres.url,
      searchPath: process.env.PATH ?? '',
      env: { TEAM_STATE_URL: `${postgres.url}?sslmode=disable` },
    };
    const [one, two] = ['worker-3', 'worker-4'].map((worker) =>
      openTerraformTargets(config, join(dir, worker), options).get('dev')!,
    );
    const v8 = spec('v8');
    t.after(() => one!.destroy(v8));
    const d = await one!.deploy(v8);
    assert.deepEqual(await states(postgres.url, 'team_state'), ['dev_web-v8.dev.fleet.test']);
    assert.deepEqual(await states(postgres.url, STATE_SCHEMA), [], "not in the CMDB's schema");
    assert.equal((await two!.describe(v8))?.releaseId, 'rel-v8');
    await two!.destroy(v8);
    await assert.rejects(fetch(`${d.endpoint}/healthz`), 'the instance is gone');
    assert.deepEqual(await states(postgres.url, 'team_state'), []);
  });

  it('keeps state in a local file with the embedded CMDB: another machine sees nothing', async (t) => {
    const { config } = loadConfig(await configWith({}));
    const options = { searchPath: process.env.PATH ?? '', env: {} };
    const [one, two] = ['worker-5', 'worker-6'].map((worker) =>
      openTerraformTargets(config, join(dir, worker), options).get('dev')!,
    );
    const v9 = spec('v9');
    t.after(() => one!.destroy(v9));
    const d = await one!.deploy(v9);
    assert.equal(
      existsSync(join(dir, 'worker-5', 'terraform', 'dev', v9.hostname, 'terraform.tfstate')),
      true,
    );
    assert.equal(await two!.describe(v9), null);
    assert.deepEqual(await getJson(`${d.endpoint}/version`), { service: 'web', version: 'v9' });
  });
});

/** The workspaces whose state a pg backend keeps in `schema` (none when it has no table yet). */
async function states(url: string, schema: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>(`SELECT name FROM ${schema}.states ORDER BY name`);
    return rows.map((r) => r.name);
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return []; // no such table
    throw e;
  } finally {
    await client.end();
  }
}
