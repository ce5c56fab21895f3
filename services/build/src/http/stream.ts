/**
 * An aggregate's events as server-sent events: `id:` is the stream version (so Last-Event-ID resumes
 * after it), `event:` the type, `data:` the envelope. The log is polled (it is strongly consistent
 * per build, so nothing is missed or reordered) until the build ends, the client goes away, or
 * the server closes. Each open stream costs a strongly consistent read per poll on the events
 * table every other reader shares (review M5), so a quiet stream backs off, and the number open
 * at once is capped, per client and in all.
 */
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventEnvelope } from '@flotilla/events';
import { HttpError, type FastifyReply, type FastifyRequest, type Logger } from '@flotilla/platform';
import type { ApiDeps } from './queries.ts';

export interface SseLimits {
  /** The first wait between reads of the log, and the wait after a read that found events. */
  pollMs: number;
  /** The longest wait: a quiet stream doubles its wait up to this. */
  maxPollMs: number;
  maxStreams: number;
  maxStreamsPerClient: number;
}

/** The wait before the next read: back to the shortest after news, doubled (up to the ceiling) after none. */
export function nextPollDelay(current: number, gotEvents: boolean, limits: Pick<SseLimits, 'pollMs' | 'maxPollMs'>): number {
  return gotEvents ? limits.pollMs : Math.min(current * 2, limits.maxPollMs);
}

/**
 * Counts open streams, in all and per client address. acquire() answers a release function, or
 * which cap refused: 'client' (this client holds its share) or 'global' (the server holds its).
 */
export class StreamSlots {
  readonly #limits: Pick<SseLimits, 'maxStreams' | 'maxStreamsPerClient'>;
  readonly #perClient = new Map<string, number>();
  #open = 0;

  constructor(limits: Pick<SseLimits, 'maxStreams' | 'maxStreamsPerClient'>) {
    this.#limits = limits;
  }

  get open(): number {
    return this.#open;
  }

  acquire(client: string): (() => void) | 'client' | 'global' {
    const held = this.#perClient.get(client) ?? 0;
    if (held >= this.#limits.maxStreamsPerClient) return 'client';
    if (this.#open >= this.#limits.maxStreams) return 'global';
    this.#perClient.set(client, held + 1);
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
      const left = (this.#perClient.get(client) ?? 1) - 1;
      if (left > 0) this.#perClient.set(client, left);
      else this.#perClient.delete(client);
    };
  }
}

export interface EventStreamRequest<E extends EventEnvelope = EventEnvelope> {
  /** Names the stream in logs, e.g. { buildId }. */
  subject: Record<string, string>;
  /** The stream's events after a version, in order. */
  read: (afterVersion: number) => Promise<E[]>;
  /** Whether the stream is over once these events (the next ones read) are sent; it folds them itself. */
  endsWith: (events: readonly E[]) => boolean;
  /** The Last-Event-ID header: the version the client already has. */
  lastEventId: string | undefined;
  /** Aborted when the server closes. */
  closing: AbortSignal;
}

/** Writes the stream to `res`, which the caller has taken from Fastify (reply.hijack()). */
export async function streamEvents<E extends EventEnvelope>(deps: Pick<ApiDeps, 'sse'>, logger: Logger, res: ServerResponse, request: EventStreamRequest<E>): Promise<void> {
  const gone = new AbortController();
  const stop = () => gone.abort();
  res.on('close', stop);
  request.closing.addEventListener('abort', stop, { once: true });
  try {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let after = Number(request.lastEventId ?? 0) || 0;
    let delay = deps.sse.pollMs;
    while (!gone.signal.aborted) {
      const events = await request.read(after);
      delay = nextPollDelay(delay, events.length > 0, deps.sse);
      for (const event of events) {
        res.write(`id: ${event.version}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        after = event.version;
      }
      if (request.endsWith(events)) break;
      res.write(': waiting\n\n');
      // Aborted as soon as the client goes away: no further read of the log for nobody.
      await sleep(delay, undefined, { signal: gone.signal }).catch(() => undefined);
    }
  } catch (error) {
    logger.error({ err: error, ...request.subject }, 'event stream failed');
  } finally {
    res.off('close', stop);
    request.closing.removeEventListener('abort', stop);
    res.end();
  }
}

/** The stream routes' shared part: the caps, the hijack, the close on shutdown. */
export interface StreamDoor {
  /** Serves one stream request: refused with 429 past a cap, else streamed until it ends. */
  serve<E extends EventEnvelope>(request: FastifyRequest, reply: FastifyReply, follow: Pick<EventStreamRequest<E>, 'subject' | 'read' | 'endsWith'>): Promise<void>;
  /** Ends every open stream (the server is closing), so a graceful shutdown does not wait on them. */
  close(): void;
}

export function streamDoor(deps: Pick<ApiDeps, 'sse' | 'logger'>): StreamDoor {
  const closing = new AbortController();
  const slots = new StreamSlots(deps.sse);
  return {
    close: () => closing.abort(),
    async serve(request, reply, follow) {
      const release = slots.acquire(request.ip);
      if (typeof release !== 'function') {
        const whose = release === 'client' ? `this client already has ${deps.sse.maxStreamsPerClient}` : `the server already has ${deps.sse.maxStreams}`;
        reply.header('retry-after', Math.ceil(deps.sse.maxPollMs / 1000));
        throw new HttpError(429, 'too_many_streams', `too many live event streams open: ${whose}; close one or retry later`);
      }
      // The stream writes to the socket itself; Fastify neither serializes nor ends it.
      reply.hijack();
      const lastEventId = request.headers['last-event-id'];
      try {
        await streamEvents(deps, deps.logger, reply.raw, { ...follow, lastEventId: Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, closing: closing.signal });
      } finally {
        release();
      }
    },
  };
}
