/** An immutable artifact of a service version: where it is, and the sha256 of its bytes. */
export interface Artifact {
  service: string;
  version: string;
  /** Where a deployment fetches it: `file:///…` or `s3://bucket/key`. */
  uri: string;
  /** `sha256:<64 hex>` of its bytes. */
  digest: string;
  size: number;
}

/** Resolves `<service>@<version>` to its artifact. */
export interface ArtifactStore {
  /** The artifact, or null when the store has none for that version. */
  resolve(service: string, version: string, signal?: AbortSignal): Promise<Artifact | null>;
  /** Where it is, for people (`local directory /var/lib/…`, `s3://bucket/prefix/`). */
  describe(): string;
}

/** `sha256:<hex>`: how digests are written everywhere (the CMDB, the status, the module's input). */
export const sha256Digest = (hex: string): string => `sha256:${hex}`;
