/**
 * Per build and region host counters. Live, from the host table's stream: a new host record counts
 * one host and one of its status; a status change moves one count from the old status to the new.
 * The reader (region-sync) commits these increments with its checkpoint, so a replayed batch never
 * counts twice. Rebuilt (replay, catch-up after a restart), from the host records themselves: each
 * record counted as if it were new, one Query per build and region.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** The host table's partition for one build and region: one record per host (sk = host name). */
export const hostPartition = (buildId: string, region: string): string => `build#${buildId}#region#${region}`;

export interface HostImage {
  buildId?: unknown;
  region?: unknown;
  status?: unknown;
}

export interface HostChange {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' | undefined;
  oldImage?: HostImage | undefined;
  newImage?: HostImage | undefined;
}

export type Increments = Map<string, { buildId: string; region: string; add: Record<string, number> }>;

export function countChanges(changes: readonly HostChange[]): Increments {
  const totals: Increments = new Map();
  const bump = (image: HostImage, field: string, by: number) => {
    if (typeof image.buildId !== 'string' || typeof image.region !== 'string') return;
    const key = `${image.buildId}#${image.region}`;
    const entry = totals.get(key) ?? { buildId: image.buildId, region: image.region, add: {} };
    entry.add[field] = (entry.add[field] ?? 0) + by;
    totals.set(key, entry);
  };
  for (const { eventName, oldImage, newImage } of changes) {
    if (eventName === 'INSERT' && newImage) {
      bump(newImage, 'hosts', 1);
      if (typeof newImage.status === 'string') bump(newImage, newImage.status, 1);
    } else if (eventName === 'MODIFY' && oldImage && newImage && oldImage.status !== newImage.status) {
      if (typeof oldImage.status === 'string') bump(oldImage, oldImage.status, -1);
      if (typeof newImage.status === 'string') bump(newImage, newImage.status, 1);
    }
  }
  return totals;
}

/** A counter row as stored in the projections table (see countersKey). */
export type CounterRow = { buildId: string; region: string } & Record<string, number | string>;

/**
 * Recounts one build and region from its host records: the same counting as the live reader,
 * with every record counted as an insert. Undefined when the region has no host records.
 */
export async function recountHosts(db: DynamoDBClient, hostsTable: string, buildId: string, region: string): Promise<Record<string, number> | undefined> {
  const changes: HostChange[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: hostsTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: hostPartition(buildId, region) } },
        ProjectionExpression: '#s',
        ExpressionAttributeNames: { '#s': 'status' },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of out.Items ?? []) changes.push({ eventName: 'INSERT', newImage: { buildId, region, status: item.status?.S } });
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return countChanges(changes).get(`${buildId}#${region}`)?.add;
}
