// Artifact stores: a local directory (the embedded default, stamping the example service), and S3
// on moto's S3 server, the real-part standard this project uses for AWS.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { createActivities } from '../src/activities';
import { parseOrThrow } from '../src/config/errors';
import { Config } from '../src/config/schema';
import { isProviderError } from '../src/providers/errors';
import { composeDependencies } from '../src/worker';
import { LocalArtifactStore } from '../src/providers/artifacts/local';
import { S3ArtifactStore } from '../src/providers/artifacts/s3';
import type { Artifact } from '../src/providers/artifacts/types';
import { EXAMPLE_SERVICE } from '../src/providers/infra/local-process';
import { startMoto } from './helpers/moto';
import type { MotoServer } from './helpers/moto';

const sha256 = (bytes: string | Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

let dir: string;
let moto: MotoServer;
let s3: S3Client;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'greenlight-artifacts-'));
  moto = await startMoto();
  s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: moto.credentials,
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'builds' }));
});

after(async () => {
  s3?.destroy();
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the local artifact store', () => {
  it('resolves what is in its directory, and nothing else', async () => {
    const store = new LocalArtifactStore({ dir: join(dir, 'plain') });
    assert.equal(await store.resolve('web', 'v1'), null);
  });

  it('stamps the example service per version on first use, and the same version keeps its bytes', async () => {
    const store = new LocalArtifactStore({ dir: join(dir, 'stamped'), stampFrom: EXAMPLE_SERVICE });
    const v1 = await store.resolve('web', 'v1');
    assert.ok(v1);
    assert.match(v1.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(v1.uri, `file://${join(dir, 'stamped', 'web', 'v1.artifact')}`);
    assert.deepEqual(await store.resolve('web', 'v1'), v1, 'resolved again: the same artifact');
    // A program node runs: its `#!` line stays first.
    const file = fileURLToPath(v1.uri);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^#!\/usr\/bin\/env node\n\/\/ web v1, stamped/);
    execFileSync(process.execPath, ['--check'], { input: text });
    // Another store on the same directory (another worker) agrees.
    const other = new LocalArtifactStore({ dir: join(dir, 'stamped'), stampFrom: EXAMPLE_SERVICE });
    assert.equal((await other.resolve('web', 'v1'))?.digest, v1.digest);
    const v2 = await store.resolve('web', 'v2');
    assert.notEqual(v2?.digest, v1.digest, 'each version its own bytes');
    const [a, b] = await Promise.all([store.resolve('api', 'v9'), other.resolve('api', 'v9')]);
    assert.equal(a?.digest, b?.digest, 'stamped at once by two: one artifact');
  });

  it('refuses an artifact whose bytes changed since its version was first used', async () => {
    const store = new LocalArtifactStore({ dir: join(dir, 'changed') });
    await rm(join(dir, 'changed'), { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'changed', 'web'), { recursive: true }));
    await writeFile(join(dir, 'changed', 'web', 'v1.artifact'), 'the real build');
    assert.equal((await store.resolve('web', 'v1'))?.digest, sha256('the real build'));
    await writeFile(join(dir, 'changed', 'web', 'v1.artifact'), 'something else');
    await assert.rejects(store.resolve('web', 'v1'), (e: Error) => {
      assert.ok(isProviderError(e) && !e.isRetryable);
      assert.match(
        e.message,
        /^the artifact of web@v1 \(.*\) changed since it was first used: it was sha256:[0-9a-f]{64}, it is sha256:/,
      );
      return true;
    });
  });

  it('never reaches outside its directory, whatever the names hold', async () => {
    const store = new LocalArtifactStore({ dir: join(dir, 'safe'), stampFrom: EXAMPLE_SERVICE });
    for (const [service, version] of [
      ['..', 'v1'],
      ['web', '../../etc/passwd'],
      ['web/../..', 'v1'],
    ] as const) {
      await assert.rejects(store.resolve(service, version), /is not a name an artifact can have/);
    }
  });
});

