/**
 * The page's live stream: at most one server-sent-event connection open at a time, read with fetch
 * (EventSource cannot send the token) and parsed by sse.ts. Opening a stream aborts the one before
 * it, so a route change can never leave two open. A connection that drops is opened again after a
 * backoff (1 s, 2 s, 4 s ... up to 15 s, jittered) with Last-Event-ID, the last id received; a 429
 * waits its Retry-After; a 401 stops (auth.ts brings the sign-in prompt back); any other refusal
 * stops and is reported. `liveState` is what the header's indicator shows.
 *
 * Views never open connections themselves: they call follow() in an effect and return its stop.
 */
import { ApiError, send } from './api.ts';
import { SseParser, type SseFrame } from './sse.ts';
import { createStore } from './store.ts';

/**
 * idle: the page has no live data; connecting: the first connection is being opened; live:
 * connected; reconnecting: the connection dropped and is being opened again; ended: the subject
 * ended, nothing more will come; polling: the page refreshes itself (no stream exists for it).
 */
export type LiveState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'ended' | 'polling';

export const liveState = createStore<LiveState>('idle');

export const RECONNECT_BASE_MS = 1_000;
export const RECONNECT_MAX_MS = 15_000;
/**
 * A connection that says nothing for this long is taken as dead and opened again. The API writes a
 * keep-alive comment at each read of the log, at least every SSE_POLL_MAX_MS (5 s by default).
 */
export const IDLE_TIMEOUT_MS = 45_000;

/**
 * The wait before reconnection attempt `attempt` (1, 2, ...): doubling from 1 s up to 15 s, each
 * between 75% and 125% of that (and never past 15 s), so that pages a restart disconnected together
 * do not all come back in the same instant.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(RECONNECT_MAX_MS, base * (0.75 + random() * 0.5)));
}

export interface FollowSpec {
  /** The stream's path (api.ts `streams`). */
  path: string;
  /** Last-Event-ID for the first connection (the last version the page already has); later connections send the last id received. */
  lastEventId?: string | undefined;
  /** Each frame, in order. */
  onFrame(frame: SseFrame): void;
  /**
   * Each connection that opened. `reconnected`: an earlier attempt dropped or failed, so events
   * may have been missed (if the server could not resume from Last-Event-ID): time to refetch.
   */
  onOpen?(reconnected: boolean): void;
  /** The server ended the stream: whether to open it again (false when the subject has ended). */
  onEnd(): boolean | Promise<boolean>;
  /** A refusal that opening again would not mend (a 404, say): the stream stops. */
  onFail?(error: ApiError): void;
}

let current: AbortController | undefined;
/** The stream being followed, until its connection has closed. */
let running: Promise<void> = Promise.resolve();

/**
 * Follows a stream until the returned function is called or another stream is followed. The new
 * stream connects only once the one before it has let go of its connection, so even for a moment
 * the page never holds two (the API caps streams per client).
 */
export function follow(spec: FollowSpec): () => void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const { signal } = controller;
  running = running
    .then(() => (signal.aborted ? undefined : run(spec, signal)))
    .catch((error: unknown) => {
      if (!signal.aborted) console.error('live stream stopped', error);
    });
  return () => {
    controller.abort();
    if (current === controller) {
      current = undefined;
      liveState.set('idle');
    }
  };
}

/** This page has no stream: closes any that is open, and says why the page is not live. */
export function withoutStream(state: Extract<LiveState, 'idle' | 'ended' | 'polling'>): void {
  current?.abort();
  current = undefined;
  liveState.set(state);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

async function run(spec: FollowSpec, signal: AbortSignal): Promise<void> {
  const setState = (state: LiveState) => {
    if (!signal.aborted) liveState.set(state);
  };
  let lastEventId = spec.lastEventId;
  let opened = false;
  let failures = 0;
  while (!signal.aborted) {
    setState(opened || failures > 0 ? 'reconnecting' : 'connecting');
    let wait: number;
    try {
      await connect(spec.path, lastEventId, signal, {
        opened() {
          setState('live');
          const gap = opened || failures > 0;
          failures = 0;
          opened = true;
          spec.onOpen?.(gap);
        },
        frame(frame) {
          if (frame.id !== undefined) lastEventId = frame.id;
          spec.onFrame(frame);
        },
      });
      if (signal.aborted) return;
      if (!(await spec.onEnd())) {
        setState('ended');
        return;
      }
      wait = reconnectDelay(++failures);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.kind === 'unauthorized') return;
      if (error instanceof ApiError && error.status === 429) {
        failures++;
        wait = error.retryAfterSeconds !== undefined ? error.retryAfterSeconds * 1_000 : reconnectDelay(failures);
      } else if (error instanceof ApiError && error.kind === 'refused' && (error.status ?? 0) < 500) {
        setState('idle');
        spec.onFail?.(error);
        return;
      } else {
        wait = reconnectDelay(++failures);
      }
    }
    setState('reconnecting');
    await sleep(wait, signal);
  }
}

class IdleStreamError extends Error {
  override name = 'IdleStreamError';
}

interface ConnectionHandlers {
  opened(): void;
  frame(frame: SseFrame): void;
}

/** One connection, read to its end; throws when it could not be opened or broke. */
async function connect(path: string, lastEventId: string | undefined, signal: AbortSignal, on: ConnectionHandlers): Promise<void> {
  const connection = new AbortController();
  const abort = () => connection.abort(signal.reason);
  signal.addEventListener('abort', abort, { once: true });
  let idle: ReturnType<typeof setTimeout> | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(() => connection.abort(new IdleStreamError(`no data for ${IDLE_TIMEOUT_MS} ms`)), IDLE_TIMEOUT_MS);
  };
  try {
    touch();
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const response = await send(path, { headers, signal: connection.signal });
    const type = response.headers.get('content-type') ?? '';
    if (!response.body || !type.includes('text/event-stream')) {
      throw new ApiError('refused', `${path} did not answer an event stream (content-type ${type || 'none'})`, { status: response.status });
    }
    on.opened();
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        touch();
        for (const frame of parser.push(decoder.decode(value, { stream: true }))) {
          try {
            on.frame(frame);
          } catch (error) {
            // A view's bug must not drop the connection (and reconnect in a loop): it is logged.
            console.error('live frame handler failed', frame.event, error);
          }
        }
      }
      parser.end();
    } finally {
      reader.cancel().catch(() => undefined);
    }
  } finally {
    clearTimeout(idle);
    signal.removeEventListener('abort', abort);
  }
}
