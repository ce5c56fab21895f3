/**
 * `GET /builds`: the build list, newest first, by Query on one of the builds table's indexes
 * (never a Scan). The most selective filter picks the index (door key, then repo, env, status,
 * else every build by time); the others are a FilterExpression. Every index sorts by build id, a
 * ULID whose first ten characters are its intake time, so since/until are a BETWEEN on the sort key.
 *
 * The cursor is opaque to callers: base64url JSON of where the last page stopped, with the index
 * and a digest of the filters, so a cursor used with other filters is refused, not misread.
 */
import { createHash } from 'node:crypto';
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { z } from 'zod';
import { idBoundAt, type BuildStatus, type BuildSummary, type Door } from '@flotilla/events';
import { FlotillaError } from '../errors.ts';
import { BUILD_LIST_INDEXES, type BuildListIndexKey } from '../resources.ts';
import { doorKeyOf, LISTED, type BuildListRow } from './build-projections.ts';

export const MAX_LIST_LIMIT = 100;
/** A filtered page reads at most this many rows per row it returns, then answers with a cursor. */
const READ_BUDGET_PER_ROW = 20;

export interface BuildListFilter {
  repo?: string | undefined;
  env?: string | undefined;
  status?: BuildStatus | undefined;
  door?: Door | undefined;
  /** The door's key; needs `door`. */
  key?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface BuildListPage {
  builds: BuildSummary[];
  nextCursor?: string;
}

/** A cursor that is malformed or was made for other filters. */
export class InvalidCursorError extends FlotillaError {
  readonly retryable = false;
}

/** A filter combination that cannot be answered (a key without its door, since after until). */
export class InvalidListFilterError extends FlotillaError {
  readonly retryable = false;
}

const cursorSchema = z.object({ i: z.string(), f: z.string(), k: z.record(z.string(), z.string()) });

function digest(filter: BuildListFilter): string {
  const { repo, env, status, door, key, since, until } = filter;
  return createHash('sha256')
    .update(JSON.stringify([repo, env, status, door, key, since?.toISOString(), until?.toISOString()]))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(index: string, filter: BuildListFilter, lastKey: Record<string, string>): string {
  return Buffer.from(JSON.stringify({ i: index, f: digest(filter), k: lastKey })).toString('base64url');
}

export function decodeCursor(cursor: string, index: string, filter: BuildListFilter): Record<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidCursorError('cursor is not one this API gave out', { cursor }, { cause: error });
  }
  const parsed = cursorSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidCursorError('cursor is not one this API gave out', { cursor });
  if (parsed.data.i !== index || parsed.data.f !== digest(filter)) {
    throw new InvalidCursorError('cursor belongs to a list with other filters: repeat the same filters, or start without a cursor', { cursor });
  }
  return parsed.data.k;
}

/** Which index answers `filter`, the value of its partition, and which filters remain. */
export function planListQuery(filter: BuildListFilter): { index: BuildListIndexKey; partition: string; rest: Partial<Record<'repo' | 'env' | 'status' | 'door', string>> } {
  if (filter.key !== undefined && filter.door === undefined) {
    throw new InvalidListFilterError('key needs door: a key is looked up within its door (http, sns, s3 or onboarding)', { key: filter.key });
  }
  if (filter.since && filter.until && filter.since > filter.until) {
    throw new InvalidListFilterError('since is after until', { since: filter.since.toISOString(), until: filter.until.toISOString() });
  }
  const rest: Partial<Record<'repo' | 'env' | 'status' | 'door', string>> = {};
  const keep = (field: 'repo' | 'env' | 'status' | 'door', value: string | undefined) => {
    if (value !== undefined) rest[field] = value;
  };
  if (filter.door !== undefined && filter.key !== undefined) {
    keep('repo', filter.repo);
    keep('env', filter.env);
    keep('status', filter.status);
    return { index: 'doorKey', partition: doorKeyOf(filter.door, filter.key), rest };
  }
  keep('door', filter.door);
  if (filter.repo !== undefined) {
    keep('env', filter.env);
    keep('status', filter.status);
    return { index: 'repo', partition: filter.repo, rest };
  }
  if (filter.env !== undefined) {
    keep('status', filter.status);
    return { index: 'env', partition: filter.env, rest };
  }
  if (filter.status !== undefined) return { index: 'status', partition: filter.status, rest };
  return { index: 'listed', partition: LISTED, rest };
}

