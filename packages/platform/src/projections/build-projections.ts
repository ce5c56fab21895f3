/**
 * The build projections on DynamoDB, derived from the log and nothing else:
 *   - the build view: the folded state, one item per build in the projections table (sk 'view');
 *   - the build list: one summary row per build in the builds table, indexed per filter
 *     (BUILD_LIST_INDEXES) for `GET /builds`.
 * The live projector and replay both go through `projectEvent`/`buildSummary` (packages/events),
 * so a table rebuilt from the log is made by the code that made the live one.
 */
import { PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { buildIdOfStream, buildSummary, fillGap, initialBuildState, projectEvent, type BuildEvent, type BuildState, type BuildSummary } from '@flotilla/events';
import { readBuildEvents } from '../decide.ts';
import { KeyedTurns } from '../concurrency.ts';
import { ConcurrencyError } from '../errors.ts';
import type { EventStore } from '../event-store.ts';
import { Records } from '../records.ts';
import { withRetry } from '../retry.ts';

export const viewKey = (buildId: string) => ({ pk: `build#${buildId}`, sk: 'view' });
/** The host counters of one build and region, kept by region-sync from the host table's stream. */
export const countersKey = (buildId: string, region: string) => ({ pk: `build#${buildId}`, sk: `hosts#${region}` });
export const COUNTERS_SK_PREFIX = 'hosts#';

/** Build views a projector keeps in memory (a few KB each). */
const VIEW_CACHE_SIZE = 1_000;

/** The constant partition of the every-build index. */
export const LISTED = 'build';

/**
 * A list row as stored: the summary, the view version it was made from (the version at which the
 * summary last changed: rows are not rewritten for events that leave it as it was), and the index keys.
 */
export type BuildListRow = BuildSummary & { lastVersion: number; listed: string; doorKey: string };

export const doorKeyOf = (door: string, key: string): string => `${door}#${key}`;

const sameSummary = (a: BuildState, b: BuildState): boolean => JSON.stringify(buildSummary(a)) === JSON.stringify(buildSummary(b));

export function listRow(summary: BuildSummary, lastVersion: number): BuildListRow {
  return { ...summary, lastVersion, listed: LISTED, doorKey: doorKeyOf(summary.door, summary.key) };
}

export interface HostCounters {
  hosts: number;
  synced: number;
  failed: number;
}

export interface BuildProjectionTables {
  /** The projections table: build views and host counters. */
  projections: string;
  /** The build list table. */
  builds: string;
}

export class BuildProjections {
  readonly #db: DynamoDBClient;
  readonly tables: BuildProjectionTables;
  readonly #views: Records;
  /**
   * The views this projector last read or wrote, newest last, up to VIEW_CACHE_SIZE: each event
   * of a build would otherwise read its view first (issue 9: 17 of a build's 56 projector calls).
   * A view only moves forward, so a cached one is at most stale: its conditional put then fails,
   * and the retry reads the stored view.
   */
  readonly #cache = new Map<string, BuildState>();
  readonly #turns = new KeyedTurns();

  constructor(db: DynamoDBClient, tables: BuildProjectionTables) {
    this.#db = db;
    this.tables = tables;
    this.#views = new Records(db, tables.projections);
  }

  #remember(buildId: string, state: BuildState): void {
    this.#cache.delete(buildId);
    this.#cache.set(buildId, state);
    // A Map iterates in insertion order: the first is the least recently used.
    for (const oldest of this.#cache.keys()) {
      if (this.#cache.size <= VIEW_CACHE_SIZE) break;
      this.#cache.delete(oldest);
    }
  }

  async readView(buildId: string): Promise<BuildState | undefined> {
    return (await this.#views.get<{ state: BuildState }>(viewKey(buildId)))?.state;
  }

  /** Per-region host counters of one build (one Query). */
  async readCounters(buildId: string): Promise<Record<string, HostCounters>> {
    const rows = await this.#views.list<{ region: string; hosts?: number; synced?: number; failed?: number }>(viewKey(buildId).pk, COUNTERS_SK_PREFIX);
    return Object.fromEntries(rows.map((r) => [r.region, { hosts: r.hosts ?? 0, synced: r.synced ?? 0, failed: r.failed ?? 0 }]));
  }

  /**
   * Applies one event of a build stream to the view, then brings the list row up to the view. A
   * duplicate changes no view but still re-writes a list row that trails it, so a crash between
   * the two writes heals on redelivery. A lost race on the view is retried by re-reading it.
   */
  async project(event: BuildEvent, store: EventStore, deadlineMs = 30_000): Promise<'applied' | 'skipped'> {
    const buildId = buildIdOfStream(event.stream);
    if (!buildId) throw new RangeError(`${event.stream} is not a build stream`);
    // One build's events take turns: a batch's handlers run side by side, and two of one build's
    // events at once lost the view's conditional put or read a gap the other was filling (issue 9).
    return this.#turns.run(buildId, () => this.#project(buildId, event, store, deadlineMs));
  }

  #project(buildId: string, event: BuildEvent, store: EventStore, deadlineMs: number): Promise<'applied' | 'skipped'> {
    return withRetry(
      async (attempt) => {
        const cached = attempt === 1 ? this.#cache.get(buildId) : undefined;
        const stored = cached ?? (await this.readView(buildId)) ?? initialBuildState;
        const step = projectEvent(stored, event);
        if (step.kind === 'skip') {
          this.#remember(buildId, stored);
          await this.writeListRow(stored);
          return 'skipped';
        }
        const next = step.kind === 'apply' ? step.state : fillGap(stored, await readBuildEvents(store, event.stream, step.afterVersion));
        if (!(await this.#views.putIfVersion(viewKey(buildId), { version: next.lastVersion, state: next }, stored.lastVersion))) {
          this.#cache.delete(buildId);
          throw new ConcurrencyError(`view#${buildId}`, stored.lastVersion, undefined);
        }
        this.#remember(buildId, next);
        // The list row changes only with the summary (3 of a 5-region build's 14 events); the
        // others leave it as it is. A crash before this write is healed by the redelivery's skip.
        if (!sameSummary(stored, next)) await this.writeListRow(next);
        return 'applied';
      },
      { deadlineMs },
    );
  }

  /** Writes the list row for `state` unless the stored row was made from the same or a later version. */
  async writeListRow(state: BuildState): Promise<void> {
    const summary = buildSummary(state);
    if (!summary) return;
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.tables.builds,
          Item: marshall(listRow(summary, state.lastVersion), { removeUndefinedValues: true }),
          ConditionExpression: 'attribute_not_exists(buildId) OR lastVersion < :v',
          ExpressionAttributeValues: marshall({ ':v': state.lastVersion }),
        }),
      );
    } catch (error) {
      // The row already reflects this version or a later one: nothing to do.
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    }
  }
}
