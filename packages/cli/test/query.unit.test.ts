import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.ts';
import { eventsQuery, listQuery, parseAt, parseIsoTime, submitRequest, testRunRequest } from '../src/query.ts';

describe('--at', () => {
  it('passes a version number through', () => {
    expect(parseAt('3')).toBe('3');
    expect(parseAt(' 12 ')).toBe('12');
  });

  it('normalises an ISO time to UTC', () => {
    expect(parseAt('2025-06-01T14:00:00+02:00')).toBe('2025-06-01T12:00:00.000Z');
    expect(parseAt('2025-06-01')).toBe('2025-06-01T00:00:00.000Z');
  });

  it('refuses version 0, words and malformed times, naming the flag', () => {
    expect(() => parseAt('0')).toThrow(/--at version must be 1 or more/);
    expect(() => parseAt('yesterday')).toThrow(UsageError);
    expect(() => parseAt('2025-13-45T99:00:00Z')).toThrow(/--at must be an ISO-8601 time/);
  });
});

describe('builds list flags to the GET /builds query', () => {
  it('maps every flag, normalising status, door and times', () => {
    const query = listQuery({
      repo: 'payments-api',
      env: 'prod',
      status: 'failed',
      door: 'SNS',
      key: 'req-42',
      since: '2025-06-01',
      until: '2025-06-02T00:00:00Z',
      limit: '50',
      cursor: 'abc',
    });
    expect(Object.fromEntries(query)).toEqual({
      repo: 'payments-api',
      env: 'prod',
      status: 'FAILED',
      door: 'sns',
      key: 'req-42',
      since: '2025-06-01T00:00:00.000Z',
      until: '2025-06-02T00:00:00.000Z',
      limit: '50',
      cursor: 'abc',
    });
  });

  it('leaves out what was not given', () => {
    expect(listQuery({}).toString()).toBe('');
    expect(listQuery({ repo: 'a', env: '' }).toString()).toBe('repo=a');
  });

  it('refuses values the API would refuse, before calling it', () => {
    expect(() => listQuery({ status: 'DONE' })).toThrow(/--status must be one of PENDING, IN_PROGRESS, SUCCESS, FAILED/);
    expect(() => listQuery({ door: 'ftp' })).toThrow(/--door must be one of http, sns, s3/);
    expect(() => listQuery({ key: 'k' })).toThrow(/give --door too/);
    expect(() => listQuery({ limit: '0' })).toThrow(/--limit must be a whole number from 1 to 100/);
    expect(() => listQuery({ limit: '101' })).toThrow(UsageError);
    expect(() => listQuery({ since: '2025-06-02', until: '2025-06-01' })).toThrow(/--since .* is after --until/);
    expect(() => parseIsoTime('since', 'last week')).toThrow(/--since must be an ISO-8601 time/);
  });
});

describe('events tail flags to the GET /events query', () => {
  it('maps --type, --build and --limit, and adds the follow cursor', () => {
    expect(Object.fromEntries(eventsQuery({ type: 'build.failed', build: '01J', limit: '5' }, '01K'))).toEqual({ after: '01K', type: 'build.failed', buildId: '01J', limit: '5' });
    expect(eventsQuery({}).toString()).toBe('');
    expect(() => eventsQuery({ limit: '501' })).toThrow(/from 1 to 500/);
  });
});

describe('builds submit flags to the POST /builds body', () => {
  const base = { repo: 'r', env: 'prod', version: '1.0.0', branch: 'main', commit: 'abc1234' };

  it('splits regions and counts hosts', () => {
    expect(submitRequest({ ...base, regions: 'us-east-1, eu-west-1,', hosts: '20' })).toEqual({ ...base, regions: ['us-east-1', 'eu-west-1'], hostsPerRegion: 20 });
  });

  it('leaves regions and hosts to the API defaults when not given', () => {
    expect(submitRequest(base)).toEqual(base);
  });

  it('refuses an empty region list and a host count that is not a whole number', () => {
    expect(() => submitRequest({ ...base, regions: ',' })).toThrow(/--regions must name at least one region/);
    expect(() => submitRequest({ ...base, hosts: '1.5' })).toThrow(/--hosts must be a whole number/);
  });
});

describe('testruns start flags', () => {
  const script = { name: 'self-test' };
  it('names only what was given; the target defaults to the API itself', () => {
    expect(testRunRequest({ regions: 'us-east-1, eu-west-1' }, script, 'http://127.0.0.1:8080')).toEqual({ script, regions: ['us-east-1', 'eu-west-1'], target: 'http://127.0.0.1:8080' });
    expect(testRunRequest({ regions: 'a', quorum: '1', vus: '450', buffer: '3000', deadline: '2026-12-01T12:00:00+01:00', target: 'http://127.0.0.1:9' }, script, 'x')).toEqual({
      script,
      regions: ['a'],
      target: 'http://127.0.0.1:9',
      quorum: 1,
      vusPerRegion: 450,
      startBufferMs: 3000,
      deadline: '2026-12-01T11:00:00.000Z',
    });
  });

  it('refuses a flag that is not a number or a time, naming it', () => {
    expect(() => testRunRequest({ regions: 'a', vus: 'many' }, script, 'x')).toThrow(/--vus/);
    expect(() => testRunRequest({ regions: 'a', deadline: 'soon' }, script, 'x')).toThrow(/--deadline/);
    expect(() => testRunRequest({ regions: ',' }, script, 'x')).toThrow(UsageError);
  });
});
