#!/usr/bin/env node
// Stops the process recorded in STATE_FILE, if it still runs.
'use strict';
const fs = require('node:fs');

let state;
try {
  state = JSON.parse(fs.readFileSync(process.env.STATE_FILE, 'utf8'));
} catch {
  process.exit(0); // nothing was started, or it is already gone
}
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
if (alive(state.pid)) process.kill(state.pid, 'SIGTERM');
const deadline = Date.now() + 5000;
(function wait() {
  if (!alive(state.pid)) {
    fs.rmSync(process.env.STATE_FILE, { force: true });
    return;
  }
  if (Date.now() > deadline) {
    process.kill(state.pid, 'SIGKILL');
    fs.rmSync(process.env.STATE_FILE, { force: true });
    return;
  }
  setTimeout(wait, 50);
})();
