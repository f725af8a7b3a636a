// Payload encryption: the codec itself, a real release whose history on a real Temporal server holds
// only ciphertext, the codec server the Web UI and the `temporal` CLI decode it with, and key rotation.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { Payload } from '@temporalio/common';
import { decodeFailure, encodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import type { temporal } from '@temporalio/proto';
import {
  DecryptionError,
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  parseEncryptionKey,
} from '../src/codec/encryption';
import { failureConverter } from '../src/codec/failure-converter';
import { createLogger } from '../src/logger';
import { startCodecServer } from '../src/codec/server';
import type { CodecServer } from '../src/codec/server';
import { openEncryption } from '../src/compose/codec';
import { ConfigError } from '../src/config/errors';
import { Config } from '../src/config/schema';
import type { ConfigInput } from '../src/config/schema';
import type { Harness } from '../harness/release';
import { releaseRequest, startHarness, TEST_CONFIG } from '../harness/release';
import { temporalCliPath } from '../harness/temporal';
import { cliEnvironment, runCli } from './helpers/cli';
import { waitForStage } from './helpers/wait';

const OLD_KEY = randomBytes(32);
const NEW_KEY = randomBytes(32);
/** Who starts the release: a word that appears only inside payloads. */
const INITIATOR = 'zoe-initiator-7f3a';
const APPROVER = 'yann-approver-91c2';

const encoding = (p: Payload) => Buffer.from(p.metadata?.encoding ?? new Uint8Array()).toString();
const json = (value: unknown) => defaultPayloadConverter.toPayload(value);

describe('the AES-256-GCM payload codec', () => {
  const codec = new EncryptionCodec([{ id: 'k1', key: OLD_KEY }]);

  it('encrypts every payload under the newest key and decrypts it back', async () => {
    const plain = [json({ service: 'web', initiator: INITIATOR }), json('second')];
    const encrypted = await codec.encode(plain);
    for (const p of encrypted) {
      assert.equal(encoding(p), ENCRYPTED_ENCODING);
      assert.equal(Buffer.from(p.metadata!['encryption-key-id']!).toString(), 'k1');
      assert.ok(!Buffer.from(p.data!).toString('latin1').includes(INITIATOR), 'no plain text in the data');
    }
    // A fresh IV each time: the same payload never encrypts to the same bytes.
    const again = await codec.encode([plain[0]!]);
    assert.notDeepEqual(Buffer.from(again[0]!.data!), Buffer.from(encrypted[0]!.data!));
    const decoded = await codec.decode(encrypted);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded[0]!), {
      service: 'web',
      initiator: INITIATOR,
    });
    assert.equal(defaultPayloadConverter.fromPayload(decoded[1]!), 'second');
  });

  it('rotates: a new key encrypts, the old one still decrypts, a dropped key is named', async () => {
    const [byOld] = await codec.encode([json('written last year')]);
    const rotated = new EncryptionCodec([
      { id: 'k2', key: NEW_KEY },
      { id: 'k1', key: OLD_KEY },
    ]);
    const [byNew] = await rotated.encode([json('written today')]);
    assert.equal(Buffer.from(byNew!.metadata!['encryption-key-id']!).toString(), 'k2');
    const [a, b] = await rotated.decode([byOld!, byNew!]);
    assert.equal(defaultPayloadConverter.fromPayload(a!), 'written last year');
    assert.equal(defaultPayloadConverter.fromPayload(b!), 'written today');
    const newOnly = new EncryptionCodec([{ id: 'k2', key: NEW_KEY }]);
    await assert.rejects(newOnly.decode([byOld!]), (e: Error) => {
      assert.ok(e instanceof DecryptionError);
      assert.match(e.message, /encrypted with key "k1", which is not among the keys listed here \(k2\)/);
      return true;
    });
  });

  it('refuses changed data and a payload moved under another key id, and passes plain payloads through', async () => {
    const [p] = await codec.encode([json('approve')]);
    const flipped = Buffer.from(p!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...p!, data: flipped }]), /failed its integrity check/);
    const sameKeyOtherId = new EncryptionCodec([
      { id: 'k1', key: OLD_KEY },
      { id: 'k9', key: OLD_KEY },
    ]);
    const moved = { ...p!, metadata: { ...p!.metadata, 'encryption-key-id': Buffer.from('k9') } };
    await assert.rejects(sameKeyOtherId.decode([moved]), /failed its integrity check/);
    await assert.rejects(codec.decode([{ ...p!, data: Buffer.alloc(10) }]), /cut short/);
    const plain = json('written before encryption was turned on');
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('encrypts failures’ messages and stack traces', async () => {
    const failure = failureConverter.errorToFailure(
      ApplicationFailure.nonRetryable(`tests failed on web-v2.${INITIATOR}.internal`),
      defaultPayloadConverter,
    );
    const encoded = await encodeFailure([codec], failure);
    assert.equal(encoded.message, 'Encoded failure');
    assert.equal(encoded.stackTrace, '');
    assert.equal(encoding(encoded.encodedAttributes as Payload), ENCRYPTED_ENCODING);
    const decoded = await decodeFailure([codec], encoded);
    const error = failureConverter.failureToError(decoded, defaultPayloadConverter);
    assert.match(error.message, new RegExp(INITIATOR));
  });

  it('never shows its keys to a logger, even at debug where the SDK logs the worker’s options', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // What the SDK logs at debug when it creates a worker: its options, the data converter included.
    createLogger('debug', { destination }).debug(
      { options: { dataConverter: { payloadCodecs: [codec] } } },
      'Creating worker',
    );
    await new Promise((r) => setImmediate(r));
    const written = lines.join('') + inspect(codec, { depth: 5 }) + JSON.stringify(codec);
    for (const form of [OLD_KEY.toString('base64'), OLD_KEY.toString('hex'), OLD_KEY.join(',')]) {
      assert.ok(!written.includes(form), 'the key is not written in any form');
    }
    assert.match(written, /"keyId":"k1"/);
  });

  it('reads keys as 64 hex digits or base64 of 32 bytes, and never shows a wrong one', () => {
    assert.deepEqual(parseEncryptionKey(OLD_KEY.toString('hex'), 'k1'), OLD_KEY);
    assert.deepEqual(parseEncryptionKey(`${OLD_KEY.toString('base64')}\n`, 'k1'), OLD_KEY);
    const short = randomBytes(16).toString('base64');
    assert.throws(
      () => parseEncryptionKey(short, 'k1'),
      (e: Error) => e.message === 'encryption key k1: 16 bytes, where AES-256 needs 32',
    );
    assert.throws(
      () => parseEncryptionKey('hunter2 is my password', 'k1'),
      (e: Error) => /neither 64 hex digits nor base64/.test(e.message) && !e.message.includes('hunter2'),
    );
  });
});

