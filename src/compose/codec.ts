import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, parseEncryptionKey } from '../codec/encryption';
import { ConfigError } from '../config/errors';
import type { Config } from '../config/schema';
import { readSecret } from './infra';

/** The failure converter that encodes messages and stack traces, by path: workflows load it in their sandbox. */
export const ENCODED_FAILURES = require.resolve('../codec/failure-converter');

/** The payload codec the configuration asks for (`encryption:`), its keys read where they are referenced; none without it. */
export function openEncryption(config: Config, env: NodeJS.ProcessEnv): EncryptionCodec | undefined {
  if (!config.encryption) return undefined;
  const keys = config.encryption.keys.map(({ id, key }, i) => {
    const where = `encryption.keys[${i}] (${id})`;
    try {
      return { id, key: parseEncryptionKey(readSecret(key, where, env), id) };
    } catch (e) {
      throw e instanceof ConfigError ? e : new ConfigError(`${where}: ${(e as Error).message}`);
    }
  });
  return new EncryptionCodec(keys);
}

/**
 * What a client and a worker convert payloads with: with a codec, every payload is encrypted, and so
 * are failures' messages and stack traces (which name hosts, versions and reasons).
 */
export function dataConverterFor(codec: EncryptionCodec | undefined): DataConverter | undefined {
  if (!codec) return undefined;
  return { payloadCodecs: [codec], failureConverterPath: ENCODED_FAILURES };
}
