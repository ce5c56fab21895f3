import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildRequestSchema,
  buildStream,
  createEventId,
  describeIssues,
  EVENT_TYPE_PATTERN,
  InvalidEventError,
  newEvent,
  parseEvent,
  readableSchemaVersions,
  registry,
  runUpcasters,
  UnknownEventTypeError,
  UnsupportedSchemaVersionError,
  type EventData,
  type EventDefinition,
  type EventType,
} from '../src/index.ts';
import { BUILD_ID, raisedPullRequest, requestedData, requestedRunData, serviceRequestedData, summary } from './fixtures.ts';

/** One valid payload per registered type: adding a type without a sample is a compile error. */
const samples: { [T in EventType]: EventData<T> } = {
  'build.requested': requestedData,
  'build.started': { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:deploy:x' },
  'artifact.published': { bucket: 'global', key: 'artifacts/a.zip', sha256: 'a'.repeat(64), sizeBytes: 10, prebuilt: true },
  'region.replicated': { region: 'us-east-1', bucket: 'b', key: 'artifacts/a.zip', sha256: 'a'.repeat(64), attempts: 2 },
  'region.replication_failed': { region: 'us-east-1', reason: 'digest mismatch', attempts: 3 },
  'region.synced': { region: 'us-east-1', hosts: 10, synced: 10, failed: 0, rounds: 4 },
  'region.sync_failed': { region: 'us-east-1', hosts: 10, synced: 5, failed: 5, minHealthyPercent: 90, reason: 'too few healthy' },
  'build.succeeded': {},
  'build.failed': { reason: 'sync failed', failedRegions: [{ region: 'us-east-1', reason: 'too few healthy' }] },
  'testrun.requested': requestedRunData,
  'testrun.region_ready': { region: 'us-east-1', task: 'arn:aws:ecs:us-east-1:000000000000:task/c/1' },
  'testrun.start_scheduled': { startAt: '2026-11-22T10:00:05.000Z', regions: ['us-east-1'] },
  'testrun.region_completed': { region: 'us-east-1', task: 't1', summary: summary() },
  'testrun.region_torn_down': { region: 'us-east-1' },
  'testrun.completed': { verdict: 'passed', regions: { 'us-east-1': { containers: 1, requests: 5, failed: 0, failedRate: 0, dropped: 0, p95Ms: 3, firstRequestAt: null, passed: true } } },
  'testrun.aborted': { reason: 'deadline passed' },
  'testrun.cancelled': {},
  'service.requested': serviceRequestedData,
  'pull_request.raised': raisedPullRequest('infra', 1),
  'pull_request.auto_merge_enabled': { step: 'infra', number: 1 },
  'pull_request.merged': { step: 'infra', number: 1, mergedSha: 'b'.repeat(40) },
  'pull_request.closed': { step: 'app-config', number: 2, reason: 'closed without being merged' },
  'workflow_run.dispatched': { step: 'boilerplate', repo: 'boilerplate', workflow: 'create-service.yml', runId: 7, url: 'https://github.test/runs/7' },
  'workflow_run.completed': { step: 'infra', repo: 'infra', workflow: 'apply.yml', runId: 6, url: 'https://github.test/runs/6', headSha: 'b'.repeat(40), conclusion: 'success' },
  'service.build_requested': { buildId: BUILD_ID },
  'service.build_finished': { buildId: BUILD_ID, status: 'SUCCESS' },
  'service.created': { buildId: BUILD_ID },
  'service.onboarding_failed': { step: 'infra', reason: 'the infra workflow run failed' },
};
const eventTypes = Object.keys(registry) as EventType[];

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error, none was thrown');
}

const envelope = (overrides: Record<string, unknown> = {}) => ({
  id: createEventId(),
  type: 'build.requested',
  schemaVersion: 2,
  stream: buildStream(BUILD_ID),
  version: 1,
  occurredAt: '2026-11-22T10:00:00.000Z',
  correlationId: 'corr',
  causationId: 'cause',
  data: requestedData,
  ...overrides,
});

