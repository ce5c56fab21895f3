import { describe, expect, it } from 'vitest';
import { duplicateFacts, factKey } from '../src/index.ts';

describe('facts', () => {
  it('a region copy or sync is one fact per region whichever way it ended; a build ends once', () => {
    expect(factKey({ type: 'region.replicated', data: { region: 'us-east-1' } })).toBe(factKey({ type: 'region.replication_failed', data: { region: 'us-east-1' } }));
    expect(factKey({ type: 'region.replicated', data: { region: 'us-east-1' } })).not.toBe(factKey({ type: 'region.replicated', data: { region: 'eu-west-1' } }));
    expect(factKey({ type: 'region.synced', data: { region: 'us-east-1' } })).not.toBe(factKey({ type: 'region.replicated', data: { region: 'us-east-1' } }));
    expect(factKey({ type: 'build.succeeded', data: {} })).toBe(factKey({ type: 'build.failed', data: {} }));
    expect(factKey({ type: 'artifact.published', data: {} })).toBe('artifact.published');
  });

  it('counts the same fact twice in one stream, whatever the event ids', () => {
    const event = (type: string, data: Record<string, unknown> = {}) => ({ type, data });
    const events = [
      event('build.requested'),
      event('build.started'),
      event('artifact.published'),
      event('region.replicated', { region: 'us-east-1' }),
      event('region.replicated', { region: 'eu-west-1' }),
      event('region.synced', { region: 'us-east-1' }),
      event('region.sync_failed', { region: 'eu-west-1' }),
      event('build.failed'),
    ];
    expect(duplicateFacts(events)).toEqual([]);
    expect(duplicateFacts([...events, event('build.succeeded'), event('region.replication_failed', { region: 'us-east-1' })])).toEqual([
      { fact: 'region.replication:us-east-1', times: 2 },
      { fact: 'build.ended', times: 2 },
    ]);
  });
});
