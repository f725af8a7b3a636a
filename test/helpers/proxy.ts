import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** From now on, accept connections and close them at once: the server is down. */
  down(): void;
  /** From now on, accept connections and never answer: the server hangs. */
  stall(): void;
  up(): void;
  /** Connections accepted while down: the calls that reached the dead server. */
  callsWhileDown(): number;
  close(): Promise<void>;
}

/** A TCP proxy on loopback in front of a real server, which can play the server being down. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let isDown = false;
  let isStalled = false;
  let whileDown = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (isDown) {
      whileDown++;
      client.destroy();
      return;
    }
    if (isStalled) return;
    const upstream = connect({ host: targetHost, port: targetPort });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    down: () => {
      isDown = true;
    },
    stall: () => {
      isStalled = true;
    },
    up: () => {
      isDown = false;
      isStalled = false;
    },
    callsWhileDown: () => whileDown,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