describe('the registry', () => {
  it('names every type <subject>.<past_tense> in snake_case', () => {
    const types = Object.keys(registry);
    expect(types.length).toBeGreaterThanOrEqual(9);
    for (const type of types) expect(type, type).toMatch(EVENT_TYPE_PATTERN);
  });

  it('can read every schemaVersion from 1 to the current one of every type', () => {
    for (const type of eventTypes) {
      const definition: EventDefinition = registry[type];
      expect(readableSchemaVersions(definition), type).toEqual(Array.from({ length: definition.schemaVersion }, (_, i) => i + 1));
    }
  });

  it.each(eventTypes)('round-trips %s through newEvent and parseEvent', (type) => {
    const pending = newEvent({ type, data: samples[type], correlationId: BUILD_ID, causationId: 'cause' });
    const stored = { ...pending, stream: buildStream(BUILD_ID), version: 4 };
    expect(parseEvent(JSON.parse(JSON.stringify(stored)))).toEqual(stored);
  });
});

describe('parseEvent', () => {
  it('returns the typed event for a valid envelope', () => {
    const event = parseEvent(envelope());
    expect(event.type).toBe('build.requested');
    if (event.type === 'build.requested') expect(event.data.hostsPerRegion).toBe(100);
  });

  it('names the bad field of the payload, with the event in the message and the context', () => {
    const raw = envelope({ data: { ...requestedData, regions: ['us-east-1', 'us-east-1'], repo: 'no spaces' } });
    const error = thrown(() => parseEvent(raw));
    expect(error).toBeInstanceOf(InvalidEventError);
    const invalid = error as InvalidEventError;
    expect(invalid.name).toBe('InvalidEventError');
    expect(invalid.fields.join('\n')).toMatch(/^data\.repo: /m);
    expect(invalid.fields.join('\n')).toMatch(/^data\.regions: regions must be unique/m);
    expect(invalid.message).toMatch(new RegExp(`^invalid build\\.requested event ${raw.id}: `));
    expect(invalid.context).toMatchObject({ id: raw.id, type: 'build.requested', schemaVersion: 2 });
    expect(invalid.context['issues']).toHaveLength(2);
    expect(invalid.retryable).toBe(false);
  });

  it('names an element of a list by its index', () => {
    expect(() => parseEvent(envelope({ data: { ...requestedData, regions: ['us-east-1', ''] } }))).toThrow(/data\.regions\.1: /);
    expect(() => parseEvent(envelope({ type: 'build.failed', schemaVersion: 1, data: { reason: 'x', failedRegions: [{ region: 'a' }] } }))).toThrow(
      /data\.failedRegions\.0\.reason: /,
    );
  });

  it('names the bad field of the envelope', () => {
    expect(() => parseEvent(envelope({ version: 0 }))).toThrow(/version: /);
    expect(() => parseEvent(envelope({ id: 'not-a-ulid' }))).toThrow(/id: must be a ULID/);
    expect(() => parseEvent(envelope({ occurredAt: undefined }))).toThrow(/occurredAt: /);
  });

  it('refuses what is not an object at all', () => {
    for (const raw of [null, 'build.requested', 42, []]) expect(() => parseEvent(raw), JSON.stringify(raw)).toThrow(InvalidEventError);
  });

  it('refuses an unknown type, not retryable, with the event in the context', () => {
    const raw = envelope({ type: 'build.exploded' });
    const error = thrown(() => parseEvent(raw));
    expect(error).toBeInstanceOf(UnknownEventTypeError);
    expect(error).toMatchObject({ name: 'UnknownEventTypeError', retryable: false, context: { id: raw.id, type: 'build.exploded', schemaVersion: 2 } });
    expect(() => parseEvent(envelope({ type: 'constructor.name' }))).toThrow(UnknownEventTypeError);
  });

  it('refuses a schemaVersion newer than the code, not retryable', () => {
    const raw = envelope({ schemaVersion: 3 });
    const error = thrown(() => parseEvent(raw));
    expect(error).toBeInstanceOf(UnsupportedSchemaVersionError);
    expect(error).toMatchObject({ name: 'UnsupportedSchemaVersionError', retryable: false, context: { id: raw.id, type: 'build.requested', schemaVersion: 3 } });
    expect((error as Error).message).toMatch(/newer than this code knows \(2\)/);
  });

  it('returns the stored envelope fields untouched', () => {
    const raw = envelope({ version: 9, correlationId: 'corr-9', causationId: 'cause-9' });
    expect(parseEvent(raw)).toEqual(raw);
  });
});

