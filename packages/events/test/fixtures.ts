/** Test fixtures: typed build events as the store returns them, versions assigned by the caller. */
import { buildStream, newEvent, type BuildEvent, type EventData, type BuildEventType } from '../src/index.ts';

export const BUILD_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';

export function stored<T extends BuildEventType>(type: T, data: EventData<T>, version: number, at = Date.parse('2026-11-22T10:00:00Z') + version * 1000): BuildEvent {
  const pending = newEvent({ type, data, correlationId: 'corr', causationId: 'cause', now: at });
  return { ...pending, stream: buildStream(BUILD_ID), version } as BuildEvent;
}

export const requestedData: EventData<'build.requested'> = {
  buildId: BUILD_ID,
  repo: 'payments-api',
  env: 'prod',
  version: '1.4.2',
  branch: 'main',
  commit: 'a'.repeat(40),
  regions: ['us-east-1', 'eu-west-1'],
  hostsPerRegion: 100,
  source: { door: 'http', key: 'key-1' },
};

export const history = {
  requested: (v = 1) => stored('build.requested', requestedData, v),
  started: (v = 2) => stored('build.started', { executionArn: 'arn:aws:states:us-east-1:000000000000:execution:deploy:x' }, v),
  replicated: (region: string, v: number) =>
    stored('region.replicated', { region, bucket: `b-${region}`, key: 'artifacts/x.zip', sha256: 'f'.repeat(64), attempts: 1 }, v),
  replicationFailed: (region: string, v: number) => stored('region.replication_failed', { region, reason: 'copy failed', attempts: 3 }, v),
  synced: (region: string, v: number) => stored('region.synced', { region, hosts: 100, synced: 100, failed: 0, rounds: 7 }, v),
  syncFailed: (region: string, v: number) =>
    stored('region.sync_failed', { region, hosts: 100, synced: 60, failed: 40, minHealthyPercent: 90, reason: '60% healthy, 90% required' }, v),
  published: (v: number) => stored('artifact.published', { bucket: 'global', key: 'artifacts/payments-api/prod/1.4.2.zip', sha256: 'e'.repeat(64), sizeBytes: 1024, prebuilt: false }, v),
  succeeded: (v: number) => stored('build.succeeded', {}, v),
  failed: (v: number, failedRegions = [{ region: 'eu-west-1', reason: 'copy failed' }]) => stored('build.failed', { reason: 'replication failed', failedRegions }, v),
};
