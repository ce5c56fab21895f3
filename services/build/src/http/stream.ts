/**
 * A build's events as server-sent events: `id:` is the stream version (so Last-Event-ID resumes
 * after it), `event:` the type, `data:` the envelope. The log is polled (it is strongly consistent
 * per build, so nothing is missed or reordered) until the build ends, the client goes away, or
 * the server closes.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { foldBuild, isTerminal } from '@flotilla/events';
import type { Logger } from '@flotilla/platform';
import { history, type ApiDeps } from './queries.ts';

export interface EventStreamRequest {
  buildId: string;
  /** The Last-Event-ID header: the version the client already has. */
  lastEventId: string | undefined;
  /** Aborted when the server closes. */
  closing: AbortSignal;
}

/** Writes the stream to `res`, which the caller has taken from Fastify (reply.hijack()). */
export async function streamEvents(deps: Pick<ApiDeps, 'store' | 'ssePollMs'>, logger: Logger, res: ServerResponse, request: EventStreamRequest): Promise<void> {
  const gone = new AbortController();
  const stop = () => gone.abort();
  res.on('close', stop);
  request.closing.addEventListener('abort', stop, { once: true });
  try {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let after = Number(request.lastEventId ?? 0) || 0;
    let state = foldBuild([]);
    while (!gone.signal.aborted) {
      const events = await history(deps.store, request.buildId, after);
      for (const event of events) {
        res.write(`id: ${event.version}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        after = event.version;
      }
      state = foldBuild(events, state);
      if (isTerminal(state.status)) break;
      res.write(': waiting\n\n');
      // Aborted as soon as the client goes away: no further read of the log for nobody.
      await sleep(deps.ssePollMs, undefined, { signal: gone.signal }).catch(() => undefined);
    }
  } catch (error) {
    logger.error({ err: error, buildId: request.buildId }, 'event stream failed');
  } finally {
    res.off('close', stop);
    request.closing.removeEventListener('abort', stop);
    res.end();
  }
}