describe('encryption in the configuration', () => {
  const parse = (encryption: unknown) =>
    Config.safeParse({ ...TEST_CONFIG, encryption }).error?.issues.map(
      (i) => `${i.path.join('.')}: ${i.message}`,
    );

  it('takes keys by reference, each with its own id, at least one', () => {
    assert.equal(parse({ keys: [{ id: 'k1', key: { env: 'KEY' } }] }), undefined);
    assert.deepEqual(parse({ keys: [] }), ['encryption.keys: list at least one key: the first encrypts']);
    assert.deepEqual(
      parse({
        keys: [
          { id: 'k1', key: { env: 'A' } },
          { id: 'k1', key: { env: 'B' } },
        ],
      }),
      ['encryption.keys: each key has its own id'],
    );
    assert.match(
      parse({ keys: [{ id: 'k1', key: 'c2VjcmV0' }] })!.join(),
      /a secret is referenced, never written here/,
    );
    assert.match(parse({ keys: [{ id: 'k 1', key: { env: 'A' } }] })!.join(), /a key id of 1 to 64 letters/);
  });

  it('says which key is missing or malformed, without showing it', () => {
    const config = Config.parse({
      ...TEST_CONFIG,
      encryption: { keys: [{ id: 'k1', key: { env: 'KEY' } }] },
    });
    assert.equal(openEncryption(Config.parse(TEST_CONFIG), {}), undefined);
    assert.throws(() => openEncryption(config, {}), {
      message: 'encryption.keys[0] (k1): the environment variable KEY is not set',
    });
    const short = randomBytes(31).toString('hex');
    assert.throws(
      () => openEncryption(config, { KEY: short }),
      (e: Error) =>
        e instanceof ConfigError &&
        /^encryption\.keys\[0\] \(k1\): encryption key k1: neither/.test(e.message) &&
        !e.message.includes(short),
    );
    assert.equal(openEncryption(config, { KEY: OLD_KEY.toString('base64') })?.keyId, 'k1');
  });
});

/** Every payload in a history as the server stores it, with where it is. */
function payloadsIn(value: unknown, path = '', out: { path: string; payload: Payload }[] = []) {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return out;
  if ('metadata' in value && 'data' in value && !Array.isArray(value)) {
    out.push({ path, payload: value as Payload });
    return out;
  }
  for (const [key, child] of Object.entries(value)) payloadsIn(child, `${path}.${key}`, out);
  return out;
}

const config: ConfigInput = {
  ...TEST_CONFIG,
  encryption: {
    keys: [
      { id: 'k2', key: { env: 'KEY_NEW' } },
      { id: 'k1', key: { env: 'KEY_OLD' } },
    ],
  },
};
const keysEnv = { KEY_NEW: NEW_KEY.toString('base64'), KEY_OLD: OLD_KEY.toString('hex') };

