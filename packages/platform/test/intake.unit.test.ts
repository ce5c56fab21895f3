/** The intake fingerprint: one value per request as it will be built, whatever order regions came in. */
import { describe, expect, it } from 'vitest';
import { requestFingerprint } from '@flotilla/platform';

const request = { repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'abc1234', regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'], hostsPerRegion: 10 };

describe('requestFingerprint', () => {
  it('is the same for regions in any order', () => {
    expect(requestFingerprint({ ...request, regions: ['ap-southeast-2', 'us-east-1', 'eu-west-1'] })).toBe(requestFingerprint(request));
  });

  it('does not depend on the order of the fields', () => {
    const { repo, ...rest } = request;
    expect(requestFingerprint({ ...rest, repo })).toBe(requestFingerprint(request));
  });

  it('does not reorder the caller\'s regions', () => {
    const regions = ['us-east-1', 'eu-west-1'];
    requestFingerprint({ ...request, regions });
    expect(regions).toEqual(['us-east-1', 'eu-west-1']);
  });

  it.each([
    ['repo', { repo: 'other' }],
    ['env', { env: 'staging' }],
    ['version', { version: '1.4.3' }],
    ['branch', { branch: 'dev' }],
    ['commit', { commit: 'abc1235' }],
    ['a region more', { regions: [...request.regions, 'us-west-2'] }],
    ['a region less', { regions: ['us-east-1', 'eu-west-1'] }],
    ['hostsPerRegion', { hostsPerRegion: 11 }],
  ])('changes with %s', (_, change) => {
    expect(requestFingerprint({ ...request, ...change })).not.toBe(requestFingerprint(request));
  });

  it('tells a field boundary from its content', () => {
    expect(requestFingerprint({ ...request, repo: 'a', env: 'b-c' })).not.toBe(requestFingerprint({ ...request, repo: 'a-b', env: 'c' }));
  });
});
