#!/usr/bin/env node
// `npm test`: makes sure a Temporal CLI binary exists (building it with Go on a fresh machine, which
// takes minutes and prints progress), then runs node's test runner on the compiled tests.
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const ensure = spawnSync(process.execPath, [join(root, 'dist/src/temporal/ensure-cli.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
if (ensure.status !== 0) process.exit(ensure.status ?? 1);
const cliPath = ensure.stdout.trim();

const files = process.argv.slice(2);
const result = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', ...(files.length ? files : [join('dist', 'test')])],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TEMPORAL_CLI_PATH: cliPath } },
);
process.exit(result.status ?? 1);
