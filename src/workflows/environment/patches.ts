/**
 * Changes to the commands an environment issues, each gated with \`patched()\` so that environments
 * started by an earlier version replay unchanged (test/histories holds their histories).
 */
export const EnvironmentPatches = {
  /** After decommissioning, a leak check looks for anything of the environment left behind. */
  leakCheck: 'environment-leak-check',
  /** Requests also come as Signals (before, every signal was ignored). */
  signals: 'environment-signals',
  /** Maintenance and decommissioning wait for (or are forced past) the freezes that block them. */
  freezes: 'environment-freezes',
  /** Webhooks that listen are told of transitions and of drift found, changed or gone. */
  notifications: 'environment-notifications',
} as const;
