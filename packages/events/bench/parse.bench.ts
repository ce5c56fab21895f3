/**
 * What validation costs on the read path: parseEvent (envelope + registry + upcast + payload
 * schema) against JSON.parse alone, and the status fold of a whole build. `pnpm bench:unit` prints
 * each against the JSON.parse baseline run in the same process.
 */
import { bench, describe } from 'vitest';
import { buildStream, foldBuild, newEvent, parseEvent, type BuildEvent } from '../src/index.ts';

const BUILD_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
const requested = {
  ...newEvent({
    type: 'build.requested',
    data: { buildId: BUILD_ID, repo: 'payments-api', env: 'prod', version: '1.4.2', branch: 'main', commit: 'abc1234', regions: ['us-east-1', 'eu-west-1', 'ap-southeast-2'], hostsPerRegion: 1000, source: { door: 'http', key: 'k' } },
    correlationId: BUILD_ID,
    causationId: 'k',
  }),
  stream: buildStream(BUILD_ID),
  version: 1,
};
const text = JSON.stringify(requested);
const v1 = JSON.stringify({ ...requested, schemaVersion: 1, data: { ...requested.data, hostsPerRegion: undefined, hosts: 1000, regions: 'us-east-1,eu-west-1,ap-southeast-2' } });
const history = [requested, ...Array.from({ length: 200 }, (_, i) => ({ ...newEvent({ type: 'region.synced', data: { region: 'us-east-1', hosts: 1000, synced: 1000, failed: 0, rounds: 8 }, correlationId: BUILD_ID, causationId: 'k' }), stream: buildStream(BUILD_ID), version: i + 2 }))] as BuildEvent[];

describe('reading one event', () => {
  bench('baseline: JSON.parse only', () => {
    JSON.parse(text);
  });
  bench('parseEvent (current schemaVersion)', () => {
    parseEvent(JSON.parse(text));
  });
  bench('parseEvent (v1, upcast to v2)', () => {
    parseEvent(JSON.parse(v1));
  });
});

describe('folding a build', () => {
  bench('foldBuild over 201 events', () => {
    foldBuild(history);
  });
});
