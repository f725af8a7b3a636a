/**
 * Changes to the commands a release issues, each gated with `patched()` so that releases started
 * by an earlier version replay unchanged (test/histories holds their histories). A patch is removed
 * only once no release started before it can still be running or replayed.
 */
export const Patches = {
  /** The stage search attribute is upserted only when the stage changes. */
  publishStageOnChange: 'publish-stage-on-change',
  /** A release started directly holds its lane until it closes; lanes ignore the `free` signal. */
  laneHeldUntilClose: 'lane-held-until-close',
  /** A breaker notice is believed only when the worker confirms the breaker is open. */
  verifyBreakerNotice: 'verify-breaker-notice',
  /** A release asks its environment before anything is deployed, whoever started it. */
  askEnvironment: 'ask-environment',
  /** Green is deployed from its version's artifact, resolved (and its digest recorded) first. */
  resolveArtifact: 'resolve-artifact',
  /** A train's release confirms its train's go and commit with the train before acting on them. */
  trainConfirms: 'train-confirms',
  /** A release waits for its target to open (windows, freezes) before deploying and before cutover. */
  calendarGate: 'calendar-gate',
  /** The target's webhooks are told of the release's events (a workflow started per notification). */
  notifications: 'notifications',
  /** A release that fails outside its steps records its ending in the CMDB and tells its webhooks. */
  recordEveryEnding: 'record-every-ending',
} as const;
