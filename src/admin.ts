import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { isLoopback } from './loopback';
import type { BreakerMetrics } from './breaker/metrics';
import type { Breakers } from './breaker/registry';
import { BreakerConfigKey } from './shared/breaker-name';
import type { BreakerName } from './shared/breaker-name';

export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

const Operator = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/);
const Actions = ['open', 'close', 'reset'] as const;
type Action = (typeof Actions)[number];

/** A kind, ':' and a target of at most 32 characters fit with room to spare. */
const MAX_BREAKER_NAME = 64;
/** How much of a value a message quotes. */
const MAX_QUOTED = 40;

/** A request the endpoint will not act on: its status and a one-line message for a person. */
class Refusal {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** A value as a message shows it: JSON-escaped (no control characters), cut short. */
function quote(value: string): string {
  return JSON.stringify(value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value);
}

/** The request target: a path, or an absolute URL; anything else (`*`, `http://[`) is the client's error. */
function parseTarget(target: string): URL | Refusal {
  try {
    // A path is never read as a URL of its own (`//breakers/…` is a path, not a host).
    return new URL(target.startsWith('/') ? `http://admin${target}` : target);
  } catch {
    return new Refusal(400, `invalid request target ${quote(target)}: expected a path such as /breakers`);
  }
}

/** A percent-encoded part of the target, or null when it is malformed (`%E0%A4%A`). */
function decode(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/** The query's parameters, decoded strictly: a malformed escape is refused, not turned into U+FFFD. */
function parseQuery(search: string): [string, string][] | Refusal {
  const params: [string, string][] = [];
  for (const part of search.slice(1).split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    const key = decode((at < 0 ? part : part.slice(0, at)).replace(/\+/g, ' '));
    const value = decode((at < 0 ? '' : part.slice(at + 1)).replace(/\+/g, ' '));
    if (key === null || value === null) {
      return new Refusal(400, `invalid query parameter ${quote(part)}: not valid percent-encoding`);
    }
    params.push([key, value]);
  }
  return params;
}

/** The endpoint takes no body: one sent would be ignored, so it is refused before anything is done. */
function refuseBody(req: IncomingMessage): Refusal | null {
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return null;
  const size = length === undefined ? 'a chunked body' : `a ${length}-byte body`;
  return new Refusal(
    400,
    `unexpected request body (${size}): the admin endpoint takes none; name the operator with ?by=<name>`,
  );
}

function readBreakerName(raw: string): string | Refusal {
  const expected = 'expected infra, dns, cmdb, checks, artifacts, notify or prometheus, optionally :<target>';
  const name = decode(raw);
  if (name === null) {
    return new Refusal(400, `invalid breaker name ${quote(raw)}: not valid percent-encoding; ${expected}`);
  }
  if (name.length > MAX_BREAKER_NAME) {
    return new Refusal(
      400,
      `invalid breaker name ${quote(name)}: ${name.length} characters, at most ${MAX_BREAKER_NAME}; ${expected}`,
    );
  }
  if (!BreakerConfigKey.safeParse(name).success)
    return new Refusal(400, `invalid breaker name ${quote(name)}: ${expected}`);
  return name;
}

function parseAction(raw: string): Action | Refusal {
  const action = Actions.find((a) => a === raw);
  return action ?? new Refusal(400, `unknown action ${quote(raw)}: expected open, close or reset`);
}

/** The query of an operator's request: `by`, once, and nothing else. */
function parseOperator(search: string): string | Refusal {
  const params = parseQuery(search);
  if (params instanceof Refusal) return params;
  const unknown = params.find(([key]) => key !== 'by');
  if (unknown) return new Refusal(400, `unknown parameter ${quote(unknown[0])}: only ?by=<name> is accepted`);
  if (params.length > 1) return new Refusal(400, `?by= given ${params.length} times: name one operator`);
  const by = params[0]?.[1] ?? 'operator';
  if (!Operator.safeParse(by).success) {
    return new Refusal(
      400,
      `invalid operator name ${quote(by)} (?by=): expected 1 to 64 letters, digits, ".", "_", "@" or "-", such as alice`,
    );
  }
  return by;
}

/** Which method a path is served for, or null when it is not served at all. */
function methodFor(pathname: string): 'GET' | 'POST' | null {
  if (pathname === '/metrics' || pathname === '/breakers') return 'GET';
  return /^\/breakers\/[^/]+\/[^/]+$/.test(pathname) ? 'POST' : null;
}

/** Whether the path is served, for the request's method, and the request has no body. */
function checkRoute(req: IncomingMessage, pathname: string): Refusal | null {
  const method = methodFor(pathname);
  if (method === null) {
    return new Refusal(
      404,
      `no such path ${quote(pathname)}: expected GET /metrics, GET /breakers or POST /breakers/<name>/<action>`,
    );
  }
  if (req.method !== method) {
    const error = `method ${quote(req.method ?? '')} is not served for ${quote(pathname)}: use ${method}`;
    return new Refusal(405, error, { allow: method });
  }
  return refuseBody(req);
}

/** The Temporal SDK's own metrics, or a comment saying why they are missing (a scrape never fails for them). */
async function scrapeSdk(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return `# Temporal SDK metrics unavailable: HTTP ${res.status}\n`;
    const text = await res.text();
    return text.endsWith('\n') || text === '' ? text : `${text}\n`;
  } catch (e) {
    return `# Temporal SDK metrics unavailable: ${(e as Error).message}\n`;
  }
}

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
  /** Where the Temporal SDK serves its worker metrics, appended to `/metrics`. */
  sdkMetricsUrl?: string;
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
  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    type = 'application/json',
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': type, ...headers });
    res.end(typeof body === 'string' ? body : `${JSON.stringify(body)}\n`);
  };
  const refuse = (res: ServerResponse, r: Refusal) =>
    send(res, r.status, { error: r.error }, 'application/json', r.headers);
  const isAuthorised = (req: IncomingMessage) => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  /** `POST /breakers/<name>/<action>[?by=<name>]`: every part parsed before anything is done. */
  const operate = async (url: URL): Promise<unknown> => {
    const [, , rawName, rawAction] = url.pathname.split('/') as [string, string, string, string];
    const name = readBreakerName(rawName);
    if (name instanceof Refusal) return name;
    const action = parseAction(rawAction);
    if (action instanceof Refusal) return action;
    const by = parseOperator(url.search);
    if (by instanceof Refusal) return by;
    if (!options.isDependency(name)) {
      return new Refusal(
        404,
        `no dependency ${quote(name)} on this worker: expected cmdb, checks, dns:<target> or infra:<target> for one of its targets`,
      );
    }
    const view = await breakers.operate(name as BreakerName, action, by);
    options.onAction?.(action, name, by);
    return view;
  };
  const server = createServer((req, res) => {
    void (async () => {
      if (!isAuthorised(req)) return send(res, 401, { error: 'a valid bearer token is required' });
      if (!token && !isFromThisMachine(req)) {
        return send(res, 403, { error: 'requests from browsers or other host names are refused' });
      }
      const url = parseTarget(req.url ?? '/');
      if (url instanceof Refusal) return refuse(res, url);
      const refusal = checkRoute(req, url.pathname);
      if (refusal) return refuse(res, refusal);
      if (url.pathname === '/metrics') {
        const sdk = options.sdkMetricsUrl ? await scrapeSdk(options.sdkMetricsUrl) : '';
        return send(res, 200, `${await metrics.scrape()}${sdk}`, metrics.registry.contentType);
      }
      if (url.pathname === '/breakers') return send(res, 200, await breakers.list());
      const result = await operate(url);
      return result instanceof Refusal ? refuse(res, result) : send(res, 200, result);
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
