/**
 * GET /events?after=<id>: one page reads a bounded stretch of the log, however old the id. Found by
 * the fuzz run: after=000…0 (1970) made one request query every day bucket since then (about
 * 20,000 Queries) and time out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStream, idBoundAt } from '@flotilla/events';
import { EventStore, IdempotencyStore, requestBuild, resourceNames } from '@flotilla/platform';
import { deployTestStack, sampleBuildRequest, testAwsClients, uniquePrefix, type TestStack } from '@flotilla/platform/testing';
import { logPage, MAX_LOG_DAYS_PER_PAGE } from '../src/http/queries.ts';

const aws = testAwsClients();
let stack: TestStack;
let store: EventStore;
let queries = 0;

beforeAll(async () => {
  stack = await deployTestStack(aws, uniquePrefix('log-page'));
  store = new EventStore(aws.dynamodb, resourceNames(stack.prefix).tables.events);
  // Counts the real Queries the store sends (a middleware on the real client, nothing mocked).
  aws.dynamodb.middlewareStack.add((next, context) => (args) => {
    if (context.commandName === 'QueryCommand') queries++;
    return next(args);
  }, { step: 'initialize', name: 'countQueries' });
});
afterAll(async () => {
  await stack?.destroy();
  aws.destroy();
});

describe('logPage after an old id', () => {
  it('reads at most a month of day buckets per page, and `next` walks on to the events', async () => {
    const { buildId } = await requestBuild({ store, idempotency: new IdempotencyStore(aws.dynamodb, resourceNames(stack.prefix).tables.idempotency) }, {
      door: 'http',
      key: `log-page-${Date.now()}`,
      request: sampleBuildRequest(),
    });
    const now = new Date();
    const idDaysAgo = (days: number) => idBoundAt(now.getTime() - days * 86_400_000, 'first');

    queries = 0;
    const ancient = await logPage(store, { after: '00000000000000000000000000', limit: 10 }, now);
    expect(queries).toBeLessThanOrEqual(MAX_LOG_DAYS_PER_PAGE + 1);
    expect(ancient.events).toEqual([]);
    expect(ancient.next).not.toBeNull();
    expect(ancient.next! > '00000000000000000000000000').toBe(true);

    let after = idDaysAgo(80);
    const seen: string[] = [];
    for (let page = 0; page < 5 && seen.length === 0; page++) {
      queries = 0;
      const result = await logPage(store, { after, limit: 10 }, now);
      expect(queries).toBeLessThanOrEqual(MAX_LOG_DAYS_PER_PAGE + 1);
      seen.push(...result.events.map((e) => e.stream));
      expect(result.next! > after).toBe(true);
      after = result.next!;
    }
    expect(seen).toContain(buildStream(buildId));
  });
});
