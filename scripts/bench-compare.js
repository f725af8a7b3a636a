#!/usr/bin/env node
// `npm run bench:compare -- <revision> [rounds]`: the benchmarks of this checkout and of another
// revision, side by side. The other revision is built in a temporary git worktree; the two builds
// then run alternately, `rounds` times each (default 3), on the same machine in the same session,
// and the median of each entry is printed for both, with the ratio of this checkout to the other.
'use strict';
const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const [revision, roundsArg = '3'] = process.argv.slice(2);
const rounds = Number(roundsArg);
if (
  !revision ||
  !/^[\w./-]{1,100}$/.test(revision) ||
  !Number.isInteger(rounds) ||
  rounds < 1 ||
  rounds > 20
) {
  console.error('usage: npm run bench:compare -- <git revision> [rounds, 1 to 20]');
  process.exit(2);
}

const here = join(__dirname, '..');
const other = join(mkdtempSync(join(tmpdir(), 'greenlight-bench-')), 'tree');
const run = (file, args, cwd) => execFileSync(file, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
const temporalCli = execFileSync(process.execPath, [join(here, 'dist/src/temporal/ensure-cli.js')], {
  encoding: 'utf8',
}).trim();
const env = { ...process.env, TEMPORAL_CLI_PATH: temporalCli };

run('git', ['worktree', 'add', '--detach', other, revision], here);
try {
  console.error(`building ${revision} in ${other}…`);
  run('npm', ['ci', '--silent', '--no-audit', '--no-fund'], other);
  run('npm', ['run', 'build', '--silent'], other);
  run('npm', ['run', 'build', '--silent'], here);

  /** Each tree's results per round: { name: value }. */
  const samples = { [revision]: [], this: [] };
  for (let i = 1; i <= rounds; i++) {
    for (const [label, tree] of [
      [revision, other],
      ['this', here],
    ]) {
      console.error(`round ${i} of ${rounds}: ${label}`);
      execFileSync(process.execPath, ['dist/bench/run.js'], {
        cwd: tree,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      const entries = JSON.parse(readFileSync(join(tree, 'bench/results/latest.json'), 'utf8'));
      samples[label].push(
        Object.fromEntries(entries.map((e) => [e.name, { value: e.value, ratio: e.ratio }])),
      );
    }
  }

  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const names = Object.keys(samples.this[0]);
  console.log(
    `${'entry'.padEnd(38)} ${revision.slice(0, 12).padStart(12)} ${'this'.padStart(12)}  this/other`,
  );
  for (const name of names) {
    const before = samples[revision].map((s) => s[name]).filter(Boolean);
    if (!before.length) continue;
    const after = samples.this.map((s) => s[name]);
    for (const field of ['value', 'ratio']) {
      const b = median(before.map((x) => x[field]));
      const a = median(after.map((x) => x[field]));
      const label = field === 'value' ? name : `  (its ratio to the baseline)`;
      console.log(
        `${label.padEnd(38)} ${String(b).padStart(12)} ${String(a).padStart(12)}  ${(a / b).toFixed(2)}`,
      );
    }
  }
} finally {
  run('git', ['worktree', 'remove', '--force', other], here);
  rmSync(join(other, '..'), { recursive: true, force: true });
}
