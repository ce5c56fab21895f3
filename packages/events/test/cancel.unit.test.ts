import { describe, expect, it } from 'vitest';
import { CANCELLED_REASON, decideCancel, foldBuild, isCancellation, type BuildEvent } from '../src/index.ts';
import { history } from './fixtures.ts';

const meta = { correlationId: 'corr', causationId: 'cancel:http', now: Date.parse('2026-11-22T10:00:09Z') };

describe('cancelling a build', () => {
  it('ends a PENDING or IN_PROGRESS build FAILED with reason cancelled', () => {
    for (const events of [[history.requested()], [history.requested(), history.started(), history.replicated('us-east-1', 3)]]) {
      const decision = decideCancel(foldBuild(events), meta);
      expect(decision.outcome).toBe('cancel');
      if (decision.outcome !== 'cancel') return;
      expect(decision.events).toEqual([expect.objectContaining({ type: 'build.failed', data: { reason: CANCELLED_REASON, failedRegions: [] }, causationId: 'cancel:http' })]);
      const after = foldBuild([...events, { ...decision.events[0], stream: events[0]?.stream, version: events.length + 1 } as BuildEvent]);
      expect(after.status).toBe('FAILED');
      expect(isCancellation(after.failure)).toBe(true);
    }
  });

  it('does nothing to a build that already ended, naming its status', () => {
    expect(decideCancel(foldBuild([history.requested(), history.started(), history.succeeded(3)]), meta)).toEqual({ outcome: 'already-finished', status: 'SUCCESS' });
    expect(decideCancel(foldBuild([history.requested(), history.failed(2)]), meta)).toEqual({ outcome: 'already-finished', status: 'FAILED' });
  });

  it('finds no build in an empty stream', () => {
    expect(decideCancel(foldBuild([]), meta)).toEqual({ outcome: 'not-found' });
  });

  it('tells a cancellation from a failure', () => {
    expect(isCancellation({ reason: 'replication failed' })).toBe(false);
    expect(isCancellation(undefined)).toBe(false);
  });
});
