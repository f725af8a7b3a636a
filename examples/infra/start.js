#!/usr/bin/env node
// Starts the example service detached on PORT and records its pid in STATE_FILE; exits once it answers.
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

const child = spawn(process.execPath, [program()], {
  detached: true,
  stdio: 'ignore',
  env: { PATH: process.env.PATH, SERVICE, VERSION, PORT, HOST: '127.0.0.1' },
});
child.unref();
fs.writeFileSync(STATE_FILE, JSON.stringify({ pid: child.pid, port: Number(PORT) }));

const deadline = Date.now() + 15000;
(async function waitUntilHealthy() {
  for (;;) {
    try {
      // Our instance, not another process that holds the port.
      const response = await fetch(`http://127.0.0.1:${PORT}/version`);
      const body = await response.json();
      if (body.service === SERVICE && body.version === VERSION) return;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) {
      console.error(`the service exited with code ${child.exitCode} (is port ${PORT} in use?)`);
      process.exit(1);
    }
    if (Date.now() > deadline) {
      console.error(`the service did not answer on port ${PORT}`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
})();
