import { readFileSync } from 'node:fs';
import { Connection } from '@temporalio/client';
import type { ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalSettings } from '../config/load';
import { ALL_SEARCH_ATTRIBUTES } from '../shared/messages';

/** The address of a Temporal server on this machine (the local dev server). */
export const localAddress = (port: number): string => `127.0.0.1:${port}`;

/** Connection options shared by the client and the worker: address, TLS (mTLS or CA), API key. */
export function connectionOptions(t: TemporalSettings, address: string) {
  const tls = t.tls
    ? {
        ...(t.tls.certPath && t.tls.keyPath
          ? { clientCertPair: { crt: readFileSync(t.tls.certPath), key: readFileSync(t.tls.keyPath) } }
          : {}),
        ...(t.tls.caPath ? { serverRootCACertificate: readFileSync(t.tls.caPath) } : {}),
        ...(t.tls.serverName ? { serverNameOverride: t.tls.serverName } : {}),
      }
    : undefined;
  return { address, tls, ...(t.apiKey ? { apiKey: t.apiKey } : {}) } satisfies ConnectionOptions &
    NativeConnectionOptions;
}

export function clientConnection(t: TemporalSettings): Promise<Connection> {
  return Connection.connect({
    ...connectionOptions(t, t.address ?? localAddress(t.devServerPort)),
    connectTimeout: '5s',
  });
}

export function workerConnection(t: TemporalSettings, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(t, address));
}

/**
 * Registers greenlight's search attributes on a namespace when they are missing. Needs operator
 * permission; on Temporal Cloud, create them in the namespace settings instead.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !known.has(k.name));
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
  });
  return missing.map((k) => k.name);
}
