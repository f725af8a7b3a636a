/** A request greenlight refused: bad input, a conflict, or a refused approval. One clear line. */
export class GreenlightError extends Error {
  override readonly name = 'GreenlightError';
  constructor(
    message: string,
    /** `ended`: the release ended without a final status (terminated, timed out, invalid input). */
    readonly code:
      | 'invalid_input'
      | 'conflict'
      | 'refused'
      | 'not_found'
      | 'unknown_target'
      | 'ended'
      /** A server greenlight needs (Temporal, the admin endpoint, DNS) does not answer. */
      | 'unavailable',
  ) {
    super(message);
  }
}
