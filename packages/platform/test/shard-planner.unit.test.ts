import { describe, expect, it } from 'vitest';
import { planShards, type ShardCheckpoint, type ShardInfo } from '../src/shard-planner.ts';

const closed = (shardId: string, parentShardId?: string): ShardInfo => ({ shardId, parentShardId, endingSequenceNumber: '999' });
const open = (shardId: string, parentShardId?: string): ShardInfo => ({ shardId, parentShardId });
const checkpoints = (entries: Record<string, ShardCheckpoint>) => new Map(Object.entries(entries));

describe('planShards: parents before children', () => {
  it('reads a single open shard from the trim horizon when nothing is checkpointed', () => {
    expect(planShards([open('s1')], checkpoints({}))).toEqual({
      ready: [{ shardId: 's1', start: { kind: 'TRIM_HORIZON' } }],
      waiting: [],
      finished: [],
    });
  });

  it('resumes after the checkpointed sequence number', () => {
    const plan = planShards([open('s1')], checkpoints({ s1: { sequenceNumber: '42', finished: false } }));
    expect(plan.ready).toEqual([{ shardId: 's1', start: { kind: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '42' } }]);
  });

  it('holds both children of a split until the parent is read to its end', () => {
    const shards = [open('c2', 'p'), closed('p'), open('c1', 'p')];
    const plan = planShards(shards, checkpoints({ p: { sequenceNumber: '10', finished: false } }));
    expect(plan.ready.map((r) => r.shardId)).toEqual(['p']);
    expect(plan.waiting).toEqual([
      { shardId: 'c1', parentShardId: 'p' },
      { shardId: 'c2', parentShardId: 'p' },
    ]);
  });

  it('releases the children once the parent is finished, and reports the parent as finished', () => {
    const shards = [open('c2', 'p'), closed('p'), open('c1', 'p')];
    const plan = planShards(shards, checkpoints({ p: { sequenceNumber: '999', finished: true } }));
    expect(plan.ready.map((r) => r.shardId)).toEqual(['c1', 'c2']);
    expect(plan.finished).toEqual(['p']);
    expect(plan.waiting).toEqual([]);
  });

  it('orders a chain of generations ancestors first, whatever order DescribeStream lists them in', () => {
    const shards = [open('g3', 'g2'), closed('g1'), closed('g2', 'g1')];
    const plan = planShards(shards, checkpoints({}));
    expect(plan.ready.map((r) => r.shardId)).toEqual(['g1']);
    expect(plan.waiting.map((w) => w.shardId)).toEqual(['g2', 'g3']);
    const next = planShards(shards, checkpoints({ g1: { finished: true } }));
    expect(next.ready.map((r) => r.shardId)).toEqual(['g2']);
    expect(next.waiting.map((w) => w.shardId)).toEqual(['g3']);
  });

  it('does not wait on a parent that is no longer listed (trimmed)', () => {
    const plan = planShards([open('c1', 'gone')], checkpoints({}));
    expect(plan.ready.map((r) => r.shardId)).toEqual(['c1']);
  });

  it('ignores checkpoints of shards no longer listed', () => {
    const plan = planShards([open('s2')], checkpoints({ s1: { sequenceNumber: '5', finished: true } }));
    expect(plan).toEqual({ ready: [{ shardId: 's2', start: { kind: 'TRIM_HORIZON' } }], waiting: [], finished: [] });
  });

  it('terminates on a malformed cycle of parents instead of looping', () => {
    const plan = planShards([open('a', 'b'), open('b', 'a')], checkpoints({}));
    expect(plan.ready).toEqual([]);
    expect(plan.waiting.map((w) => w.shardId).sort()).toEqual(['a', 'b']);
  });
});
