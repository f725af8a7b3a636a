import { connect, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** From now on, accept connections and close them at once: the server is down. */
  down(): void;
  /**
   * From now on, accept connections and never answer, and stop passing data on the open ones: the
   * server hangs.
   */
  stall(): void;
  /** The server is back; connections that hung are reset, as a restarted server's are. */
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
  /** Open connections, each with its upstream, and those frozen by a stall. */
  const pairs = new Set<[Socket, Socket]>();
  const frozen = new Set<[Socket, Socket]>();
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
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
      frozen.delete(pair);
    };
    client.on('close', end);
    upstream.on('close', end);
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
      for (const pair of pairs) {
        pair[0].unpipe(pair[1]);
        pair[1].unpipe(pair[0]);
        frozen.add(pair);
      }
    },
    up: () => {
      isDown = false;
      isStalled = false;
      for (const [client, upstream] of frozen) {
        client.destroy();
        upstream.destroy();
      }
      frozen.clear();
    },
    callsWhileDown: () => whileDown,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
