/**
 * Replay: rebuild every projection derived from the log into fresh tables, then compare them with
 * the live ones, row by row. Used by `flotilla replay`, and after a restart to check a fleet.
 *
 * - The build view and the build list are rebuilt from the events with the live projector's own
 *   steps (projectEvent, fillGap, buildSummary).
 * - Global order comes from the log's global-order index, but nothing trusts it: per stream the
 *   versions are the truth. A version past the next one is a gap, filled from the stream; once the
 *   log has been read, each stream's head is checked, so an event the (eventually consistent)
 *   index had not shown yet, or one filed under a skewed clock's day, is still applied.
 * - Host counters are not events: they are recounted from the host records, one Query per build
 *   and region, by the live counter's own counting.
 *
 * The comparison reads both sides whole (a Scan: this is an audit of every row, not a query) and
 * reports each missing, extra and changed row.
 */
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  ScanCommand,
  waitUntilTableExists,
  type AttributeValue,
  type DynamoDBClient,
  type ScanCommandInput,
} from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { buildIdOfStream, buildSummary, fillGap, initialBuildState, parseBuildEvent, projectEvent, type BuildEvent, type BuildState, type EventEnvelope } from '@flotilla/events';
import { batchPut } from '../batch-write.ts';
import { forEachLimited } from '../concurrency.ts';
import type { EventStore } from '../event-store.ts';
import type { ResourceNames } from '../resources.ts';
import { COUNTERS_SK_PREFIX, countersKey, listRow, viewKey } from './build-projections.ts';
import { recountHosts } from './host-counters.ts';

/** The first day the log can hold: replay reads the global-order index from here unless told otherwise. */
export const LOG_EPOCH = new Date('2026-01-01T00:00:00Z');

export type ProjectionKind = 'build view' | 'build list' | 'host counters';

export interface Difference {
  kind: ProjectionKind;
  /** The row's key, as text: the build id, and the region for counters. */
  key: string;
  change: 'missing' | 'extra' | 'changed';
  /** For a changed row: each differing field with its live and rebuilt values. */
  fields?: Array<{ field: string; live: unknown; rebuilt: unknown }>;
}

export type ReplayPhase = 'reading the log' | 'checking stream heads' | 'recounting hosts' | 'writing fresh tables' | 'comparing';

export interface ReplayProgress {
  phase: ReplayPhase;
  done: number;
  /** Known for every phase but the log read, whose length is not known ahead. */
  total?: number;
  eventsRead: number;
}

export interface ReplayOptions {
  db: DynamoDBClient;
  store: EventStore;
  names: ResourceNames;
  /** Read the log from this instant (default LOG_EPOCH). */
  since?: Date;
  /** Keep the fresh tables (default: dropped after the comparison). */
  keep?: boolean;
  /** Parallel Queries for stream heads and host recounts. */
  concurrency?: number;
  onProgress?: (progress: ReplayProgress) => void;
}

export interface ReplayReport {
  eventsRead: number;
  /** Events read again from their streams: gaps and heads the global read had not shown. */
  eventsFilled: number;
  builds: number;
  seconds: number;
  eventsPerSecond: number;
  /** Events the log holds that this code cannot parse: each is named, never skipped silently. */
  unreadable: Array<{ stream: string; version: number; reason: string }>;
  differences: Difference[];
  /** The fresh tables (dropped unless `keep`). */
  tables: { projections: string; builds: string };
}

type Row = Record<string, unknown>;

/** A new table with the same keys and indexes as `like`, on demand; waits until it is active. */
async function cloneTable(db: DynamoDBClient, like: string, name: string): Promise<void> {
  const { Table } = await db.send(new DescribeTableCommand({ TableName: like }));
  if (!Table?.KeySchema || !Table.AttributeDefinitions) throw new Error(`table ${like} has no key schema`);
  await db.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: Table.KeySchema,
      AttributeDefinitions: Table.AttributeDefinitions,
      ...(Table.GlobalSecondaryIndexes?.length
        ? { GlobalSecondaryIndexes: Table.GlobalSecondaryIndexes.map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema, Projection: i.Projection })) }
        : {}),
    }),
  );
  await waitUntilTableExists({ client: db, maxWaitTime: 120 }, { TableName: name });
}

