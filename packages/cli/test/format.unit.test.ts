import { describe, expect, it } from 'vitest';
import type { BuildView, TestRun } from '../src/api.ts';
import { buildsTable, eventLine, formatDuration, outcomeLine, progressLine, regionCounts, table, testRunText } from '../src/format.ts';
import { linesDisplay } from '../src/progress.ts';

const ID = '01JZ0000000000000000000000';

const view = (overrides: Partial<BuildView> = {}): BuildView => ({
  buildId: ID,
  status: 'IN_PROGRESS',
  repo: 'payments-api',
  env: 'prod',
  version: '1.4.2',
  requestedAt: '2025-06-01T12:00:00.000Z',
  lastVersion: 4,
  artifact: { bucket: 'b', key: 'k' },
  regions: {
    'us-east-1': { replicated: true, synced: false, progress: { expectedHosts: 1000, hosts: 400, synced: 380, failed: 20, percent: 38 } },
    'eu-west-1': { replicated: true, synced: true, hosts: 1000, syncedHosts: 1000, failedHosts: 0, progress: { expectedHosts: 1000, hosts: 990, synced: 990, failed: 0, percent: 99 } },
  },
  ...overrides,
});

describe('table', () => {
  it('pads every column but the last to its widest cell', () => {
    expect(table(['A', 'BB'], [['long', 'x'], ['s', 'yy']])).toBe('A     BB\nlong  x\ns     yy');
  });

  it('lays out builds with id, repo, env, version, status and requested time', () => {
    const out = buildsTable([{ buildId: ID, repo: 'payments-api', env: 'prod', version: '1.4.2', status: 'SUCCESS', door: 'http', key: 'k', requestedAt: '2025-06-01T12:00:00.000Z' }]);
    expect(out.split('\n')).toEqual(['ID                          REPO          ENV   VERSION  STATUS   REQUESTED', `${ID}  payments-api  prod  1.4.2    SUCCESS  2025-06-01T12:00:00.000Z`]);
  });
});

describe('durations', () => {
  it.each([
    [950, '950ms'],
    [2_345, '2.3s'],
    [42_000, '42s'],
    [75_000, '1m15s'],
    [7_380_000, '2h3m'],
    [-5, '0ms'],
  ])('%d ms is %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('progress', () => {
  it('counts each region, taking the larger of the live counter and the final event', () => {
    expect(regionCounts(view())).toEqual([
      { region: 'eu-west-1', synced: 1000, failed: 0, expected: 1000, phase: 'synced' },
      { region: 'us-east-1', synced: 380, failed: 20, expected: 1000, phase: 'syncing' },
    ]);
  });

  it('reads a view without live counters (?at=) from the region events alone', () => {
    const counts = regionCounts(view({ regions: { 'us-east-1': { replicated: true, synced: false } } }));
    expect(counts).toEqual([{ region: 'us-east-1', synced: 0, failed: 0, expected: 0, phase: 'replicated' }]);
  });

  it('prints a line per region', () => {
    expect(progressLine({ region: 'us-east-1', synced: 380, failed: 20, expected: 1000, phase: 'syncing' })).toBe('us-east-1: 380/1000 hosts (38%, 20 failed) syncing');
  });

  it('prints plain lines only when something changed', () => {
    const lines: string[] = [];
    const display = linesDisplay((l) => lines.push(l));
    display.update(view());
    display.update(view());
    display.update(view({ status: 'SUCCESS' }));
    expect(lines).toEqual([
      'status: IN_PROGRESS',
      'progress: eu-west-1: 1000/1000 hosts (100%) synced',
      'progress: us-east-1: 380/1000 hosts (38%, 20 failed) syncing',
      'status: SUCCESS',
    ]);
  });
});

describe('outcome', () => {
  it('says how long a success took', () => {
    expect(outcomeLine(view({ status: 'SUCCESS', finishedAt: '2025-06-01T12:00:42.000Z' }))).toBe(`SUCCESS: build ${ID} (payments-api 1.4.2 to prod) finished in 42s`);
  });

  it('names the reason and each failed region of a failure', () => {
    const failed = view({ status: 'FAILED', finishedAt: '2025-06-01T12:00:05.000Z', failure: { reason: 'replication failed', failedRegions: [{ region: 'eu-central-1', reason: 'copy failed' }] } });
    expect(outcomeLine(failed)).toBe(`FAILED: build ${ID} (payments-api 1.4.2 to prod) in 5.0s: replication failed [eu-central-1: copy failed]`);
  });
});

describe('event lines', () => {
  it('show time, type, build and version', () => {
    const line = eventLine({ id: '01JZ0000000000000000000001', type: 'build.started', schemaVersion: 1, stream: `build-${ID}`, version: 2, occurredAt: '2025-06-01T12:00:01.000Z', correlationId: 'c', causationId: 'c', data: {} });
    expect(line).toBe(`2025-06-01T12:00:01.000Z  build.started              build ${ID} v2  01JZ0000000000000000000001`);
  });
});

describe('testRunText', () => {
  const result = { containers: 1, requests: 120, failed: 3, failedRate: 0.025, dropped: 0, p95Ms: 41.6, firstRequestAt: '2026-12-01T12:00:05.010Z', passed: false };
  const run: TestRun = {
    runId: ID,
    status: 'SCHEDULED',
    requestedAt: '2026-12-01T12:00:00.000Z',
    request: {
      script: { name: 'self-test', durationSeconds: 10, scenarios: { submit: 2, read: 2, follow: 1 }, build: { regions: ['us-east-1'], hostsPerRegion: 1 }, thresholds: { p95Ms: 500, failedRate: 0.01, droppedIterations: 0 } },
      regions: ['us-east-1', 'eu-west-1'],
      quorum: 2,
      startBufferMs: 5000,
      deadline: '2026-12-01T12:10:00.000Z',
      vusPerRegion: 200,
      containersPerRegion: 1,
      target: 'http://127.0.0.1:8080',
    },
    startAt: '2026-12-01T12:00:05.000Z',
    participants: ['us-east-1', 'eu-west-1'],
    regions: { 'us-east-1': { ready: ['t1'], completed: ['t1'], tornDown: true, result }, 'eu-west-1': { ready: ['t2'], completed: [], tornDown: false } },
    finished: false,
    lastVersion: 6,
  };

  it('says when it starts and, per region, readiness, results and teardown', () => {
    const text = testRunText(run);
    expect(text).toContain('test run 01JZ0000000000000000000000: SCHEDULED');
    expect(text).toContain('start at 2026-12-01T12:00:05.000Z');
    expect(text).toMatch(/us-east-1\s+1\/1\s+1\/1\s+120\s+42ms\s+2\.50%\s+failed\s+yes/);
    expect(text).toMatch(/eu-west-1\s+1\/1\s+0\/1\s+-\s+-\s+-\s+-\s+no/);
  });

  it('names what a run still waits for before its start, and why it was aborted', () => {
    const { startAt: _s, participants: _p, ...waiting } = run;
    expect(testRunText({ ...waiting, status: 'ABORTED', reason: 'deadline passed: regions not ready: eu-west-1' })).toMatch(/waiting for 2 of 2 regions[\s\S]*reason: deadline passed/);
  });
});
