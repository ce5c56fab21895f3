/**
 * /testruns: load tests run from several regions at once (the test-run aggregate). POST starts one,
 * GET answers its view (what runners and the CLI poll), /events its log, /stream its events live,
 * and cancel stops it. The orchestrator does the rest: it stores the script, scales each region's
 * runners, opens the start barrier as they report, and tears every region down.
 */
import { z } from 'zod';
import {
  createEventId,
  decideTestRun,
  foldTestRun,
  isTestRunFinished,
  testRunIdSchema,
  testRunRequestSchema,
  TestRunRefusedError,
  testRunStream,
  testRunView,
  testRunViewSchema,
  type PendingEvent,
  type TestRunRequest,
} from '@flotilla/events';
import {
  claimTestRunLeases,
  decideAndAppendTo,
  errorBodySchema,
  hashKey,
  HttpError,
  loadAggregate,
  notFound,
  readEvents,
  releaseTestRunLeases,
  testRunAggregate,
  type HttpRoutes,
} from '@flotilla/platform';
import type { ApiDeps } from './queries.ts';
import { eventSchema, idempotencyHeaders } from './schemas.ts';
import { followStream, type StreamDoor } from './stream.ts';

const params = z.object({ id: testRunIdSchema.describe('The test run id (a ULID)') });
const acceptedSchema = z.object({
  runId: z.string(),
  status: z.literal('REQUESTED'),
  duplicate: z.boolean().describe('True when this key had already made the run'),
  links: z.object({ self: z.string(), events: z.string(), stream: z.string(), cancel: z.string() }),
});
const cancelledSchema = z.object({ runId: z.string(), status: z.literal('CANCELLED') });
const eventsSchema = z.object({ runId: z.string(), events: z.array(eventSchema) });

/** Everything but the defaults' order decides whether a repeated key is the same request. */
const fingerprint = (request: TestRunRequest) => hashKey(JSON.stringify({ ...request, regions: [...request.regions].sort() }));

export function testRunsRoutes(deps: ApiDeps, streams: StreamDoor): HttpRoutes {
  return (app) => {
    const read = (runId: string, afterVersion = 0) => readEvents(deps.store, testRunStream(runId), testRunAggregate, afterVersion);

    app.post(
      '/testruns',
      {
        schema: {
          summary: "Start a load test from several regions at once; its runners target `target` (Flotilla's own API, or another)",
          tags: ['testruns'],
          headers: idempotencyHeaders,
          body: testRunRequestSchema(deps.regions),
          response: { 202: acceptedSchema, 400: errorBodySchema, 409: errorBodySchema, 422: errorBodySchema, 429: errorBodySchema },
        },
      },
      async (request, reply) => {
        const key = request.headers['idempotency-key'];
        const now = Date.now();
        const mapped = await deps.idempotency.mapOnce(`testrun#http#${hashKey(key)}`, createEventId(now), { fingerprint: fingerprint(request.body) });
        if (!mapped.sameRequest) throw new HttpError(422, 'idempotency_key_reused', `Idempotency-Key ${key} was already used for test run ${mapped.value} with a different request`);
        const runId = mapped.value;
        const self = `/testruns/${runId}`;
        const accepted = (duplicate: boolean) =>
          reply.code(202).header('location', self).send({ runId, status: 'REQUESTED', duplicate, links: { self, events: `${self}/events`, stream: `${self}/stream`, cancel: `${self}/cancel` } });
        if ((await deps.store.headVersion(testRunStream(runId))) > 0) return accepted(true);

        // The leases first: a run that cannot have its regions is refused before it is in the log.
        const refusal = await claimTestRunLeases(deps.leases, runId, request.body.regions);
        if (refusal?.kind === 'region-busy') {
          throw new HttpError(409, 'region_busy', `region ${refusal.region} is running test run ${refusal.heldBy}; cancel it or wait until it is finished`);
        }
        if (refusal?.kind === 'too-many-runs') {
          reply.header('retry-after', '30');
          throw new HttpError(429, 'too_many_test_runs', `${refusal.limit} test runs are open, the most at once; retry once one has finished`);
        }
        let duplicate = false;
        try {
          await decideAndAppendTo(deps.store, testRunStream(runId), testRunAggregate, (state): PendingEvent[] => {
            duplicate = false; // decided afresh on each attempt (a lost race re-reads the stream)
            try {
              return decideTestRun(state, { kind: 'request', runId, request: request.body }, { correlationId: runId, causationId: `testrun:http:${key}`, now });
            } catch (error) {
              // Another delivery of this key appended it first: the same run.
              if (error instanceof TestRunRefusedError && error.code === 'exists') {
                duplicate = true;
                return [];
              }
              throw error;
            }
          });
        } catch (error) {
          await releaseTestRunLeases(deps.leases, runId);
          if (error instanceof TestRunRefusedError) throw new HttpError(400, 'invalid_request', error.message, [`deadline: ${error.message}`]);
          throw error;
        }
        deps.logger.info({ runId, regions: request.body.regions, duplicate }, duplicate ? 'repeat POST /testruns: same run' : 'test run requested');
        return accepted(duplicate);
      },
    );

    app.get(
      '/testruns/:id',
      {
        schema: {
          summary: 'A test run: its regions ready, its start time, per-region results and teardown, its verdict',
          tags: ['testruns'],
          params,
          response: { 200: testRunViewSchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (request) => {
        const { id } = request.params;
        const view = testRunView((await loadAggregate(deps.store, testRunStream(id), testRunAggregate)).state);
        if (!view) throw notFound(`no test run ${id}`);
        return view;
      },
    );

    app.get(
      '/testruns/:id/events',
      {
        schema: { summary: "A test run's slice of the log, in version order", tags: ['testruns'], params, response: { 200: eventsSchema, 400: errorBodySchema, 404: errorBodySchema } },
      },
      async (request) => {
        const { id } = request.params;
        const events = await read(id);
        if (events.length === 0) throw notFound(`no test run ${id}`);
        return { runId: id, events };
      },
    );

    app.get(
      '/testruns/:id/stream',
      {
        schema: {
          summary: "A test run's events live, as server-sent events (id: version, event: type), until it is finished; honours Last-Event-ID",
          tags: ['testruns'],
          params,
          response: { 400: errorBodySchema, 404: errorBodySchema, 429: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        if ((await deps.store.headVersion(testRunStream(id))) === 0) throw notFound(`no test run ${id}`);
        let state = foldTestRun([]);
        await streams.serve(
          request,
          reply,
          followStream({ runId: id }, (after) => read(id, after), (events) => isTestRunFinished((state = foldTestRun(events, state)))),
        );
      },
    );

    app.post(
      '/testruns/:id/cancel',
      {
        schema: {
          summary: 'Cancel a test run that has not ended: every region is torn down',
          tags: ['testruns'],
          params,
          response: { 202: cancelledSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        let refused: HttpError | undefined;
        await decideAndAppendTo(deps.store, testRunStream(id), testRunAggregate, (state): PendingEvent[] => {
          refused = undefined;
          if (state.status === null) {
            refused = notFound(`no test run ${id}`);
            return [];
          }
          const events = decideTestRun(state, { kind: 'cancel' }, { correlationId: id, causationId: `cancel:http:${request.id}`, now: Date.now() });
          if (events.length === 0) refused = new HttpError(409, 'already_ended', `test run ${id} already ended ${state.status}`);
          return events;
        });
        if (refused) throw refused;
        deps.logger.info({ runId: id }, 'test run cancelled');
        return reply.code(202).send({ runId: id, status: 'CANCELLED' });
      },
    );
    return Promise.resolve();
  };
}
