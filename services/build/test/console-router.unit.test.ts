/** The console's hash routes: every view has a link, and a filtered build list is one. */
import { describe, expect, it } from 'vitest';
import { classifyLookup, filtersFromQuery, filtersToQuery, hrefOf, parseRoute, type Route } from '../web/src/router.ts';

const ULID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';

describe('parseRoute', () => {
  it('takes an empty hash, and #/builds, as the build list', () => {
    for (const hash of ['', '#', '#/', '#/builds', '#/builds/']) expect(parseRoute(hash), hash).toEqual({ name: 'builds', filters: {} });
  });

  it('reads each page', () => {
    expect(parseRoute('#/builds/new')).toEqual({ name: 'new-build' });
    expect(parseRoute(`#/builds/${ULID}`)).toEqual({ name: 'build', buildId: ULID });
    expect(parseRoute(`#/testruns/${ULID}`)).toEqual({ name: 'testrun', runId: ULID });
    expect(parseRoute('#/services/payments-api')).toEqual({ name: 'service', serviceName: 'payments-api' });
  });

  it('reads the list filters from the query', () => {
    expect(parseRoute('#/builds?status=FAILED&repo=x')).toEqual({ name: 'builds', filters: { status: 'FAILED', repo: 'x' } });
  });

  it('answers not-found for an address no page has', () => {
    expect(parseRoute('#/nope')).toEqual({ name: 'not-found', path: '/nope' });
    expect(parseRoute('#/testruns')).toEqual({ name: 'not-found', path: '/testruns' });
    expect(parseRoute(`#/builds/${ULID}/extra`)).toEqual({ name: 'not-found', path: `/builds/${ULID}/extra` });
    expect(parseRoute('#/services/%E0%A4%A')).toEqual({ name: 'not-found', path: '/services/%E0%A4%A' });
  });

  it('reads back every route hrefOf writes', () => {
    const routes: Route[] = [
      { name: 'builds', filters: {} },
      { name: 'builds', filters: { repo: 'a b', env: 'prod', status: 'IN_PROGRESS', door: 's3' } },
      { name: 'new-build' },
      { name: 'build', buildId: ULID },
      { name: 'testrun', runId: ULID },
      { name: 'service', serviceName: 'svc-1' },
    ];
    for (const route of routes) expect(parseRoute(hrefOf(route))).toEqual(route);
  });
});

describe('the build list filters in the hash', () => {
  it('writes only the filters set, in a fixed order', () => {
    expect(filtersToQuery({})).toBe('');
    expect(filtersToQuery({ door: 'http', status: 'FAILED', repo: 'x' })).toBe('repo=x&status=FAILED&door=http');
    expect(filtersToQuery({ repo: '  ', env: '' })).toBe('');
    expect(hrefOf({ name: 'builds', filters: { status: 'FAILED', repo: 'x' } })).toBe('#/builds?repo=x&status=FAILED');
  });

  it('leaves out values the API would refuse', () => {
    expect(filtersFromQuery('status=DONE&door=ftp&env=Prod!&repo=')).toEqual({});
    expect(filtersFromQuery('?env=qa-2&door=onboarding&status=PENDING')).toEqual({ env: 'qa-2', door: 'onboarding', status: 'PENDING' });
  });

  it('trims the repo text', () => {
    expect(filtersFromQuery(new URLSearchParams({ repo: ' payments ' }))).toEqual({ repo: 'payments' });
  });
});

describe('classifyLookup', () => {
  it('takes a ULID, in any case, as an id', () => {
    expect(classifyLookup(` ${ULID.toLowerCase()} `)).toEqual({ kind: 'id', id: ULID });
  });

  it('takes a service name as a service', () => {
    expect(classifyLookup('payments-api')).toEqual({ kind: 'service', name: 'payments-api' });
  });

  it('says what it wants when given neither', () => {
    expect(classifyLookup('  ').kind).toBe('invalid');
    expect(classifyLookup('Not A Name')).toMatchObject({ kind: 'invalid', message: expect.stringContaining('neither an id') as unknown });
  });
});
