import { describe, expect, it } from 'vitest';
import { DEFAULT_API_URL, DEFAULT_AWS_ENDPOINT, DEFAULT_PREFIX, resolveSettings, type CliEnv } from '../src/config.ts';
import { isConnectionFailure } from '../src/errors.ts';

const env = (overrides: Partial<CliEnv> = {}): CliEnv => ({
  FLOTILLA_API_URL: DEFAULT_API_URL,
  FLOTILLA_PREFIX: DEFAULT_PREFIX,
  AWS_ENDPOINT_URL: DEFAULT_AWS_ENDPOINT,
  AWS_REGION: 'us-east-1',
  ...overrides,
});

describe('settings', () => {
  it('default to the local stack, with the emulator placeholder credentials on loopback', () => {
    expect(resolveSettings({}, env(), () => undefined)).toEqual({
      api: { url: 'http://127.0.0.1:8080' },
      prefix: 'flotilla',
      aws: { endpoint: 'http://127.0.0.1:4566', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
    });
  });

  it('take flags over the environment, and drop a trailing slash from the API URL', () => {
    const s = resolveSettings({ api: 'http://api.example:9000/', prefix: 'staging', endpoint: 'https://sqs.eu-west-1.amazonaws.com' }, env({ FLOTILLA_PREFIX: 'other' }));
    expect(s.api.url).toBe('http://api.example:9000');
    expect(s.prefix).toBe('staging');
    // Not loopback and no credentials in the environment: the SDK's own provider chain decides.
    expect(s.aws.credentials).toBeUndefined();
  });

  it('refuse a bad flag value with the flag named', () => {
    expect(() => resolveSettings({ prefix: 'Bad_Prefix' }, env())).toThrow(/prefix: lowercase letters/);
    expect(() => resolveSettings({ api: 'not a url' }, env())).toThrow(/api: /);
  });
});

describe('connection failures', () => {
  it('are found in the cause chain (fetch wraps them)', () => {
    expect(isConnectionFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }))).toBe(true);
    expect(isConnectionFailure(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isConnectionFailure(new Error('HTTP 500'))).toBe(false);
  });
});

describe('the AWS endpoint', () => {
  it('`aws` means the real endpoints: none set, and no placeholder credentials', () => {
    const s = resolveSettings({ endpoint: 'aws' }, env());
    expect(s.aws.endpoint).toBeUndefined();
    expect(s.aws.credentials).toBeUndefined();
  });
});
