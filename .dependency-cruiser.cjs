/**
 * The layering of greenlight, checked by `npm run lint` (see the README's "Shape of the code"):
 * no cycles; providers know nothing above them; workflows use only sandbox-safe shared code and
 * their own folder; nothing in src, bench or examples reaches into the tests.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle ties modules together so that neither can change or be tested alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'providers-stay-below',
      severity: 'error',
      comment:
        'Providers are adapters to the outside world: they take plain options and know nothing of Temporal, config, breakers, activities, workflows or the client.',
      from: { path: '^src/providers/' },
      to: {
        path: [
          '^src/(activities|workflows|client|config|breaker|temporal)/',
          '^src/(worker|main|admin|logger)\\.ts$',
          '@temporalio',
        ],
      },
    },
    {
      name: 'workflows-are-sandbox-safe',
      severity: 'error',
      comment:
        'Workflow code runs in the Temporal sandbox: only shared code, its own folder, and activity types.',
      from: { path: '^src/workflows/' },
      to: {
        path: '^src/',
        pathNot: ['^src/workflows/', '^src/shared/', '^src/activities/'],
      },
    },
    {
      name: 'workflows-import-activity-types-only',
      severity: 'error',
      from: { path: '^src/workflows/' },
      to: { path: '^src/activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'shared-is-shared',
      severity: 'error',
      comment: 'Shared code is imported by workflows and clients alike: it depends on nothing above it.',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'the-product-needs-no-harness',
      severity: 'error',
      comment:
        'The harness starts dev servers and workers for tests and benchmarks; the product never imports it.',
      from: { path: '^src/' },
      to: { path: '^(harness|bench)/' },
    },
    {
      name: 'no-tests-outside-tests',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
