/**
 * Live streams as server-sent events, read with fetch by the CLI and the console. A stream follows
 * a subject by polling it: an aggregate's events (`id:` its stream version, so Last-Event-ID resumes
 * after it; `event:` the type; `data:` the envelope), a build's live view beside them, or the
 * global log. A stream runs until its subject ends, the client goes away, or the server closes.
 * Each open stream costs reads on tables every other reader shares (review M5), so a quiet stream
 * backs off, and the number open at once is capped, per client and in all.
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

/** One server-sent event: `id:` (what Last-Event-ID resumes after), `event:`, and `data:` as JSON. */
export interface SseFrame {
  id?: string | undefined;
  event: string;
  data: unknown;
}

/** What one read of a followed subject found. */
export interface Polled {
  frames: SseFrame[];
  /** Where the next read starts: the last frame's id, or further when the read skipped past events it did not send. */
  cursor: string | undefined;
  /** The stream is over once these frames are sent. */
  done: boolean;
  /** Something is moving (events arrived, or a live view is changing): read again soon instead of backing off. */
  busy: boolean;
}

/** A subject followed live: each read starts after the cursor the one before left (first: Last-Event-ID). */
export interface Follow {
  /** Names the stream in logs, e.g. { buildId }. */
  subject: Record<string, string>;
  read: (cursor: string | undefined) => Promise<Polled>;
}

/** Frames for an aggregate's events: `id:` is the stream version, `event:` the type, `data:` the envelope. */
export const eventFrames = (events: readonly EventEnvelope[]): SseFrame[] => events.map((event) => ({ id: String(event.version), event: event.type, data: event }));

/**
 * Follows one aggregate's stream by version until `endsWith` says the events just read end it
 * (it folds them itself).
 */
export function followStream<E extends EventEnvelope>(subject: Record<string, string>, read: (afterVersion: number) => Promise<E[]>, endsWith: (events: readonly E[]) => boolean): Follow {
  return {
    subject,
    async read(cursor) {
      const events = await read(Number(cursor ?? 0) || 0);
      return { frames: eventFrames(events), cursor: events.at(-1)?.version.toString() ?? cursor, done: endsWith(events), busy: events.length > 0 };
    },
  };
}

/** Writes the stream to `res`, which the caller has taken from Fastify (reply.hijack()), until it is done, the client goes, or `closing` aborts. */
export async function streamEvents(deps: Pick<ApiDeps, 'sse'>, logger: Logger, res: ServerResponse, follow: Follow, lastEventId: string | undefined, closing: AbortSignal): Promise<void> {
  const gone = new AbortController();
  const stop = () => gone.abort();
  res.on('close', stop);
  closing.addEventListener('abort', stop, { once: true });
  try {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    let cursor = lastEventId;
    let delay = deps.sse.pollMs;
    while (!gone.signal.aborted) {
      const polled = await follow.read(cursor);
      delay = nextPollDelay(delay, polled.busy, deps.sse);
      for (const frame of polled.frames) res.write(`${frame.id === undefined ? '' : `id: ${frame.id}\n`}event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`);
      cursor = polled.cursor;
      if (polled.done) break;
      res.write(': waiting\n\n');
      // Aborted as soon as the client goes away: no further read of the log for nobody.
      await sleep(delay, undefined, { signal: gone.signal }).catch(() => undefined);
    }
  } catch (error) {
    logger.error({ err: error, ...follow.subject }, 'event stream failed');
  } finally {
    res.off('close', stop);
    closing.removeEventListener('abort', stop);
    res.end();
  }
}

/** The stream routes' shared part: the caps, the hijack, the close on shutdown. */
export interface StreamDoor {
  /** Serves one stream request: refused with 429 past a cap, else streamed until it ends. */
  serve(request: FastifyRequest, reply: FastifyReply, follow: Follow): Promise<void>;
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
        await streamEvents(deps, deps.logger, reply.raw, follow, Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, closing.signal);
      } finally {
        release();
      }
    },
  };
}
