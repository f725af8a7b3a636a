#!/usr/bin/env node
// The example service greenlight deploys by default: a tiny HTTP server, one process per version.
// Environment: SERVICE, VERSION, HOST (default 127.0.0.1), PORT (default 0: any free port),
// READY_FILE (optional: where to write {"port","pid"} once listening), FAILING_VERSIONS (versions,
// comma-separated, whose `/` answers 500). Prometheus metrics on /metrics.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const service = process.env.SERVICE || 'example';
const version = process.env.VERSION || 'dev';
const startedAt = new Date().toISOString();
// A version listed here answers its requests (not its health check) with 500: a bad release that
// only metrics show.
const isFailing = (process.env.FAILING_VERSIONS || '').split(',').includes(version);

// Prometheus metrics: requests by path and status, and a latency histogram.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const requests = new Map();
const histogram = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
const labels = `service="${service}",version="${version}"`;

function observe(path, code, seconds) {
  const key = `${path} ${code}`;
  requests.set(key, (requests.get(key) || 0) + 1);
  BUCKETS.forEach((le, i) => {
    if (seconds <= le) histogram.counts[i] += 1;
  });
  histogram.sum += seconds;
  histogram.count += 1;
}

function metrics() {
  const lines = [
    '# HELP http_requests_total Requests answered, by path and status code.',
    '# TYPE http_requests_total counter',
  ];
  for (const [key, n] of requests) {
    const [path, code] = key.split(' ');
    lines.push(`http_requests_total{${labels},path="${path}",code="${code}"} ${n}`);
  }
  lines.push('# HELP http_request_duration_seconds How long requests took.');
  lines.push('# TYPE http_request_duration_seconds histogram');
  BUCKETS.forEach((le, i) =>
    lines.push(`http_request_duration_seconds_bucket{${labels},le="${le}"} ${histogram.counts[i]}`),
  );
  lines.push(`http_request_duration_seconds_bucket{${labels},le="+Inf"} ${histogram.count}`);
  lines.push(`http_request_duration_seconds_sum{${labels}} ${histogram.sum}`);
  lines.push(`http_request_duration_seconds_count{${labels}} ${histogram.count}`);
  return `${lines.join('\n')}\n`;
}

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  const path = ['/healthz', '/version', '/'].includes(req.url) ? req.url : 'other';
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    observe(path, status, Number(process.hrtime.bigint() - started) / 1e9);
  };
  switch (req.url) {
    case '/metrics':
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(metrics());
    case '/healthz':
      return send(200, { status: 'ok' });
    case '/version':
      return send(200, { service, version });
    case '/':
      return isFailing
        ? send(500, { error: 'this version fails' })
        : send(200, { service, version, startedAt });
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
