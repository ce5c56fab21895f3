/**
 * Which shards of a DynamoDB stream to read next, and from where: a pure function of the stream's
 * description and our checkpoints, so the ordering rule is proven by unit tests (the emulator
 * shows a single shard that never closes, so it cannot exercise splits).
 *
 * The rule: a child shard is read only after its parent has been read to its end, so the events of
 * one item (one stream partition) are seen in order across a split. A parent that is no longer
 * listed (trimmed after 24 h) does not block its children.
 */

export interface ShardInfo {
  shardId: string;
  parentShardId?: string | undefined;
  /** Set once the shard is closed: no record will be added after it. */
  endingSequenceNumber?: string | undefined;
}

export interface ShardCheckpoint {
  /** Last sequence number processed in this shard. */
  sequenceNumber?: string | undefined;
  /** The shard was read to its end (GetRecords returned no next iterator). */
  finished: boolean;
}

export type ShardStart = { kind: 'TRIM_HORIZON' } | { kind: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string };

export interface ShardPlan {
  /** Shards to read now, ancestors first, each with where to start. */
  ready: Array<{ shardId: string; start: ShardStart }>;
  /** Shards waiting for their parent to be read to its end. */
  waiting: Array<{ shardId: string; parentShardId: string }>;
  /** Shards already read to their end. */
  finished: string[];
}

export function planShards(shards: readonly ShardInfo[], checkpoints: ReadonlyMap<string, ShardCheckpoint>): ShardPlan {
  const listed = new Map(shards.map((s) => [s.shardId, s]));
  const isFinished = (id: string) => checkpoints.get(id)?.finished === true;
  const depth = (shard: ShardInfo): number => {
    let d = 0;
    const seen = new Set<string>();
    for (let p = shard.parentShardId; p !== undefined && listed.has(p) && !seen.has(p); p = listed.get(p)?.parentShardId) {
      seen.add(p);
      d++;
    }
    return d;
  };
  const ordered = [...shards].sort((a, b) => depth(a) - depth(b) || a.shardId.localeCompare(b.shardId));

  const plan: ShardPlan = { ready: [], waiting: [], finished: [] };
  for (const shard of ordered) {
    if (isFinished(shard.shardId)) {
      plan.finished.push(shard.shardId);
      continue;
    }
    const parent = shard.parentShardId;
    if (parent !== undefined && listed.has(parent) && !isFinished(parent)) {
      plan.waiting.push({ shardId: shard.shardId, parentShardId: parent });
      continue;
    }
    const sequenceNumber = checkpoints.get(shard.shardId)?.sequenceNumber;
    plan.ready.push({
      shardId: shard.shardId,
      start: sequenceNumber === undefined ? { kind: 'TRIM_HORIZON' } : { kind: 'AFTER_SEQUENCE_NUMBER', sequenceNumber },
    });
  }
  return plan;
}
