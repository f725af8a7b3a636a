import { timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { isLoopback } from '../loopback';
import { z } from 'zod';

/** What one request may carry: well above the server's own 2 MB payload and 4 MB request limits. */
export const MAX_CODEC_BODY_BYTES = 16 * 1024 * 1024;
const MAX_PAYLOADS = 10_000;
const MAX_QUOTED = 40;

const Base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'base64');
/** A payload as Temporal's JSON shows it: metadata values and data in base64. */
const JsonPayload = z.strictObject({
  metadata: z.record(z.string().max(256), Base64).optional(),
  data: Base64.optional(),
  externalPayloads: z.array(z.unknown()).optional(),
});
const CodecRequest = z.strictObject({ payloads: z.array(JsonPayload).max(MAX_PAYLOADS) });

export interface CodecServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  host: string;
  port: number;
  /** Origins whose pages may call it (the Web UI's, such as http://localhost:8233); others are refused. */
  origins: string[];
  /** When set, every request bears `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Listen beyond loopback without a token: only where the network already limits who reaches it
   * (in a container whose port is published on the host's loopback).
   */
  trustNetwork?: boolean;
  /** Each request, after it is answered: for a log line (never the payloads). */
  onRequest?: (entry: {
    method: string;
    path: string;
    status: number;
    payloads?: number;
    namespace?: string;
  }) => void;
}

class Refusal {
  constructor(
    readonly status: number,
    readonly error: string,
  ) {}
}

const quote = (value: string) =>
  JSON.stringify(value.length > MAX_QUOTED ? `${value.slice(0, MAX_QUOTED)}…` : value);

const toPayload = (p: z.output<typeof JsonPayload>): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v ?? new Uint8Array()).toString('base64'),
    ]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

async function readBody(req: IncomingMessage): Promise<string | Refusal> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_CODEC_BODY_BYTES) {
    return new Refusal(413, `request body of ${declared} bytes; at most ${MAX_CODEC_BODY_BYTES}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CODEC_BODY_BYTES)
      return new Refusal(413, `request body over ${MAX_CODEC_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseRequest(body: string): Payload[] | Refusal {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return new Refusal(
      400,
      'the body is not JSON: expected {"payloads": [{"metadata": {…}, "data": "<base64>"}]}',
    );
  }
  const parsed = CodecRequest.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the body';
    return new Refusal(
      400,
      `${where}: ${issue.message}; expected {"payloads": [{"metadata": {…}, "data": "<base64>"}]}`,
    );
  }
  return parsed.data.payloads.map(toPayload);
}

/**
 * A remote codec for the Temporal Web UI and CLI (`--codec-endpoint`): `POST /encode` and
 * `POST /decode` take and give `{ payloads: [...] }` as Temporal's JSON writes them. Pages of the
 * listed origins may call it (CORS, credentials included); with a token, every request must bear it.
 * It listens on loopback unless told otherwise, and beyond it only with a token.
 */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { codec, token } = options;
  if (!token && !isLoopback(options.host) && !options.trustNetwork) {
    throw new Error(
      `the codec server would decrypt for anyone who reaches ${options.host}: set a token (GREENLIGHT_CODEC_TOKEN), or say the network is trusted (--trust-network)`,
    );
  }
  const origins = new Set(options.origins.map((o) => new URL(o).origin));
  const cors = (req: IncomingMessage): Record<string, string> | Refusal | null => {
    const origin = req.headers.origin;
    if (origin === undefined) return null;
    if (!origins.has(origin)) {
      return new Refusal(
        403,
        `origin ${quote(origin)} is not allowed: start the codec server with --origin ${origin}`,
      );
    }
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type, x-namespace',
      'access-control-max-age': '600',
      vary: 'Origin',
    };
  };
  const isAuthorised = (req: IncomingMessage) => {
    if (!token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  /**
   * Without a token, only names of this machine (or the one it listens on) may be asked for: a page
   * whose own name was made to resolve here (DNS rebinding) sends its name instead.
   */
  const isNamedForThisMachine = (req: IncomingMessage) => {
    if (token || options.trustNetwork) return true;
    const name = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    return (
      ['localhost', '[::1]', options.host.toLowerCase()].includes(name) || /^127(\.\d{1,3}){3}$/.test(name)
    );
  };
  const handle = async (req: IncomingMessage) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!isNamedForThisMachine(req)) {
      return new Refusal(
        403,
        `requests for ${quote(req.headers.host ?? '')} are refused: only this machine's names are served without a token`,
      );
    }
    if (req.method === 'OPTIONS') return { status: 204, body: undefined };
    if (path !== '/encode' && path !== '/decode') {
      return new Refusal(404, `no such path ${quote(path)}: expected POST /encode or POST /decode`);
    }
    if (req.method !== 'POST') return new Refusal(405, `use POST for ${path}`);
    if (!isAuthorised(req)) return new Refusal(401, 'a valid bearer token is required');
    const body = await readBody(req);
    if (body instanceof Refusal) return body;
    const payloads = parseRequest(body);
    if (payloads instanceof Refusal) return payloads;
    try {
      const out = path === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      return { status: 200, body: { payloads: out.map(toJson) }, count: payloads.length };
    } catch (e) {
      return new Refusal(422, (e as Error).message);
    }
  };
  const server = createServer((req, res: ServerResponse) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]!.slice(0, 200);
      const namespace =
        typeof req.headers['x-namespace'] === 'string' ? req.headers['x-namespace'].slice(0, 200) : undefined;
      const corsHeaders = cors(req);
      const result = corsHeaders instanceof Refusal ? corsHeaders : await handle(req);
      const headers = corsHeaders instanceof Refusal || corsHeaders === null ? {} : corsHeaders;
      if (result instanceof Refusal) {
        res.writeHead(result.status, { 'content-type': 'application/json', ...headers });
        res.end(`${JSON.stringify({ error: result.error })}\n`);
        options.onRequest?.({ method: req.method ?? '', path, status: result.status, namespace });
        return;
      }
      res.writeHead(
        result.status,
        result.body ? { 'content-type': 'application/json', ...headers } : headers,
      );
      res.end(result.body ? JSON.stringify(result.body) : undefined);
      const payloads = 'count' in result ? result.count : undefined;
      options.onRequest?.({ method: req.method ?? '', path, status: result.status, payloads, namespace });
    })().catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ error: e.message })}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
