import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { BreakerMetrics } from './breaker/metrics';
import type { Breakers } from './breaker/registry';
import { BreakerName } from './config/schema';

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

const Operator = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'a name such as alice');
const Actions = ['open', 'close', 'reset'] as const;

/**
 * The worker's admin endpoint: `GET /metrics` (Prometheus), `GET /breakers`, and
 * `POST /breakers/<name>/open|close|reset[?by=<name>]` for operators (`greenlight breakers`).
 * It listens on loopback unless told otherwise; with a token, every request must bear it.
 */
export async function startAdminServer(options: {
  breakers: Breakers;
  metrics: BreakerMetrics;
  host: string;
  port: number;
  token?: string;
  /** Whether a name is one of this worker's dependencies (`cmdb`, `checks`, `dns:<target>`, `infra:<target>`). */
  isDependency: (name: string) => boolean;
  onAction?: (action: string, breaker: string, by: string) => void;
}): Promise<AdminServer> {
  const { breakers, metrics, token } = options;
  if (!token && !isLoopback(options.host)) {
    throw new Error(
      `the admin endpoint listens on ${options.host}, beyond this machine: set GREENLIGHT_ADMIN_TOKEN`,
    );
  }
  const port = () => (server.address() as AddressInfo | null)?.port ?? options.port;
  /**
   * Without a token, only this machine's own tools may talk to it: no browser (a page's requests
   * carry an Origin), and no name but a loopback one (DNS rebinding sends another Host).
   */
  const isFromThisMachine = (req: IncomingMessage) => {
    if (req.headers.origin !== undefined) return false;
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    return ['127.0.0.1', 'localhost', '[::1]', options.host].some((h) => hostHeader === `${h}:${port()}`);
  };
  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : `${JSON.stringify(body)}\n`);
  };
  const isAuthorised = (req: IncomingMessage) => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const server = createServer((req, res) => {
    void (async () => {
      if (!isAuthorised(req)) return send(res, 401, { error: 'a valid bearer token is required' });
      if (!token && !isFromThisMachine(req)) {
        return send(res, 403, { error: 'requests from browsers or other host names are refused' });
      }
      const url = new URL(req.url ?? '/', 'http://admin');
      if (req.method === 'GET' && url.pathname === '/metrics') {
        return send(res, 200, await metrics.scrape(), metrics.registry.contentType);
      }
      if (req.method === 'GET' && url.pathname === '/breakers') return send(res, 200, await breakers.list());
      const match = /^\/breakers\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
      if (req.method === 'POST' && match) {
        const name = BreakerName.safeParse(decodeURIComponent(match[1]!));
        const action = z.enum(Actions).safeParse(match[2]);
        const by = Operator.safeParse(url.searchParams.get('by') ?? 'operator');
        if (!name.success)
          return send(res, 400, { error: `invalid breaker name: ${name.error.issues[0]!.message}` });
        if (!options.isDependency(name.data)) {
          return send(res, 404, {
            error: `no dependency ${name.data}: cmdb, checks, dns:<target> or infra:<target>`,
          });
        }
        if (!action.success) return send(res, 400, { error: `unknown action; use ${Actions.join(', ')}` });
        if (!by.success)
          return send(res, 400, { error: `invalid operator name: ${by.error.issues[0]!.message}` });
        const view = await breakers.operate(name.data, action.data, by.data);
        options.onAction?.(action.data, name.data, by.data);
        return send(res, 200, view);
      }
      return send(res, 404, { error: 'not found' });
    })().catch((e: Error) => send(res, 500, { error: e.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
