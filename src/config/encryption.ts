import { z } from 'zod';
import { SecretRef } from './fields';

/** A key's name, recorded beside every payload it encrypts: never the key itself. */
export const EncryptionKeyId = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'a key id of 1 to 64 letters, digits, ".", "_" or "-", such as 2026-12');

/**
 * Payload encryption (AES-256-GCM): the Temporal server stores workflow inputs, results, signals,
 * updates, queries' answers, details and failure messages only as ciphertext. The first key
 * encrypts; every listed key decrypts, so a key is rotated by listing a new one first and dropping
 * the old one once no history that needs it is kept.
 */
export const EncryptionConfig = z.strictObject({
  keys: z
    .array(z.strictObject({ id: EncryptionKeyId, key: SecretRef }))
    .min(1, 'list at least one key: the first encrypts')
    .max(16)
    .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, 'each key has its own id'),
});
export type EncryptionConfig = z.output<typeof EncryptionConfig>;
