#!/usr/bin/env node
// The example service greenlight deploys by default: a tiny HTTP server, one process per version.
// Environment: SERVICE, VERSION, HOST (default 127.0.0.1), PORT (default 0: any free port),
// READY_FILE (optional: where to write {"port","pid"} once listening).
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const service = process.env.SERVICE || 'example';
const version = process.env.VERSION || 'dev';
const startedAt = new Date().toISOString();

const server = http.createServer((req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (req.url) {
    case '/healthz':
      return send(200, { status: 'ok' });
    case '/version':
      return send(200, { service, version });
    case '/':
      return send(200, { service, version, startedAt });
    default:
      return send(404, { error: 'not found' });
  }
});

server.listen(Number(process.env.PORT || 0), process.env.HOST || '127.0.0.1', () => {
  const { port } = server.address();
  const ready = JSON.stringify({ port, pid: process.pid });
  if (process.env.READY_FILE) fs.writeFileSync(process.env.READY_FILE, ready);
  console.log(`${service} ${version} listening on ${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