describe('upcasting build.requested v1 -> v2', () => {
  const { hostsPerRegion: _h, regions: _r, ...common } = requestedData;

  it('renames hosts to hostsPerRegion and splits a comma-separated region list', () => {
    const event = parseEvent(envelope({ schemaVersion: 1, data: { ...common, hosts: 250, regions: 'us-east-1, eu-west-1' } }));
    expect(event.schemaVersion).toBe(2);
    expect(event.data).toMatchObject({ hostsPerRegion: 250, regions: ['us-east-1', 'eu-west-1'] });
    expect(event.data).not.toHaveProperty('hosts');
  });

  it('keeps a v1 region array as it is', () => {
    const event = parseEvent(envelope({ schemaVersion: 1, data: { ...common, hosts: 5, regions: ['ap-southeast-2'] } }));
    expect(event.data).toMatchObject({ hostsPerRegion: 5, regions: ['ap-southeast-2'] });
  });

  it('still validates the upcast payload against the current schema', () => {
    expect(() => parseEvent(envelope({ schemaVersion: 1, data: { ...common, hosts: 0, regions: 'us-east-1' } }))).toThrow(/data\.hostsPerRegion/);
    expect(() => parseEvent(envelope({ schemaVersion: 1, data: { ...common, hosts: 3, regions: 'us-east-1,us-east-1' } }))).toThrow(/data\.regions: regions must be unique/);
    expect(() => parseEvent(envelope({ schemaVersion: 1, data: { ...common, hosts: 3, regions: ' , ' } }))).toThrow(/data\.regions: /);
    expect(() => parseEvent(envelope({ schemaVersion: 1, data: 'garbage' }))).toThrow(InvalidEventError);
  });

  it('does not loosen v2: a v2 event in the v1 shape is refused', () => {
    const error = thrown(() => parseEvent(envelope({ schemaVersion: 2, data: { ...common, hosts: 250, regions: 'us-east-1,eu-west-1' } })));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).fields.join('\n')).toMatch(/^data\.regions: /m);
    expect((error as InvalidEventError).fields.join('\n')).toMatch(/^data\.hostsPerRegion: /m);
  });
});

describe('the upcaster chain', () => {
  const definition: EventDefinition = {
    schemaVersion: 3,
    schema: z.object({ n: z.number() }),
    upcasters: {
      1: (data) => ({ n: Number((data as { text: string }).text) }),
      2: (data) => {
        const { n } = data as { n: number };
        if (Number.isNaN(n)) throw new Error('n is not a number');
        return { n: n * 10 };
      },
    },
  };

  it('runs each step in order from the stored schemaVersion', () => {
    expect(runUpcasters(definition, 1, { text: '4' })).toEqual({ n: 40 });
    expect(runUpcasters(definition, 2, { n: 4 })).toEqual({ n: 40 });
    expect(runUpcasters(definition, 3, { n: 4 })).toEqual({ n: 4 });
  });

  it('reports a throwing step as an invalid event with the thrown error as its cause', () => {
    const error = thrown(() => runUpcasters(definition, 1, { text: 'four' }, { id: 'e1', type: 'thing.counted' }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).cause).toBeInstanceOf(Error);
    expect((error as InvalidEventError).message).toMatch(/data: upcast from schemaVersion 2 to 3 failed: n is not a number/);
    expect((error as InvalidEventError).context).toMatchObject({ id: 'e1', type: 'thing.counted', schemaVersion: 1 });
  });

  it('refuses a version with no step to the next one', () => {
    const gap: EventDefinition = { ...definition, upcasters: { 2: (d) => d } };
    expect(() => runUpcasters(gap, 1, {}, { type: 'thing.counted' })).toThrow(/thing\.counted has no upcaster from schemaVersion 1/);
    expect(readableSchemaVersions(gap)).toEqual([2, 3]);
  });
});

