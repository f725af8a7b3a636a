/**
 * Changes to the commands a train issues, each gated with `patched()` so that trains started by an
 * earlier version replay unchanged (test/histories holds their histories).
 */
export const TrainPatches = {
  /** A train records its manifest and outcome in the CMDB when it ends (`train start --from`). */
  recordManifest: 'train-manifest',
  /**
   * A train unwinds when a release ends while it waits for approval, and looks at its releases
   * once more (and marks itself committed, which they confirm) before it commits them.
   */
  unwindOnEnd: 'train-unwind-on-end',
  /** Lanes, releases, checks and settings are started and read all at once, not one by one. */
  startTogether: 'train-start-together',
} as const;