describe('the S3 artifact store, on a real S3-compatible server', () => {
  it('resolves an object to its s3 URI and the sha256 of its bytes, and a missing one to null', async () => {
    const bytes = Buffer.from('web build 1f2e3d4');
    await s3.send(new PutObjectCommand({ Bucket: 'builds', Key: 'releases/web/1f2e3d4', Body: bytes }));
    const store = new S3ArtifactStore({
      bucket: 'builds',
      prefix: 'releases/',
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: moto.credentials,
    });
    assert.deepEqual(await store.resolve('web', '1f2e3d4'), {
      service: 'web',
      version: '1f2e3d4',
      uri: 's3://builds/releases/web/1f2e3d4',
      digest: sha256(bytes),
      size: bytes.length,
    });
    assert.equal(await store.resolve('web', 'nope'), null);
    // The object replaced in place: a new ETag, its new bytes read again.
    await s3.send(new PutObjectCommand({ Bucket: 'builds', Key: 'releases/web/1f2e3d4', Body: 'rebuilt' }));
    assert.equal((await store.resolve('web', '1f2e3d4'))?.digest, sha256('rebuilt'));
  });

  it('says what is wrong when the bucket cannot be read, and never the secret key', async () => {
    const store = new S3ArtifactStore({
      bucket: 'builds',
      prefix: '',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9', // nothing listens there
      credentials: moto.credentials,
    });
    await assert.rejects(store.resolve('web', 'v1'), (e: Error) => {
      assert.ok(isProviderError(e) && e.isRetryable, 'a server that cannot be reached: retried');
      assert.match(e.message, /^S3 s3:\/\/builds\/: /);
      assert.doesNotMatch(e.message, new RegExp(moto.credentials.secretAccessKey));
      return true;
    });
  });
});

describe('the resolveArtifact activity', () => {
  async function resolveWith(artifacts: object, service: string, version: string): Promise<Artifact> {
    const stateDir = await mkdtemp(join(dir, 'worker-'));
    const config = parseOrThrow(Config, { ...TEST_CONFIG, artifacts }, 'test config');
    const deps = await composeDependencies(config, stateDir, { searchPath: process.env.PATH ?? '' });
    try {
      const { resolveArtifact } = createActivities(deps.deps);
      return (await new MockActivityEnvironment().run(resolveArtifact, { service, version })) as Artifact;
    } finally {
      await deps.close();
    }
  }

  it('stamps the example service with the embedded default configuration', async () => {
    const artifact = await resolveWith({ kind: 'local' }, 'web', 'v1');
    assert.match(artifact.uri, /^file:\/\/.*\/artifacts\/web\/v1\.artifact$/);
    assert.match(artifact.digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('fails, not to be retried, for a version that has no artifact, naming the store', async () => {
    const store = join(dir, 'empty-store');
    await assert.rejects(
      resolveWith({ kind: 'local', dir: store, stamp: false }, 'web', 'v404'),
      (e: Error) => {
        assert.ok(e instanceof ApplicationFailure);
        assert.equal(e.type, 'ArtifactMissing');
        assert.equal(e.nonRetryable, true);
        assert.equal(e.message, `no artifact of web@v404 in local directory ${store}`);
        return true;
      },
    );
  });
});

describe('a release deployed from its artifact', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      ...TEST_CONFIG,
      artifacts: { kind: 'local', dir: join(dir, 'release-store'), stamp: false },
    });
  });
  after(async () => {
    await h?.stop();
  });

  it('fails before anything is deployed when its version has no artifact', async () => {
    const { releaseId } = await h.api.startRelease(releaseRequest('web', 'v404', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'failed');
    assert.equal(
      done.reason,
      `preparing green failed: no artifact of web@v404 in local directory ${join(dir, 'release-store')}`,
    );
    assert.equal(done.green, null, 'nothing was deployed');
    assert.deepEqual(done.history.map((x) => x.stage).includes('deploying'), false);
  });

  it('runs the artifact it resolved, and records its digest in the status and the CMDB', async () => {
    const bytes = (await readFile(EXAMPLE_SERVICE, 'utf8')).replace(
      '\n',
      '\n// web 2b3c4d5, a build of our own\n',
    );
    await import('node:fs/promises').then((fs) =>
      fs.mkdir(join(dir, 'release-store', 'web'), { recursive: true }),
    );
    await writeFile(join(dir, 'release-store', 'web', '2b3c4d5.artifact'), bytes);
    const { releaseId } = await h.api.startRelease(releaseRequest('web', '2b3c4d5', 'dev'));
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    assert.deepEqual(done.artifact, {
      uri: `file://${join(dir, 'release-store', 'web', '2b3c4d5.artifact')}`,
      digest: sha256(bytes),
    });
    // The instance runs that file.
    const pid = await h.infra.pidOf(done.green!.hostname);
    assert.ok(pid);
    assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), /release-store\/web\/2b3c4d5\.artifact/);
    const [item] = (await h.cmdb.deployments('web', 'dev')).filter((d) => d.releaseId === releaseId);
    assert.equal(item.status, 'live');
    assert.equal(item.artifactDigest, sha256(bytes), 'the CMDB knows which bytes run');
  });
});
