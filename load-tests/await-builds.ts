/**
 * Awaits a run's builds through the API after its load stopped: every open build's GET /builds/:id
 * is asked again each pass (16 at a time: one by one, a pass over hundreds of builds on a loaded
 * machine outlasted the whole no-progress window), until every one is SUCCESS or FAILED, or
 * `settleMs` passes with none ending, or `capMs` passes in all. What is still open then is the
 * caller's to report (lost, not terminal).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { forEachLimited } from '@flotilla/platform';

const TERMINAL = new Set(['SUCCESS', 'FAILED']);
const PASS_CONCURRENCY = 16;
const PASS_PAUSE_MS = 1_000;
const PROGRESS_EVERY_MS = 5_000;

const viewSchema = z.object({ status: z.string(), finishedAt: z.string().optional(), failure: z.object({ reason: z.string() }).optional() });
export type AwaitedView = z.infer<typeof viewSchema>;

export const isTerminalView = (view: AwaitedView | undefined): boolean => TERMINAL.has(view?.status ?? '');

export interface AwaitBuildsOptions {
  apiUrl: string;
  token?: string | undefined;
  ids: readonly string[];
  /** Stop once this long passes with no build ending. */
  settleMs: number;
  /** ...and no later than this after the awaiting began. */
  capMs: number;
  /** Told every few seconds how many have ended. */
  progress?: ((ended: number, total: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export interface AwaitedBuilds {
  /** The last view of each build that answered. */
  views: Map<string, AwaitedView>;
  /** Builds not terminal when the awaiting stopped. */
  open: string[];
  /** When the last build was first seen terminal (epoch ms; the start of the awaiting if none was). */
  lastEndSeenAt: number;
}

export async function awaitBuilds(options: AwaitBuildsOptions): Promise<AwaitedBuilds> {
  const views = new Map<string, AwaitedView>();
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const began = Date.now();
  let lastEndSeenAt = began;
  let lastSaid = began;
  let endedSoFar = 0;
  const openBuilds = () => options.ids.filter((id) => !isTerminalView(views.get(id)));
  for (;;) {
    await forEachLimited(openBuilds(), PASS_CONCURRENCY, async (id) => {
      try {
        const res = await fetch(new URL(`/builds/${id}`, options.apiUrl), { headers, signal: AbortSignal.timeout(10_000) });
        if (res.status === 200) views.set(id, viewSchema.parse(await res.json()));
      } catch {
        // no answer this pass: asked again on the next
      }
    });
    options.signal?.throwIfAborted();
    const open = openBuilds();
    const ended = options.ids.length - open.length;
    if (ended > endedSoFar) {
      endedSoFar = ended;
      lastEndSeenAt = Date.now();
    }
    if (open.length === 0 || Date.now() - lastEndSeenAt >= options.settleMs || Date.now() - began >= options.capMs) return { views, open, lastEndSeenAt };
    if (Date.now() - lastSaid >= PROGRESS_EVERY_MS) {
      options.progress?.(ended, options.ids.length);
      lastSaid = Date.now();
    }
    await sleep(PASS_PAUSE_MS, undefined, { signal: options.signal });
  }
}
