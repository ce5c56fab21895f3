/** Graceful shutdown: every part stops taking work first, then all drain in parallel within the grace. */
import { describe, expect, it } from 'vitest';
import { closeHttpServer, createLogger, startHttpServer, stopParts, type HttpRoutes, type Stoppable } from '@flotilla/platform';

const logger = createLogger('service-test', 'silent');

describe('stopParts', () => {
  it('stops every poller before draining any part, then drains them all at once', async () => {
    const log: string[] = [];
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const part = (name: string): Stoppable => ({
      name,
      stopTaking: () => void log.push(`stop-taking ${name}`),
      stop: async () => {
        log.push(`drain ${name}`);
        await released;
        log.push(`drained ${name}`);
      },
    });
    const stopping = stopParts(logger, [part('a'), part('b'), part('c')], 5_000);
    // Every drain has begun while none has finished: they run in parallel, not one after another.
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['stop-taking a', 'stop-taking b', 'stop-taking c', 'drain a', 'drain b', 'drain c']);
    release();
    expect(await stopping).toEqual({ stopped: ['a', 'b', 'c'], failed: [], timedOut: [] });
  });

  it('names a part that does not drain within the budget, without waiting for it', async () => {
    const stuck: Stoppable = { name: 'stuck', stop: () => new Promise<void>(() => undefined) };
    const quick: Stoppable = { name: 'quick', stop: () => Promise.resolve() };
    const started = Date.now();
    expect(await stopParts(logger, [stuck, quick], 200)).toEqual({ stopped: ['quick'], failed: [], timedOut: ['stuck'] });
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('closeHttpServer', () => {
  it('lets a request in flight finish while the server closes', async () => {
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => (arrived = resolve));
    const routes: HttpRoutes = (app) => {
      app.post('/slow', async () => {
        arrived();
        await new Promise<void>((resolve) => (release = resolve));
        return { done: true };
      });
      return Promise.resolve();
    };
    const http = await startHttpServer({ logger, service: 'test', routes, port: 0, host: '127.0.0.1' });
    const response = fetch(`http://127.0.0.1:${http.port}/slow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await inFlight;
    const closing = closeHttpServer(http, 5_000);
    release();
    const answered = await response;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toEqual({ done: true });
    await closing;
  });
});
