import type { ConfigInput } from './schema';

/**
 * The embedded default: three targets whose rules show what greenlight does, with short waits so a
 * first release on a laptop finishes in about a minute.
 */
export const DEFAULT_CONFIG: ConfigInput = {
  zone: 'greenlight.local',
  targets: {
    dev: {
      approval: { required: 0 },
      policy: { all: ['tests_passed'] },
    },
    stage: {
      approval: { required: 1, timeout: '24h' },
      policy: { all: ['tests_passed', 'approval_obtained'] },
    },
    prod: {
      approval: { required: 2, initiatorMayApprove: false, timeout: '24h' },
      policy: { all: ['tests_passed', 'approval_obtained', { not: 'slow_scans_skipped' }] },
    },
  },
  checks: [
    { name: 'health', path: '/healthz', expectStatus: 200, latencyBudget: '2s' },
    { name: 'version', path: '/version', bodyIncludes: '"version":"{{version}}"', latencyBudget: '2s' },
    { name: 'latency', path: '/healthz', repeat: 50, latencyBudget: '500ms', slow: true },
  ],
  healthCheck: { name: 'health', path: '/healthz', expectStatus: 200, latencyBudget: '2s' },
};
