import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { ProviderError, ProviderErrorKinds } from '../errors';
import { sha256Digest } from './types';
import type { Artifact, ArtifactStore } from './types';

export interface S3ArtifactOptions {
  bucket: string;
  /** Keys are `<prefix><service>/<version>`; a prefix names a folder when it ends with `/`. */
  prefix: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, moto…); default: AWS's. Paths, not virtual hosts, then. */
  endpoint?: string;
  /** Default: the AWS SDK's credential chain (environment, shared files, SSO, instance roles). */
  credentials?: S3ClientConfig['credentials'];
}

/** AWS errors that retrying cannot fix: credentials, permissions, a bucket that is not there. */
const REFUSALS = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'NoSuchBucket',
  'AllAccessDisabled',
]);

/**
 * Artifacts in an S3 bucket. The digest is the sha256 of the object's bytes, read through once per
 * version of the object (its ETag), never taken from metadata somebody could set apart from them.
 */
export class S3ArtifactStore implements ArtifactStore {
  private readonly client: S3Client;
  /** Digests by key and ETag: an object that changes in place gets a new ETag, and is read again. */
  private readonly digests = new Map<string, string>();

  constructor(private readonly options: S3ArtifactOptions) {
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      // Temporal retries the activity, with the policy shown in the UI; one retry authority only.
      maxAttempts: 1,
    });
  }

  describe(): string {
    return `s3://${this.options.bucket}/${this.options.prefix}`;
  }

  async resolve(service: string, version: string, signal?: AbortSignal): Promise<Artifact | null> {
    const key = `${this.options.prefix}${service}/${version}`;
    const uri = `s3://${this.options.bucket}/${key}`;
    const head = await this.send(() =>
      this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }), {
        abortSignal: signal,
      }),
    );
    if (!head) return null;
    const etag = head.ETag ?? '';
    const cached = this.digests.get(`${key} ${etag}`);
    if (cached) return { service, version, uri, digest: cached, size: head.ContentLength ?? 0 };
    const object = await this.send(() =>
      this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: key, IfMatch: etag || undefined }),
        { abortSignal: signal },
      ),
    );
    if (!object?.Body) return null; // deleted between the two requests
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of object.Body as Readable) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    const digest = sha256Digest(hash.digest('hex'));
    if (etag) this.digests.set(`${key} ${etag}`, digest);
    return { service, version, uri, digest, size };
  }

  /** One request; a missing object is null, a refusal is permanent, anything else retryable. */
  private async send<T>(call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (e) {
      const name = (e as { name?: string }).name ?? '';
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (name === 'NotFound' || name === 'NoSuchKey' || status === 404) return null;
      const message = `S3 ${this.describe()}: ${name || 'error'}: ${(e as Error).message}`.slice(0, 500);
      if (REFUSALS.has(name) || status === 403) {
        throw new ProviderError(ProviderErrorKinds.unavailable, message, false, { cause: e });
      }
      throw new ProviderError(ProviderErrorKinds.unavailable, message, true, { cause: e });
    }
  }
}
