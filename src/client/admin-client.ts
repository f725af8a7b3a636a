import type { Settings } from '../config/load';
import { GreenlightError } from './api';

/**
 * One request to the worker's admin endpoint (breakers), with its token; a refusal or an endpoint
 * that does not answer is a GreenlightError with one line for a person.
 */
export async function adminRequest(
  admin: Settings['admin'],
  method: 'GET' | 'POST',
  path: string,
): Promise<unknown> {
  const { host, port, token } = admin;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const res = await fetch(url, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(5_000),
  }).catch((e: Error) => {
    throw new GreenlightError(
      `cannot reach the worker's admin endpoint at ${host}:${port} (${e.message}); is \`npm start\` running? (GREENLIGHT_ADMIN_HOST/PORT)`,
      'unavailable',
    );
  });
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new GreenlightError(`the worker refused: ${body.error ?? res.status}`, 'refused');
  return body;
}
