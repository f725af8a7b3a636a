import { brandErrors, hasBrand } from '../shared/brand';

/**
 * Typed provider errors. Each carries a brand so activities can recognise it across module copies
 * (no `instanceof` across realms), and a flag saying whether retrying may help. Providers know
 * nothing of Temporal: activities alone map these kinds to the failure types workflows branch on.
 */
export const ProviderErrorKinds = {
  /** The record no longer holds what the caller expected: somebody else changed it. */
  dnsConflict: 'DnsConflict',
  dnsVerification: 'DnsVerificationFailed',
  /** The DNS server refused the request: the key, its permissions, or a name outside the zone. */
  dnsRefused: 'DnsUpdateRefused',
  deployFailed: 'DeployFailed',
  infraStateLocked: 'InfraStateLocked',
  infraConfigInvalid: 'InfraConfigInvalid',
  /** An artifact's bytes are not those first recorded for its version, or it cannot exist. */
  artifactInvalid: 'ArtifactInvalid',
  /** The dependency could not be reached or answered with a transient error. */
  unavailable: 'DependencyUnavailable',
} as const;
export type ProviderErrorKind = (typeof ProviderErrorKinds)[keyof typeof ProviderErrorKinds];

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly isRetryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const BRAND = brandErrors(ProviderError, 'ProviderError');

export function isProviderError(e: unknown): e is ProviderError {
  return hasBrand(e, BRAND);
}

/** The alias no longer points where the release expected: somebody else changed it. */
export function dnsConflict(name: string, expected: string | null, actual: string | null): ProviderError {
  return new ProviderError(
    ProviderErrorKinds.dnsConflict,
    `${name} points to ${actual ?? 'nothing'}, expected ${expected ?? 'nothing'}; refusing to overwrite a change made elsewhere`,
    false,
  );
}
