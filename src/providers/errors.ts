import { FailureTypes } from '../shared/messages';

/**
 * Typed provider errors. Each carries a brand so activities can recognise it across module copies
 * (no `instanceof` across realms), and a flag saying whether retrying may help.
 */
// The kinds are failure type names that activities throw and workflows branch on: one list, shared.
export const ProviderErrorKinds = {
  dnsConflict: FailureTypes.dnsConflict,
  dnsVerification: FailureTypes.dnsVerification,
  /** The DNS server refused the request: the key, its permissions, or a name outside the zone. */
  dnsRefused: FailureTypes.dnsRefused,
  deployFailed: FailureTypes.deployFailed,
  infraStateLocked: FailureTypes.infraStateLocked,
  infraConfigInvalid: FailureTypes.infraConfigInvalid,
  unavailable: FailureTypes.dependencyUnavailable,
} as const;
export type ProviderErrorKind = (typeof ProviderErrorKinds)[keyof typeof ProviderErrorKinds];

const BRAND = Symbol.for('greenlight.ProviderError');

export class ProviderError extends Error {
  readonly [BRAND] = true;
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

export function isProviderError(e: unknown): e is ProviderError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** The alias no longer points where the release expected: somebody else changed it. */
export function dnsConflict(name: string, expected: string | null, actual: string | null): ProviderError {
  return new ProviderError(
    ProviderErrorKinds.dnsConflict,
    `${name} points to ${actual ?? 'nothing'}, expected ${expected ?? 'nothing'}; refusing to overwrite a change made elsewhere`,
    false,
  );
}