/** A codec server on a free loopback port with the workers' keys, for the Web UI's origin. */
const codecServer = (token?: string) =>
  startCodecServer({
    codec: new EncryptionCodec([
      { id: 'k2', key: NEW_KEY },
      { id: 'k1', key: OLD_KEY },
    ]),
    host: '127.0.0.1',
    port: 0,
    origins: ['http://localhost:8233'],
    ...(token ? { token } : {}),
  });

describe('a release with payload encryption on a real Temporal server', () => {
  let h: Harness;
  let server: CodecServer;
  let releaseId: string;
  let history: temporal.api.history.v1.IHistory;
  const TOKEN = randomBytes(16).toString('hex');
  const ORIGIN = 'http://localhost:8233';

  before(async () => {
    h = await startHarness(config, { env: { ...process.env, ...keysEnv } });
    server = await codecServer(TOKEN);
    ({ releaseId } = await h.api.startRelease(
      releaseRequest('web', 'v1', 'stage', { initiator: INITIATOR }),
    ));
    await waitForStage(h.api, releaseId, 'awaiting_approval');
    await h.api.approve(releaseId, { approver: APPROVER, comment: 'ship it' });
    const done = await h.api.wait(releaseId);
    assert.equal(done.stage, 'completed', done.reason ?? '');
    const raw = await h.env.connection.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId: releaseId },
    });
    history = raw.history!;
  });

  after(async () => {
    await server?.close();
    await h?.stop();
  });

  it('stores only ciphertext: inputs, updates, results, details and markers are all encrypted', () => {
    const all = payloadsIn(history);
    // Search attributes are indexed by the server, so they stay readable (service, target, version, stage).
    // The SDK's patch markers name the patch (a constant of the workflow code), never user data.
    const payloads = all.filter(
      (p) => !/searchAttributes|markerRecordedEventAttributes\.details\.patch-data/.test(p.path),
    );
    const patchMarkers = all
      .filter((p) => /patch-data/.test(p.path))
      .map((p) => defaultPayloadConverter.fromPayload(p.payload));
    assert.ok(
      patchMarkers.every(
        (m) =>
          Object.keys(m as object)
            .sort()
            .join() === 'deprecated,id',
      ),
      JSON.stringify(patchMarkers),
    );
    assert.ok(payloads.length > 20, `${payloads.length} payloads in the history`);
    const plain = payloads.filter((p) => encoding(p.payload) !== ENCRYPTED_ENCODING);
    assert.deepEqual(
      plain.map((p) => p.path),
      [],
      'every payload but the search attributes is encrypted',
    );
    const bytes = JSON.stringify(history, (_, v: unknown) =>
      ArrayBuffer.isView(v) ? Buffer.from(v as Uint8Array).toString('latin1') : v,
    );
    for (const word of [INITIATOR, APPROVER, 'ship it'])
      assert.ok(!bytes.includes(word), `${word} is not in the clear`);
    assert.ok(
      all.some((p) => /searchAttributes/.test(p.path)),
      'the search attributes are there, readable',
    );
  });

  it('the codec server decodes it for the Web UI: CORS for its origin, the bearer token required', async () => {
    const encrypted = payloadsIn(history).filter((p) => encoding(p.payload) === ENCRYPTED_ENCODING);
    const body = JSON.stringify({
      payloads: encrypted.map(({ payload }) => ({
        metadata: Object.fromEntries(
          Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')]),
        ),
        data: Buffer.from(payload.data!).toString('base64'),
      })),
    });
    const headers = { 'content-type': 'application/json', origin: ORIGIN, 'x-namespace': 'default' };
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-namespace/);

    const anonymous = await fetch(`${server.url}/decode`, { method: 'POST', headers, body });
    assert.equal(anonymous.status, 401);
    const stranger = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { ...headers, origin: 'http://evil.example', authorization: `Bearer ${TOKEN}` },
      body,
    });
    assert.equal(stranger.status, 403);
    assert.match(
      ((await stranger.json()) as { error: string }).error,
      /origin "http:\/\/evil.example" is not allowed/,
    );

    const res = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${TOKEN}` },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
    const decoded = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] })
      .payloads;
    assert.equal(decoded.length, encrypted.length);
    const text = decoded.map((p) => Buffer.from(p.data, 'base64').toString('utf8')).join('\n');
    for (const word of [INITIATOR, APPROVER, 'ship it']) assert.ok(text.includes(word), `${word} decoded`);
    assert.ok(
      decoded.every((p) => Buffer.from(p.metadata.encoding!, 'base64').toString() !== ENCRYPTED_ENCODING),
    );
  });

  it('the codec server refuses malformed requests with a message, and encodes for the UI', async () => {
    const post = (path: string, body: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body,
      });
    const notJson = await post('/decode', '{"payloads": [');
    assert.equal(notJson.status, 400);
    assert.match(((await notJson.json()) as { error: string }).error, /not JSON/);
    const badShape = await post('/decode', JSON.stringify({ payloads: [{ data: 42 }] }));
    assert.equal(badShape.status, 400);
    assert.match(((await badShape.json()) as { error: string }).error, /^payloads\.0\.data: /);
    const unknownKey = await post(
      '/decode',
      JSON.stringify({
        payloads: [
          {
            metadata: {
              encoding: Buffer.from(ENCRYPTED_ENCODING).toString('base64'),
              'encryption-key-id': Buffer.from('k0').toString('base64'),
            },
            data: randomBytes(40).toString('base64'),
          },
        ],
      }),
    );
    assert.equal(unknownKey.status, 422);
    assert.match(
      ((await unknownKey.json()) as { error: string }).error,
      /key "k0", which is not among the keys/,
    );
    assert.equal((await post('/elsewhere', '{}')).status, 404);
    const encoded = await post(
      '/encode',
      JSON.stringify({
        payloads: [
          {
            metadata: { encoding: Buffer.from('json/plain').toString('base64') },
            data: Buffer.from('"x"').toString('base64'),
          },
        ],
      }),
    );
    assert.equal(encoded.status, 200);
    const [p] = ((await encoded.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads;
    assert.equal(Buffer.from(p!.metadata.encoding!, 'base64').toString(), ENCRYPTED_ENCODING);
  });

  it('without a token, serves only requests for this machine’s names (no DNS rebinding)', async () => {
    const open = await codecServer();
    try {
      const ask = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port: open.port,
              path: '/decode',
              method: 'POST',
              headers: { host, 'content-type': 'application/json' },
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end('{"payloads": []}');
        });
      assert.equal(await ask(`127.0.0.1:${open.port}`), 200);
      assert.equal(await ask(`localhost:${open.port}`), 200);
      assert.equal(await ask(`evil.example:${open.port}`), 403);
    } finally {
      await open.close();
    }
  });

  it('listens beyond loopback only with a token, or when told the network is trusted', async () => {
    const codec = new EncryptionCodec([{ id: 'k1', key: OLD_KEY }]);
    const options = { codec, host: '0.0.0.0', port: 0, origins: [ORIGIN] };
    await assert.rejects(
      startCodecServer(options),
      /would decrypt for anyone who reaches 0\.0\.0\.0: set a token/,
    );
    for (const extra of [{ token: TOKEN }, { trustNetwork: true }]) {
      const server = await startCodecServer({ ...options, ...extra });
      await server.close();
    }
  });

  it('the `temporal` CLI shows the history in plain text through the codec server', async () => {
    const open = await codecServer();
    try {
      const cli = await temporalCliPath();
      const args = [
        'workflow',
        'show',
        '--address',
        h.address,
        '--workflow-id',
        releaseId,
        '--output',
        'json',
      ];
      const run = async (extra: string[]) => {
        const { stdout } = await promisify(execFile)(cli, [...args, ...extra], { maxBuffer: 32 << 20 });
        // The CLI's JSON shows each payload's data in base64: read them all.
        const found = payloadsIn(JSON.parse(stdout)).filter((p) => !/searchAttributes/.test(p.path));
        return found.map(({ payload }) => ({
          encoding: Buffer.from(String(payload.metadata?.encoding), 'base64').toString(),
          data: Buffer.from(String(payload.data), 'base64').toString('utf8'),
        }));
      };
      const decoded = await run(['--codec-endpoint', open.url]);
      assert.ok(decoded.length > 20);
      assert.deepEqual(
        decoded.filter((p) => p.encoding === ENCRYPTED_ENCODING),
        [],
        'every payload decoded',
      );
      assert.ok(
        decoded.some((p) => p.data.includes(INITIATOR)),
        'the initiator, in plain text',
      );
      const raw = await run([]);
      assert.ok(!raw.some((p) => p.data.includes(INITIATOR)), 'without the codec server: ciphertext');
      assert.ok(raw.filter((p) => p.encoding === ENCRYPTED_ENCODING).length > 20);
    } finally {
      await open.close();
    }
  });

  it('greenlight’s CLI, given the keys, reads the release; without them it says what is missing', async () => {
    const env = await cliEnvironment(h, config, keysEnv);
    const status = await runCli(['release', 'status', releaseId, '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { initiator: string }).initiator, INITIATOR);
    const withoutKeys = await runCli(['release', 'status', releaseId], await cliEnvironment(h, TEST_CONFIG));
    assert.notEqual(withoutKeys.code, 0);
    assert.equal(
      withoutKeys.stderr,
      "greenlight: the workflow's payloads are encrypted, and this configuration lists no keys: give the CLI the workers' configuration (GREENLIGHT_CONFIG) with its encryption.keys\n",
    );
  });
});