async function scanAll(db: DynamoDBClient, input: ScanCommandInput): Promise<Row[]> {
  const rows: Row[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await db.send(new ScanCommand({ ...input, ConsistentRead: true, ExclusiveStartKey: startKey }));
    for (const item of out.Items ?? []) rows.push(unmarshall(item));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return rows;
}

/** JSON with sorted keys: two rows are equal when their canonical texts are. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Differences between live and rebuilt rows of one kind, keyed by `keyOf`. */
export function compareRows(kind: ProjectionKind, live: readonly Row[], rebuilt: readonly Row[], keyOf: (row: Row) => string): Difference[] {
  const liveByKey = new Map(live.map((r) => [keyOf(r), r]));
  const rebuiltByKey = new Map(rebuilt.map((r) => [keyOf(r), r]));
  const differences: Difference[] = [];
  for (const [key, row] of rebuiltByKey) {
    const other = liveByKey.get(key);
    if (!other) {
      differences.push({ kind, key, change: 'missing' });
      continue;
    }
    const fields = [...new Set([...Object.keys(row), ...Object.keys(other)])]
      .sort()
      .filter((f) => canonical(row[f]) !== canonical(other[f]))
      .map((field) => ({ field, live: other[field], rebuilt: row[field] }));
    if (fields.length > 0) differences.push({ kind, key, change: 'changed', fields });
  }
  for (const key of liveByKey.keys()) if (!rebuiltByKey.has(key)) differences.push({ kind, key, change: 'extra' });
  return differences;
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const buildKeyOf = (row: Row) => text(row.buildId) || text(row.pk).replace(/^build#/, '');
/** A counter of 0 and an absent one mean the same (a live ADD of -1 leaves a 0 behind). */
const withoutZeros = (rows: readonly Row[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== 0)));
/**
 * A live list row keeps the version its summary last changed at (it is not rewritten for events
 * that leave the summary as it was); the rebuilt one, the stream's head. Only the content counts.
 */
const withoutVersion = (rows: readonly Row[]) => rows.map(({ lastVersion: _version, ...row }) => row);
const counterKeyOf = (row: Row) => `${buildKeyOf(row)} ${text(row.region) || text(row.sk).slice(COUNTERS_SK_PREFIX.length)}`;

/** Reads the views, counters and list rows of one set of tables. */
async function readProjections(db: DynamoDBClient, tables: { projections: string; builds: string }) {
  const projectionRows = await scanAll(db, { TableName: tables.projections });
  return {
    views: projectionRows.filter((r) => r.sk === 'view'),
    counters: projectionRows.filter((r) => typeof r.sk === 'string' && r.sk.startsWith(COUNTERS_SK_PREFIX)),
    list: await scanAll(db, { TableName: tables.builds }),
  };
}

export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const { db, store, names, since = LOG_EPOCH, keep = false, concurrency = 16, onProgress } = options;
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const fresh = { projections: `${names.prefix}-replay-${stamp}-projections`, builds: `${names.prefix}-replay-${stamp}-builds` };
  const states = new Map<string, BuildState>();
  const unreadable: ReplayReport['unreadable'] = [];
  let eventsRead = 0;
  let eventsFilled = 0;

  const parse = (raw: EventEnvelope): BuildEvent | undefined => {
    try {
      return parseBuildEvent(raw);
    } catch (error) {
      unreadable.push({ stream: raw.stream, version: raw.version, reason: (error as Error).message });
      return undefined;
    }
  };
  const readFrom = async (stream: string, afterVersion: number): Promise<BuildEvent[]> => {
    const events = (await store.readStream(stream, afterVersion)).flatMap((e) => parse(e) ?? []);
    eventsFilled += events.length;
    return events;
  };

  // 1. The log, in global order; each event applied to its stream's state by the projector's step.
  for await (const page of store.readAll({ since, until: new Date(Date.now() + 86_400_000) })) {
    for (const raw of page) {
      eventsRead++;
      if (!buildIdOfStream(raw.stream)) continue;
      const event = parse(raw);
      if (!event) continue;
      const stored = states.get(raw.stream) ?? initialBuildState;
      const step = projectEvent(stored, event);
      if (step.kind === 'apply') states.set(raw.stream, step.state);
      else if (step.kind === 'fill-gap') states.set(raw.stream, fillGap(stored, await readFrom(raw.stream, step.afterVersion)));
    }
    onProgress?.({ phase: 'reading the log', done: eventsRead, eventsRead });
  }

  // 2. Each stream's head: whatever the global read had not shown yet.
  const streams = [...states.keys()];
  let checked = 0;
  await forEachLimited(streams, concurrency, async (stream) => {
    const state = states.get(stream) ?? initialBuildState;
    if ((await store.headVersion(stream)) > state.lastVersion) states.set(stream, fillGap(state, await readFrom(stream, state.lastVersion)));
    onProgress?.({ phase: 'checking stream heads', done: ++checked, total: streams.length, eventsRead });
  });

  // 3. Host counters, from the host records of each build's regions.
  const counterRows: Row[] = [];
  const regionsOf = [...states.values()].flatMap((s) => (s.buildId ? Object.keys(s.regions).map((region) => ({ buildId: s.buildId as string, region })) : []));
  let recounted = 0;
  await forEachLimited(regionsOf, concurrency, async ({ buildId, region }) => {
    const counts = await recountHosts(db, names.tables.hosts, buildId, region);
    if (counts) counterRows.push({ ...countersKey(buildId, region), buildId, region, ...counts });
    onProgress?.({ phase: 'recounting hosts', done: ++recounted, total: regionsOf.length, eventsRead });
  });

  // 4. The fresh tables, shaped like the live ones.
  const viewRows: Row[] = [];
  const listRows: Row[] = [];
  for (const state of states.values()) {
    if (!state.buildId) continue;
    viewRows.push({ ...viewKey(state.buildId), version: state.lastVersion, state });
    const summary = buildSummary(state);
    if (summary) listRows.push({ ...listRow(summary, state.lastVersion) });
  }
  await Promise.all([cloneTable(db, names.tables.projections, fresh.projections), cloneTable(db, names.tables.builds, fresh.builds)]);
  const projectionRows = [...viewRows, ...counterRows];
  const total = projectionRows.length + listRows.length;
  const wrote = (done: number) => onProgress?.({ phase: 'writing fresh tables', done, total, eventsRead });
  await batchPut(db, fresh.projections, projectionRows, { onProgress: wrote });
  await batchPut(db, fresh.builds, listRows, { onProgress: (done) => wrote(projectionRows.length + done) });

  // 5. Live against rebuilt, table against table.
  onProgress?.({ phase: 'comparing', done: 0, total: 3, eventsRead });
  const [live, rebuilt] = await Promise.all([readProjections(db, names.tables), readProjections(db, fresh)]);
  const differences = [
    ...compareRows('build view', live.views, rebuilt.views, buildKeyOf),
    ...compareRows('build list', withoutVersion(live.list), withoutVersion(rebuilt.list), buildKeyOf),
    ...compareRows('host counters', withoutZeros(live.counters), withoutZeros(rebuilt.counters), counterKeyOf),
  ];
  onProgress?.({ phase: 'comparing', done: 3, total: 3, eventsRead });
  if (!keep) await Promise.all(Object.values(fresh).map((TableName) => db.send(new DeleteTableCommand({ TableName }))));

  const seconds = (performance.now() - started) / 1000;
  return {
    eventsRead,
    eventsFilled,
    builds: viewRows.length,
    seconds,
    eventsPerSecond: seconds > 0 ? eventsRead / seconds : 0,
    unreadable,
    differences,
    tables: fresh,
  };
}
