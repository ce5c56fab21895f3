/** The intake backlog gate: refuses at the limit, counts at most once per refresh, keeps the last count on a failure. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '@flotilla/platform';
import { IntakeBacklog } from '../src/http/backlog.ts';

const logger = createLogger('build', 'silent');
const limits = { maxBacklog: 3, refreshMs: 1_000, retryAfterSeconds: 7 };

function gate(counts: Array<number | Error>, limitsOverride: Partial<typeof limits> = {}) {
  let now = 0;
  const caps: number[] = [];
  const backlog = new IntakeBacklog(
    (cap) => {
      caps.push(cap);
      const next = counts.shift();
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next ?? 0);
    },
    { ...limits, ...limitsOverride },
    logger,
    () => now,
  );
  return { backlog, caps, advance: (ms: number) => (now += ms) };
}

describe('IntakeBacklog', () => {
  it('admits below the limit and refuses at it, with the configured Retry-After', async () => {
    expect(await gate([2]).backlog.admit()).toEqual({ admitted: true });
    expect(await gate([3]).backlog.admit()).toEqual({ admitted: false, backlog: 3, retryAfterSeconds: 7 });
  });

  it('counts no further than the limit, and once per refresh interval whatever the request rate', async () => {
    const { backlog, caps, advance } = gate([3, 0]);
    for (let i = 0; i < 5; i++) expect((await backlog.admit()).admitted).toBe(false);
    expect(caps).toEqual([3]);
    advance(1_000);
    await backlog.admit();
    await backlog.settled();
    expect(caps).toEqual([3, 3]);
    expect(await backlog.admit()).toEqual({ admitted: true });
  });

  it('keeps the last count when counting fails, and never counts with the limit off', async () => {
    const { backlog, advance } = gate([5, new Error('emulator down')]);
    expect((await backlog.admit()).admitted).toBe(false);
    advance(1_000);
    await backlog.admit();
    await backlog.settled();
    expect((await backlog.admit()).admitted).toBe(false);
    const off = gate([99], { maxBacklog: 0 });
    expect(await off.backlog.admit()).toEqual({ admitted: true });
    expect(off.caps).toEqual([]);
  });
});
