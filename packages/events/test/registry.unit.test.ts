import { describe, expect, it } from 'vitest';
import {
  buildIdOfStream,
  buildRequestSchema,
  buildStream,
  createEventId,
  EVENT_TYPE_PATTERN,
  InvalidEventError,
  newEvent,
  parseEvent,
  registry,
  UnknownEventTypeError,
  UnsupportedSchemaVersionError,
} from '../src/index.ts';
import { BUILD_ID, requestedData } from './fixtures.ts';

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

describe('event ids', () => {
  it('sort in creation order, even within one millisecond', () => {
    const now = Date.now();
    const ids = Array.from({ length: 1_000 }, () => createEventId(now));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1_000);
  });
});

describe('the registry', () => {
  it('names every type <subject>.<past_tense> in snake_case', () => {
    const types = Object.keys(registry);
    expect(types.length).toBeGreaterThanOrEqual(9);
    for (const type of types) expect(type, type).toMatch(EVENT_TYPE_PATTERN);
  });

  it('streams map to and from build ids', () => {
    expect(buildIdOfStream(buildStream(BUILD_ID))).toBe(BUILD_ID);
    expect(buildIdOfStream('testrun-x')).toBeUndefined();
  });
});

describe('parseEvent', () => {
  it('returns the typed event for a valid envelope', () => {
    const event = parseEvent(envelope());
    expect(event.type).toBe('build.requested');
    if (event.type === 'build.requested') expect(event.data.hostsPerRegion).toBe(100);
  });

  it('names the bad field of the payload', () => {
    let error: unknown;
    try {
      parseEvent(envelope({ data: { ...requestedData, regions: ['us-east-1', 'us-east-1'], repo: 'no spaces' } }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidEventError);
    expect((error as InvalidEventError).fields.join('\n')).toMatch(/^data\.repo: /m);
    expect((error as InvalidEventError).fields.join('\n')).toMatch(/^data\.regions: regions must be unique/m);
    expect((error as InvalidEventError).retryable).toBe(false);
  });

  it('names the bad field of the envelope', () => {
    expect(() => parseEvent(envelope({ version: 0 }))).toThrow(/version: /);
    expect(() => parseEvent(envelope({ id: 'not-a-ulid' }))).toThrow(/id: must be a ULID/);
  });

  it('refuses an unknown type and a schemaVersion newer than the code', () => {
    expect(() => parseEvent(envelope({ type: 'build.exploded' }))).toThrow(UnknownEventTypeError);
    expect(() => parseEvent(envelope({ schemaVersion: 3 }))).toThrow(UnsupportedSchemaVersionError);
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
  });
});

describe('newEvent', () => {
  it('stamps the current schemaVersion, an id and the time', () => {
    const event = newEvent({ type: 'build.started', data: { executionArn: 'arn:aws:states:x' }, correlationId: 'c', causationId: 'k', now: Date.parse('2026-11-22T10:00:00Z') });
    expect(event).toMatchObject({ type: 'build.started', schemaVersion: 1, occurredAt: '2026-11-22T10:00:00.000Z' });
    expect(event.id).toMatch(/^[0-9A-Z]{26}$/);
  });

  it('refuses a payload that breaks its schema, naming the field', () => {
    expect(() => newEvent({ type: 'build.started', data: { executionArn: 'nope' }, correlationId: 'c', causationId: 'k' })).toThrow(/data\.executionArn/);
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
