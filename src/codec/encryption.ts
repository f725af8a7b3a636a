import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** The encoding of an encrypted payload; its data is `iv (12) | ciphertext | tag (16)`. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const CIPHER = 'AES256GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

export interface EncryptionKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** A payload that cannot be decrypted: a missing key, or data that was changed. */
export class DecryptionError extends Error {
  override name = 'DecryptionError';
}

const utf8 = new TextEncoder();
const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : '');

/**
 * Reads a 256-bit key written as 64 hex digits or as base64 (`openssl rand -base64 32`). The error
 * says what is wrong with it and never shows it.
 */
export function parseEncryptionKey(written: string, id: string): Buffer {
  const value = written.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) key = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) key = Buffer.from(value, 'base64');
  if (!key) {
    throw new Error(
      `encryption key ${id}: neither 64 hex digits nor base64 (make one with \`openssl rand -base64 32\`)`,
    );
  }
  if (key.length !== KEY_BYTES) {
    throw new Error(`encryption key ${id}: ${key.length} bytes, where AES-256 needs ${KEY_BYTES}`);
  }
  return key;
}

/**
 * An AES-256-GCM payload codec. The first key encrypts; any key listed decrypts the payloads it
 * encrypted (named by their `encryption-key-id`). A payload that is not encrypted passes through, so
 * histories written before encryption was turned on stay readable.
 */
export class EncryptionCodec implements PayloadCodec {
  // Truly private (not TypeScript's `private`): a logger that writes the worker's options, which
  // hold this codec, never reaches the keys.
  readonly #byId: ReadonlyMap<string, Buffer>;
  readonly #current: EncryptionKey;

  constructor(keys: readonly EncryptionKey[]) {
    const first = keys[0];
    if (!first) throw new Error('payload encryption needs at least one key');
    for (const k of keys) {
      if (k.key.length !== KEY_BYTES)
        throw new Error(`encryption key ${k.id}: AES-256 needs ${KEY_BYTES} bytes`);
    }
    this.#current = first;
    this.#byId = new Map(keys.map((k) => [k.id, k.key]));
    if (this.#byId.size !== keys.length) throw new Error('each encryption key has its own id');
  }

  /** The id of the key that encrypts. */
  get keyId(): string {
    return this.#current.id;
  }

  /** What a log or JSON shows of the codec: the id of the key that encrypts, never a key. */
  toJSON(): { codec: string; keyId: string } {
    return { codec: 'AES-256-GCM', keyId: this.#current.id };
  }

  // Async, so that an undecryptable payload is a rejected promise, never a synchronous throw.
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.#current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    // The key id is authenticated too: moving a payload under another id fails its check.
    cipher.setAAD(Buffer.from(id));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        'encryption-cipher': utf8.encode(CIPHER),
        'encryption-key-id': utf8.encode(id),
      },
      data,
    };
  }

  private decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.['encryption-key-id']);
    const key = this.#byId.get(id);
    if (!key) {
      throw new DecryptionError(
        `a payload is encrypted with key ${JSON.stringify(id.slice(0, 64))}, which is not among the keys listed here (${[...this.#byId.keys()].join(', ')}): add it to encryption.keys`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES)
      throw new DecryptionError(`a payload encrypted with key ${id} is cut short`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(id));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new DecryptionError(
        `a payload encrypted with key ${id} failed its integrity check: it was changed, or the key under that id is not the one that encrypted it`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}
