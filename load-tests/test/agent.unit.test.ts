/**
 * The runner agent's decisions from the run's view: when its report counts as received, when to
 * start, when to run nothing; and what it takes as its task id.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '@flotilla/platform';
import { resolveTaskId, runEnded, runViewSchema, showsCompleted, showsReady, startDecision, type RunView } from '../agent.ts';

const RUN = '01KBCDEFGHJKMNPQRSTVWXYZ00';
const view = (over: Partial<RunView> = {}): RunView =>
  runViewSchema.parse({
    runId: RUN,
    status: 'REQUESTED',
    regions: { 'us-east-1': { ready: ['task-a'], completed: [], tornDown: false }, 'eu-west-1': { ready: [], completed: [], tornDown: false } },
    finished: false,
    ...over,
  });
const silent = createLogger('test', 'silent');

describe('the run view', () => {
  it('a report counts once the view lists this task in its own region', () => {
    expect(showsReady(view(), 'us-east-1', 'task-a')).toBe(true);
    expect(showsReady(view(), 'us-east-1', 'task-b')).toBe(false);
    expect(showsReady(view(), 'eu-west-1', 'task-a')).toBe(false);
    expect(showsReady(view(), 'ap-south-1', 'task-a')).toBe(false);
    const done = view({ status: 'SCHEDULED', regions: { 'us-east-1': { ready: ['task-a'], completed: ['task-a'], tornDown: false } } });
    expect(showsCompleted(done, 'us-east-1', 'task-a')).toBe(true);
    expect(showsCompleted(view(), 'us-east-1', 'task-a')).toBe(false);
  });

  it('waits while the barrier is closed, starts at startAt once it opens for this region', () => {
    expect(startDecision(view(), 'us-east-1')).toEqual({ kind: 'wait' });
    const open = view({ status: 'SCHEDULED', startAt: '2026-12-01T10:00:05.000Z', participants: ['us-east-1'] });
    expect(startDecision(open, 'us-east-1')).toEqual({ kind: 'start', startAt: '2026-12-01T10:00:05.000Z' });
  });

  it('runs nothing in a region the barrier left out (a quorum start), nor in a run that ended', () => {
    const quorum = view({ status: 'SCHEDULED', startAt: '2026-12-01T10:00:05.000Z', participants: ['us-east-1'] });
    expect(startDecision(quorum, 'eu-west-1')).toEqual({ kind: 'left-out' });
    for (const status of ['COMPLETED', 'ABORTED', 'CANCELLED'] as const) {
      expect(runEnded(view({ status }))).toBe(true);
      expect(startDecision(view({ status, startAt: '2026-12-01T10:00:05.000Z' }), 'us-east-1')).toEqual({ kind: 'ended' });
    }
    expect(runEnded(view({ finished: true }))).toBe(true);
    expect(runEnded(view({ status: 'SCHEDULED' }))).toBe(false);
  });

  it('refuses a view that is not one (a status it does not know, a start that is not a time)', () => {
    expect(runViewSchema.safeParse({ ...view(), status: 'RUNNING' }).success).toBe(false);
    expect(runViewSchema.safeParse({ ...view(), startAt: 'soon' }).success).toBe(false);
  });
});

describe('the task id', () => {
  it("is the task's ARN from ECS task metadata", async () => {
    const arn = 'arn:aws:ecs:us-east-1:000000000000:task/flotilla-runners/0123456789abcdef';
    const asked: string[] = [];
    const fetchMetadata: typeof fetch = (url) => {
      asked.push(url instanceof Request ? url.url : url.toString());
      return Promise.resolve(Response.json({ TaskARN: arn, Containers: [] }));
    };
    expect(await resolveTaskId('http://127.0.0.1:4566/v4/token/', fetchMetadata, silent)).toBe(arn);
    expect(asked).toEqual(['http://127.0.0.1:4566/v4/token/task']);
  });

  it('without metadata, is the host name with a suffix of its own per process call, so two containers on one host differ', async () => {
    const a = await resolveTaskId(undefined, fetch, silent);
    const b = await resolveTaskId(undefined, fetch, silent);
    expect(a).not.toBe(b);
    expect(a.length).toBeGreaterThan(9);
  });
});
