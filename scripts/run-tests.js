#!/usr/bin/env node
// `npm test`: makes sure a Temporal CLI binary exists (building it with Go on a fresh machine, which
// takes minutes and prints progress), then runs node's test runner on the compiled tests.
'use strict';
const { spawnSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const env = { ...process.env };
const ensure = spawnSync(process.execPath, [join(root, 'dist/src/temporal/ensure-cli.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
if (ensure.status === 0) env.TEMPORAL_CLI_PATH = ensure.stdout.trim();
else console.error('no Temporal CLI binary: the tests fall back to the Temporal SDK download');

// The tests whose sources exist (so a deleted test's stale build output never runs), listed
// explicitly: node 21+ no longer accepts a directory here.
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(join(root, 'test'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join('dist', 'test', f.replace(/\.ts$/, '.js')));
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env,
});
process.exit(result.status ?? 1);
