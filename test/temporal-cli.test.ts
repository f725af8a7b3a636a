import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { findTemporalCli, TEMPORAL_CLI_VERSION } from '../src/temporal/cli-binary';
import { temporalCliPath } from '../harness/temporal';

const run = promisify(execFile);

describe('finding the Temporal CLI', () => {
  let real: string;
  let dir: string;
  before(async () => {
    real = await temporalCliPath();
    dir = await mkdtemp(join(tmpdir(), 'greenlight-cli-'));
  });

  it('prefers TEMPORAL_CLI_PATH, then PATH, then the cache', async () => {
    const onPath = join(dir, 'bin');
    const cache = join(dir, 'cache');
    await mkdir(onPath, { recursive: true });
    await mkdir(join(cache, `temporal-cli-${TEMPORAL_CLI_VERSION}`), { recursive: true });
    await symlink(real, join(onPath, 'temporal'));
    await symlink(real, join(cache, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'));
    const base = { env: {}, cacheDirs: [cache], isBuildAllowed: false };

    assert.deepEqual(await findTemporalCli({ ...base, cliPath: real, searchPath: onPath }), {
      path: real,
      source: 'TEMPORAL_CLI_PATH',
    });
    assert.deepEqual(await findTemporalCli({ ...base, searchPath: `/nonexistent:${onPath}` }), {
      path: join(onPath, 'temporal'),
      source: 'PATH',
    });
    const cached = await findTemporalCli({ ...base, searchPath: '/nonexistent' });
    assert.deepEqual(cached, {
      path: join(cache, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'),
      source: 'cache',
    });
    // What it found is the real CLI.
    const { stdout } = await run(cached!.path, ['--version']);
    assert.match(stdout, /temporal version .*Server 1\.\d+/);
  });

  it('returns null when nothing is found and building is not allowed, and refuses a bad explicit path', async () => {
    assert.equal(
      await findTemporalCli({
        env: {},
        searchPath: '',
        cacheDirs: [join(dir, 'empty')],
        isBuildAllowed: false,
      }),
      null,
    );
    const notExecutable = join(dir, 'not-executable');
    await writeFile(notExecutable, 'text');
    await assert.rejects(
      findTemporalCli({ env: {}, searchPath: '', cliPath: notExecutable }),
      /TEMPORAL_CLI_PATH ".*not-executable" is not an executable file/,
    );
  });
});
