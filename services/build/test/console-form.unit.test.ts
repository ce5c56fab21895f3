/** The new build form's logic: the body, the Idempotency-Key on resubmission, where a 400's field lines go. */
import { describe, expect, it } from 'vitest';
import { idempotencyKeyFor, mapFieldErrors, newIdempotencyKey, requestBodyOf, type BuildFormValues } from '../web/src/model/form.ts';

const values: BuildFormValues = { repo: ' payments ', env: 'prod', version: '1.2.3', branch: 'main', commit: 'abc1234', regions: ['eu-west-1'], hostsPerRegion: '50' };

describe('mapFieldErrors', () => {
  it('puts each line beside the field its path starts with', () => {
    expect(mapFieldErrors(['version: 1-64 characters of A-Z a-z 0-9 . _ -', 'regions.1: must be one of: eu-west-1, us-east-1', 'hostsPerRegion: Too small: expected number to be >=1'])).toEqual({
      byField: {
        version: ['1-64 characters of A-Z a-z 0-9 . _ -'],
        regions: ['#2: must be one of: eu-west-1, us-east-1'],
        hostsPerRegion: ['Too small: expected number to be >=1'],
      },
      form: [],
    });
  });

  it('keeps several lines for one field', () => {
    expect(mapFieldErrors(['commit: too short', 'commit: not hex']).byField.commit).toEqual(['too short', 'not hex']);
  });

  it('sends lines whose path is no field of the form to the form', () => {
    expect(mapFieldErrors(['(root): Unrecognized key: "colour"', 'Idempotency-Key: required (1-256 characters)', 'no path at all'])).toEqual({
      byField: {},
      form: ['(root): Unrecognized key: "colour"', 'Idempotency-Key: required (1-256 characters)', 'no path at all'],
    });
  });
});

describe('requestBodyOf', () => {
  it('trims the text and sends hostsPerRegion as a number', () => {
    expect(requestBodyOf(values)).toEqual({ repo: 'payments', env: 'prod', version: '1.2.3', branch: 'main', commit: 'abc1234', regions: ['eu-west-1'], hostsPerRegion: 50 });
  });

  it('leaves out what the service defaults: regions it could not list, an empty host count', () => {
    expect(requestBodyOf({ ...values, regions: undefined, hostsPerRegion: ' ' })).toEqual({ repo: 'payments', env: 'prod', version: '1.2.3', branch: 'main', commit: 'abc1234' });
  });

  it('sends no regions as an empty list, for the API to refuse', () => {
    expect(requestBodyOf({ ...values, regions: [] }).regions).toEqual([]);
  });
});

describe('idempotencyKeyFor', () => {
  let n = 0;
  const newKey = () => `key-${++n}`;

  it('keeps the key while the same content is submitted again, and makes a new one when it changes', () => {
    const first = idempotencyKeyFor(undefined, requestBodyOf(values), newKey);
    const again = idempotencyKeyFor(first, requestBodyOf({ ...values, repo: 'payments' }), newKey);
    const changed = idempotencyKeyFor(again, requestBodyOf({ ...values, version: '1.2.4' }), newKey);
    const back = idempotencyKeyFor(changed, requestBodyOf(values), newKey);
    expect([first.key, again.key, changed.key, back.key]).toEqual(['key-1', 'key-1', 'key-2', 'key-3']);
  });
});

describe('newIdempotencyKey', () => {
  it('uses crypto.randomUUID where the page has it', () => {
    expect(newIdempotencyKey({ getRandomValues: (a) => a, randomUUID: () => 'from-random-uuid' })).toBe('from-random-uuid');
  });

  it('makes a UUID v4 from random bytes where it does not (plain http off localhost)', () => {
    const key = newIdempotencyKey({ getRandomValues: crypto.getRandomValues.bind(crypto) });
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
