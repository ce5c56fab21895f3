/**
 * A loopback TCP proxy in front of the AWS emulator that the outage run can cut, in one of two ways:
 *
 * - `refused`: the listener closes and every open connection is reset, so a new connection gets
 *   ECONNREFUSED and one in flight gets ECONNRESET (AWS unreachable, fast failures);
 * - `silent`: connections are still accepted, and open ones kept, but not one byte moves either
 *   way (a black-holed network: only the caller's own timeouts end a request).
 *
 * `restore()` ends the cut: the listener opens again on the same port and new connections are
 * forwarded. Connections held silent are destroyed then, as a NAT would forget them.
 *
 * Written on node:net rather than taken from a library: the two failure modes need control over
 * the listener and each socket (close and re-listen on the same port, reset, hold without reading)
 * that generic proxies (http-proxy, toxiproxy's client) either do not give or give through a server
 * of their own that would have to be installed; this is about a hundred lines with no dependency.
 * It listens on 127.0.0.1 only and connects only to the upstream it is given (loopback).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type CutMode = 'refused' | 'silent';

export interface OutageProxy {
  /** The endpoint URL to give the services, e.g. http://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  /** The current state: forwarding, or cut in one mode. */
  readonly state: 'open' | CutMode;
  /** Connections accepted since the start (forwarded or held). */
  readonly connections: number;
  cut(mode: CutMode): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream?: Socket;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      server.off('error', onError);
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('proxy: no TCP address'));
      resolve(address.port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export async function startOutageProxy(upstream: { host: string; port: number }): Promise<OutageProxy> {
  if (!['127.0.0.1', 'localhost', '::1'].includes(upstream.host)) throw new Error(`proxy: upstream ${upstream.host} is not loopback`);
  let state: OutageProxy['state'] = 'open';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const onConnection = (client: Socket) => {
    accepted++;
    const pair: Pair = { client };
    pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    client.on('error', () => client.destroy());
    if (state === 'silent') {
      // Accepted, never read from, never answered.
      client.pause();
      return;
    }
    const up = createConnection({ host: upstream.host, port: upstream.port });
    pair.upstream = up;
    up.on('error', () => client.destroy());
    up.on('close', () => client.destroy());
    client.pipe(up);
    up.pipe(client);
  };

  // One server object per listening period: a closed net.Server can listen again, but a fresh one
  // keeps the two periods' 'connection' handlers from ever overlapping.
  let server = createServer(onConnection);
  const port = await listen(server, 0);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get state() {
      return state;
    },
    get connections() {
      return accepted;
    },
    async cut(mode) {
      if (state !== 'open') throw new Error(`proxy: already cut (${state})`);
      state = mode;
      switch (mode) {
        case 'refused':
          {
            // Stop accepting at once; close() resolves when the open connections are gone, which
            // the resets below make immediate.
            const closed = closeServer(server);
            for (const p of pairs) {
              p.client.resetAndDestroy();
              p.upstream?.destroy();
            }
            await closed;
          }
          break;
        case 'silent':
          // Stop every byte in flight both ways; the listener stays and new connections are held.
          for (const p of pairs) {
            const up = p.upstream;
            if (up) {
              p.client.unpipe(up);
              up.unpipe(p.client);
              // Its close would close the client (onConnection): detach that before dropping it.
              up.removeAllListeners('close');
              up.removeAllListeners('error');
              up.on('error', () => undefined);
              up.destroy();
              delete p.upstream;
            }
            p.client.pause();
          }
          break;
        default: {
          const never: never = mode;
          throw new Error(`proxy: unknown cut mode ${String(never)}`);
        }
      }
    },
    async restore() {
      if (state === 'open') return;
      const was = state;
      state = 'open';
      for (const p of [...pairs]) if (!p.upstream) p.client.destroy();
      if (was === 'refused') {
        server = createServer(onConnection);
        // The port was ours a moment ago; another process taking it in between is possible but
        // unlikely on loopback. A bounded retry covers TIME_WAIT-like delays in closing.
        for (let attempt = 1; ; attempt++) {
          try {
            await listen(server, port);
            break;
          } catch (error) {
            if (attempt >= 20) throw error;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await closeServer(server);
    },
  };
}
