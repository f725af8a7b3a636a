// The typed client API, for programs that start and steer releases without the CLI.
export { GreenlightClient, GreenlightError } from './client/api';
export type { ListFilter, ReleaseSummary } from './client/api';
export * from './shared/messages';
export * from './shared/release';
export { evaluatePolicy, Policy, RELEASE_FACTS } from './shared/policy';
export type { PolicyDecision } from './shared/policy';