describe('describeIssues', () => {
  it('turns zod issues into field: message lines, with an optional prefix', () => {
    const result = z.object({ a: z.array(z.string()), b: z.number() }).safeParse({ a: ['x', 1], b: 'y' });
    expect(result.success).toBe(false);
    const lines = describeIssues(result.error?.issues ?? [], ['body']);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^body\.a\.1: .+/);
    expect(lines[1]).toMatch(/^body\.b: .+/);
    expect(describeIssues(z.string().safeParse(3).error?.issues ?? [])[0]).toMatch(/^\(root\): /);
  });
});

describe('newEvent', () => {
  it('stamps the current schemaVersion, an id and the time', () => {
    const event = newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:x' }, correlationId: 'c', causationId: 'k', now: Date.parse('2026-11-22T10:00:00Z') });
    expect(event).toMatchObject({ type: 'build.started', schemaVersion: 1, occurredAt: '2026-11-22T10:00:00.000Z' });
    expect(event.id).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('refuses a payload that breaks its schema, naming the field', () => {
    const error = thrown(() => newEvent({ type: 'build.started', data: { executionArn: 'nope' }, correlationId: 'c', causationId: 'k' }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).fields).toEqual([expect.stringMatching(/^data\.executionArn: /)]);
    expect((error as InvalidEventError).context).toMatchObject({ type: 'build.started', schemaVersion: 1 });
  });

  it('refuses a missing correlation or causation id', () => {
    expect(() => newEvent({ type: 'build.succeeded', data: {}, correlationId: '', causationId: 'k' })).toThrow(/correlationId: /);
    expect(() => newEvent({ type: 'build.succeeded', data: {}, correlationId: 'c', causationId: '' })).toThrow(/causationId: /);
  });

  it('refuses a type that is not registered', () => {
    expect(() => newEvent({ type: 'build.exploded', data: {}, correlationId: 'c', causationId: 'k' } as never)).toThrow(UnknownEventTypeError);
  });

  it('keeps only the fields the schema names', () => {
    const event = newEvent({ type: 'build.failed', data: { reason: 'r', failedRegions: [], secret: 'x' } as EventData<'build.failed'>, correlationId: 'c', causationId: 'k' });
    expect(event.data).toEqual({ reason: 'r', failedRegions: [] });
  });
});

describe('buildRequestSchema: one schema for every door', () => {
  const schema = buildRequestSchema(['us-east-1', 'eu-west-1']);
  const valid = { repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 3 };

  it('accepts a valid request', () => {
    expect(schema.parse(valid)).toEqual(valid);
  });

  it.each([
    ['repo', { repo: 'r'.repeat(41) }],
    ['repo', { repo: 'a/b' }],
    ['env', { env: 'Prod' }],
    ['env', { env: 'e'.repeat(13) }],
    ['version', { version: 'v 1' }],
    ['commit', { commit: 'xyz' }],
    ['regions', { regions: ['mars-1'] }],
    ['regions', { regions: [] }],
    ['hostsPerRegion', { hostsPerRegion: 0 }],
  ])('refuses a bad %s', (field, change) => {
    const result = schema.safeParse({ ...valid, ...change });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path[0]).toBe(field);
  });
});

describe('repo and version segments (review L6)', () => {
  const request = buildRequestSchema(['us-east-1']);
  const valid = { repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'abc1234', regions: ['us-east-1'], hostsPerRegion: 1 };

  it('refuses a repo or version made only of dots, naming the field', () => {
    for (const [field, value] of [['repo', '.'], ['repo', '..'], ['version', '..'], ['version', '....']] as const) {
      const result = request.safeParse({ ...valid, [field]: value });
      expect(result.success, `${field}=${value}`).toBe(false);
      expect(result.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([`${field}: must not be made only of dots`]);
    }
  });

  it('accepts dots beside other characters', () => {
    expect(request.safeParse({ ...valid, repo: '.github', version: '1..2' }).success).toBe(true);
  });
});
