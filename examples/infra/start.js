#!/usr/bin/env node
// Starts the example service detached on PORT and records its pid in STATE_FILE; exits once it listens.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { SERVICE, VERSION, PORT, STATE_FILE, ARTIFACT_URI, ARTIFACT_DIGEST } = process.env;

/** The program to run: the artifact (its bytes checked against its digest), or the example service. */
function program() {
  if (!ARTIFACT_URI) return path.join(__dirname, '..', 'service', 'server.js');
  if (!ARTIFACT_URI.startsWith('file://')) {
    console.error(`this example runs file:// artifacts only, not ${ARTIFACT_URI}`);
    process.exit(1);
  }
  const file = require('node:url').fileURLToPath(ARTIFACT_URI);
  const digest = `sha256:${require('node:crypto').createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
  if (digest !== ARTIFACT_DIGEST) {
    console.error(`${ARTIFACT_URI} is ${digest}, not ${ARTIFACT_DIGEST}`);
    process.exit(1);
  }
  return file;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * An instance recorded here already: a start whose apply was cut short (its Terraform run killed
 * before the state was saved), so the apply runs again. It is stopped first: otherwise it would
 * keep the port, answer for the new one, and be left running when the deployment is destroyed.
 */
async function stopPrevious() {
  let previous;
  try {
    previous = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
  } catch {
    return;
  }
  if (!Number.isInteger(previous.pid) || !alive(previous.pid)) return;
  process.kill(previous.pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(previous.pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(previous.pid)) process.kill(previous.pid, 'SIGKILL');
}

(async function start() {
  await stopPrevious();
  // The service writes its port and pid here once it listens: proof that the answer is our child's.
  const readyFile = `${STATE_FILE}.ready`;
  fs.rmSync(readyFile, { force: true });
  const child = spawn(process.execPath, [program()], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, SERVICE, VERSION, PORT, HOST: '127.0.0.1', READY_FILE: readyFile },
  });
  child.unref();
  fs.writeFileSync(STATE_FILE, JSON.stringify({ pid: child.pid, port: Number(PORT) }));

  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const ready = JSON.parse(fs.readFileSync(readyFile, 'utf8'));
      if (ready.pid === child.pid) {
        fs.rmSync(readyFile, { force: true });
        return;
      }
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) {
      console.error(`the service exited with code ${child.exitCode} (is port ${PORT} in use?)`);
      process.exit(1);
    }
    if (Date.now() > deadline) {
      console.error(`the service did not start listening on port ${PORT} within 15 s`);
      process.kill(child.pid, 'SIGKILL');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