/** The smallest and largest build ids whose time lies in [since, until]. */
export function idBounds(since: Date | undefined, until: Date | undefined): { low: string; high: string } | undefined {
  if (!since && !until) return undefined;
  const low = since ? idBoundAt(since.getTime(), 'first') : '0'.repeat(26);
  const high = until ? idBoundAt(until.getTime(), 'last') : '7'.padEnd(26, 'Z');
  return { low, high };
}

function toSummary(row: BuildListRow): BuildSummary {
  const { lastVersion: _v, listed: _l, doorKey: _d, ...summary } = row;
  return summary;
}

export async function listBuilds(db: DynamoDBClient, table: string, filter: BuildListFilter, options: { limit: number; cursor?: string | undefined }): Promise<BuildListPage> {
  const limit = Math.min(Math.max(1, Math.floor(options.limit)), MAX_LIST_LIMIT);
  const { index, partition, rest } = planListQuery(filter);
  const indexName = BUILD_LIST_INDEXES[index];
  const bounds = idBounds(filter.since, filter.until);
  const names: Record<string, string> = { '#p': index };
  const values: Record<string, unknown> = { ':p': partition };
  let keyCondition = '#p = :p';
  if (bounds) {
    keyCondition += ' AND #id BETWEEN :low AND :high';
    names['#id'] = 'buildId';
    values[':low'] = bounds.low;
    values[':high'] = bounds.high;
  }
  const filters = Object.entries(rest).map(([field, value], i) => {
    names[`#f${i}`] = field;
    values[`:f${i}`] = value;
    return `#f${i} = :f${i}`;
  });
  let startKey: Record<string, AttributeValue> | undefined = options.cursor ? marshall(decodeCursor(options.cursor, indexName, filter)) : undefined;
  const builds: BuildSummary[] = [];
  let budget = limit * READ_BUDGET_PER_ROW;
  while (builds.length < limit && budget > 0) {
    const out = await db.send(
      new QueryCommand({
        TableName: table,
        IndexName: indexName,
        KeyConditionExpression: keyCondition,
        ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values),
        ScanIndexForward: false,
        // Without filters every row read is returned; with them, read further ahead per request.
        Limit: filters.length ? Math.min(budget, limit * 4) : limit - builds.length,
        ExclusiveStartKey: startKey,
      }),
    );
    budget -= out.ScannedCount ?? out.Items?.length ?? 0;
    const items = out.Items ?? [];
    for (const [i, item] of items.entries()) {
      const row = unmarshall(item) as BuildListRow;
      builds.push(toSummary(row));
      if (builds.length < limit) continue;
      // The page is full. More may follow if this Query page had rows left, or more pages.
      const more = i < items.length - 1 || out.LastEvaluatedKey !== undefined;
      return more ? { builds, nextCursor: encodeCursor(indexName, filter, { buildId: row.buildId, [index]: partition }) } : { builds };
    }
    startKey = out.LastEvaluatedKey;
    if (!startKey) return { builds };
  }
  // The read budget ran out before the page filled: continue where the reading stopped.
  return { builds, ...(startKey ? { nextCursor: encodeCursor(indexName, filter, unmarshall(startKey) as Record<string, string>) } : {}) };
}

/** Every build that matches `filter`, newest first, page after page: for workers that must see them all. */
export async function* allBuilds(db: DynamoDBClient, table: string, filter: BuildListFilter): AsyncGenerator<BuildSummary> {
  let cursor: string | undefined;
  do {
    const page = await listBuilds(db, table, filter, { limit: MAX_LIST_LIMIT, cursor });
    yield* page.builds;
    cursor = page.nextCursor;
  } while (cursor);
}

/**
 * How many builds the list holds with `status`, counting no further than `cap` (a Query of the
 * status index for keys only, with Select COUNT, page by page until the cap): its cost is bounded by
 * the cap, not by how many builds there are. Intake back-pressure asks "more than N open?", never
 * "how many exactly?".
 */
export async function countBuildsWithStatus(db: DynamoDBClient, table: string, status: BuildStatus, cap: number): Promise<number> {
  let counted = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await db.send(
      new QueryCommand({
        TableName: table,
        IndexName: BUILD_LIST_INDEXES.status,
        KeyConditionExpression: '#p = :p',
        ExpressionAttributeNames: { '#p': 'status' },
        ExpressionAttributeValues: { ':p': { S: status } },
        Select: 'COUNT',
        Limit: Math.max(1, cap - counted),
        ExclusiveStartKey: startKey,
      }),
    );
    counted += out.Count ?? 0;
    startKey = out.LastEvaluatedKey;
  } while (startKey && counted < cap);
  return Math.min(counted, cap);
}
