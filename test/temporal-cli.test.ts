import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../src/shared/messages';
import { findTemporalCli, TEMPORAL_CLI_VERSION } from '../src/temporal/cli-binary';
import { isListening, startTemporalDevServer } from '../src/temporal/dev-server';
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

describe('starting a Temporal dev server', () => {
  let real: string;
  let dir: string;
  before(async () => {
    real = await temporalCliPath();
    dir = await mkdtemp(join(tmpdir(), 'greenlight-dev-server-'));
  });

  it('waits for a server slower than the SDK’s 5 s, with greenlight’s search attributes, and stops it', async () => {
    // The real binary, started 6 s late: a start that a loaded machine's two cores can take.
    const slow = join(dir, 'slow-temporal');
    await writeFile(slow, `#!/bin/sh\nsleep 6\nexec '${real}' "$@"\n`, { mode: 0o755 });
    const server = await startTemporalDevServer({ cliPath: slow });
    try {
      const connection = await Connection.connect({ address: server.address });
      try {
        const { customAttributes } = await connection.operatorService.listSearchAttributes({
          namespace: server.namespace,
        });
        for (const { name } of ALL_SEARCH_ATTRIBUTES) assert.ok(name in (customAttributes ?? {}), name);
      } finally {
        await connection.close();
      }
    } finally {
      await server.stop();
    }
    assert.equal(await isListening(Number(server.address.split(':')[1])), false, 'the server stopped');
  });

  it('fails with what the server said when it cannot start', async () => {
    // Something else holds the port (and hangs up on whoever connects).
    const taken = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as AddressInfo;
    try {
      await assert.rejects(startTemporalDevServer({ cliPath: real, port }), (e: Error) => {
        assert.match(e.message, /^the Temporal dev server \(.+\) exited with \d+:\n/);
        assert.match(e.message, new RegExp(`${port}`));
        return true;
      });
    } finally {
      taken.close();
    }
  });
});
