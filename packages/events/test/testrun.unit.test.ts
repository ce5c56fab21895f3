import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEADLINE_SLACK_MS,
  containersFor,
  decideTestRun,
  deciderSpecification,
  evolveTestRun,
  foldTestRun,
  initialTestRunState,
  isTestRunFinished,
  MAX_VUS_PER_REGION,
  mergeRegion,
  regionsToTearDown,
  testRunIdOfStream,
  testRunRequestSchema,
  testRunStream,
  TestRunRefusedError,
  type DecideMeta,
  type TestRunEvent,
} from '../src/index.ts';
import { loadScript, requestedRunData, RUN_AT, RUN_ID, storedRun, summary, testRunRequest } from './fixtures.ts';

const { given } = deciderSpecification({ evolve: evolveTestRun, initialState: initialTestRunState, decide: decideTestRun });
const at = (ms: number): DecideMeta => ({ correlationId: RUN_ID, causationId: 'test', now: RUN_AT + ms });
const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1'] as const;
const refused = (code: TestRunRefusedError['code']) => (error: unknown) => error instanceof TestRunRefusedError && error.code === code;

/** A run's history from the start: requested, then each event given at the next version. */
function run(...events: Array<[TestRunEvent['type'], unknown]>): TestRunEvent[] {
  return [storedRun('testrun.requested', requestedRunData, 1), ...events.map(([type, data], i) => storedRun(type, data as never, i + 2))];
}
const ready = (region: string, task = `task-${region}`): [TestRunEvent['type'], unknown] => ['testrun.region_ready', { region, task }];
const scheduled = (regions: readonly string[] = REGIONS): [TestRunEvent['type'], unknown] => ['testrun.start_scheduled', { startAt: new Date(RUN_AT + 20_000).toISOString(), regions }];
const completed = (region: string, passed = true): [TestRunEvent['type'], unknown] => ['testrun.region_completed', { region, task: `task-${region}`, summary: summary({ passed, p95Ms: passed ? 40 : 900 }) }];
const tornDown = (region: string): [TestRunEvent['type'], unknown] => ['testrun.region_torn_down', { region }];
const allReady = REGIONS.map((r) => ready(r));

describe('the test-run stream', () => {
  it('names the run by its id and knows its own streams only', () => {
    expect(testRunIdOfStream(testRunStream(RUN_ID))).toBe(RUN_ID);
    expect(testRunIdOfStream(`build-${RUN_ID}`)).toBeUndefined();
    expect(testRunIdOfStream('testrun-not-a-ulid')).toBeUndefined();
  });
});

describe('a test-run request', () => {
  const schema = testRunRequestSchema(['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1']);

  it('accepts the fixture and refuses what breaks a cap or a rule, naming the field', () => {
    expect(schema.safeParse(testRunRequest).success).toBe(true);
    const issues = (change: Record<string, unknown>) => schema.safeParse({ ...testRunRequest, ...change }).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({ vusPerRegion: MAX_VUS_PER_REGION + 1 })).toEqual(['vusPerRegion']);
    expect(issues({ quorum: 4 })).toEqual(['quorum']);
    expect(issues({ regions: ['us-east-1', 'mars-1'] })).toEqual(['regions.1']);
    expect(issues({ regions: ['us-east-1', 'us-east-1'] })).toEqual(['regions']);
    expect(issues({ target: 'ftp://127.0.0.1/' })).toEqual(['target']);
    expect(issues({ script: { ...loadScript, scenarios: { submit: 0, read: 0, follow: 0 } } })).toEqual(['script.scenarios']);
    expect(issues({ script: { ...loadScript, extra: 1 } })).toEqual(['script']);
  });

  it('gives a region one container per 200 virtual users', () => {
    expect([1, 200, 201, 1000].map(containersFor)).toEqual([1, 1, 2, 5]);
  });

  it('is decided into testrun.requested with the quorum and the containers filled in', () => {
    given([])
      .when({ kind: 'request', runId: RUN_ID, request: { ...testRunRequest, vusPerRegion: 350 } }, at(0))
      .then([{ type: 'testrun.requested', data: { runId: RUN_ID, quorum: 3, containersPerRegion: 2, regions: [...REGIONS] } }]);
  });

  it('gets a deadline past its buffer, its script and the slack when it names none', () => {
    const { deadline: _deadline, ...open } = testRunRequest;
    given([])
      .when({ kind: 'request', runId: RUN_ID, request: open }, at(0))
      .then([{ type: 'testrun.requested', data: { deadline: new Date(RUN_AT + 3_000 + loadScript.durationSeconds * 1_000 + DEFAULT_DEADLINE_SLACK_MS).toISOString() } }]);
  });

  it('is refused when the deadline leaves no time for the buffer and the script, or the run exists', () => {
    const tooSoon = { ...testRunRequest, deadline: new Date(RUN_AT + 7_000).toISOString() };
    given([]).when({ kind: 'request', runId: RUN_ID, request: tooSoon }, at(0)).thenThrows(refused('invalid'));
    given(run()).when({ kind: 'request', runId: RUN_ID, request: testRunRequest }, at(0)).thenThrows(refused('exists'));
  });
});

describe('the start barrier', () => {
  it('records a ready region and waits while others are missing', () => {
    given(run()).when({ kind: 'report-ready', region: 'us-east-1', task: 't1' }, at(1_000)).then([{ type: 'testrun.region_ready', data: { region: 'us-east-1', task: 't1' } }]);
  });

  it('opens with the ready that completes the set: startAt is now plus the buffer, for every ready region', () => {
    const { decided } = given(run(ready('us-east-1'), ready('us-west-2')))
      .when({ kind: 'report-ready', region: 'eu-west-1', task: 't3' }, at(5_000))
      .then([{ type: 'testrun.region_ready' }, { type: 'testrun.start_scheduled', data: { startAt: new Date(RUN_AT + 5_000 + 3_000).toISOString(), regions: [...REGIONS] } }]);
    expect(decided).toHaveLength(2);
  });

  it('decides nothing for a repeated ready, and never a second start', () => {
    given(run(ready('us-east-1'))).when({ kind: 'report-ready', region: 'us-east-1', task: 'task-us-east-1' }, at(2_000)).then([]);
    given(run(...allReady, scheduled())).when({ kind: 'report-ready', region: 'us-west-2', task: 'task-us-west-2' }, at(9_000)).then([]);
    // A replacement container of a scheduled run is recorded, and opens nothing.
    given(run(...allReady, scheduled())).when({ kind: 'report-ready', region: 'us-west-2', task: 'new' }, at(9_000)).then([{ type: 'testrun.region_ready' }]);
  });

  it('opens at the quorum, leaving the regions not ready out', () => {
    const history = [storedRun('testrun.requested', { ...requestedRunData, quorum: 2 }, 1), storedRun('testrun.region_ready', { region: 'eu-west-1', task: 'a' }, 2)];
    given(history)
      .when({ kind: 'report-ready', region: 'us-east-1', task: 'b' }, at(4_000))
      .then([{ type: 'testrun.region_ready' }, { type: 'testrun.start_scheduled', data: { regions: ['us-east-1', 'eu-west-1'] } }]);
  });

  it('waits for every container of a region', () => {
    const history = [storedRun('testrun.requested', { ...requestedRunData, regions: ['us-east-1'], quorum: 1, containersPerRegion: 2 }, 1)];
    given(history).when({ kind: 'report-ready', region: 'us-east-1', task: 'a' }, at(1_000)).then([{ type: 'testrun.region_ready' }]);
    given([...history, storedRun('testrun.region_ready', { region: 'us-east-1', task: 'a' }, 2)])
      .when({ kind: 'report-ready', region: 'us-east-1', task: 'b' }, at(1_000))
      .then([{ type: 'testrun.region_ready' }, { type: 'testrun.start_scheduled' }]);
  });

  it('refuses a region outside the run and a run that does not exist', () => {
    given(run()).when({ kind: 'report-ready', region: 'ap-south-1', task: 't' }, at(0)).thenThrows(refused('unknown-region'));
    given([]).when({ kind: 'report-ready', region: 'us-east-1', task: 't' }, at(0)).thenThrows(refused('not-found'));
  });

  it('of two deciders that read the same version, both decide to open it: the append at that version lets one win', () => {
    // The decider alone cannot stop the race; the conditional append does (tested against the store).
    const history = run(ready('us-east-1'));
    const a = decideTestRun(foldTestRun(history), { kind: 'report-ready', region: 'us-west-2', task: 'a' }, at(1_000));
    const b = decideTestRun(foldTestRun(history), { kind: 'report-ready', region: 'eu-west-1', task: 'b' }, at(1_000));
    expect([a.map((e) => e.type), b.map((e) => e.type)]).toEqual([['testrun.region_ready'], ['testrun.region_ready']]);
  });
});

describe('completion and teardown', () => {
  const started = run(...allReady, scheduled());

  it('records each region summary once, and none before the start', () => {
    given(started).when({ kind: 'report-completed', region: 'us-east-1', task: 'x', summary: summary() }, at(30_000)).then([{ type: 'testrun.region_completed' }]);
    given(run(...allReady, scheduled(), completed('us-east-1'))).when({ kind: 'report-completed', region: 'us-east-1', task: 'task-us-east-1', summary: summary() }, at(31_000)).then([]);
    given(run(ready('us-east-1'))).when({ kind: 'report-completed', region: 'us-east-1', task: 'x', summary: summary() }, at(2_000)).then([]);
  });

  it('tears a region down once it completed, and a region the barrier left out at once', () => {
    expect(regionsToTearDown(foldTestRun(run(...allReady, scheduled(), completed('us-west-2'))))).toEqual(['us-west-2']);
    expect(regionsToTearDown(foldTestRun(run(ready('us-east-1'), ready('us-west-2'), scheduled(['us-east-1', 'us-west-2']))))).toEqual(['eu-west-1']);
    expect(regionsToTearDown(foldTestRun(run(...allReady, scheduled(), completed('us-west-2'), tornDown('us-west-2'))))).toEqual([]);
  });

  it('completes with the merged verdict when the last region is torn down', () => {
    const history = run(...allReady, scheduled(), ...REGIONS.map((r) => completed(r, r !== 'eu-west-1')), tornDown('us-east-1'), tornDown('us-west-2'));
    const { decided } = given(history).when({ kind: 'observe-torn-down', region: 'eu-west-1' }, at(60_000)).then([{ type: 'testrun.region_torn_down' }, { type: 'testrun.completed', data: { verdict: 'failed' } }]);
    const result = decided[1]?.data as { regions: Record<string, { passed: boolean; p95Ms: number }> };
    expect(Object.fromEntries(Object.entries(result.regions).map(([r, v]) => [r, [v.passed, v.p95Ms]]))).toEqual({ 'us-east-1': [true, 40], 'us-west-2': [true, 40], 'eu-west-1': [false, 900] });
    expect(foldTestRun(history).status).toBe('SCHEDULED');
  });

  it('a torn-down region decides nothing again, and a finished run is finished', () => {
    const done = run(...allReady, scheduled(), ...REGIONS.map((r) => completed(r)), ...REGIONS.map(tornDown), ['testrun.completed', { verdict: 'passed', regions: {} }]);
    given(done).when({ kind: 'observe-torn-down', region: 'us-east-1' }, at(70_000)).then([]);
    expect(isTestRunFinished(foldTestRun(done))).toBe(true);
    expect(foldTestRun(done).status).toBe('COMPLETED');
  });
});

describe('the deadline and cancel', () => {
  it('aborts at the deadline, naming the regions it still waited for', () => {
    given(run(ready('us-east-1'))).when({ kind: 'tick' }, at(119_999)).then([]);
    given(run(ready('us-east-1')))
      .when({ kind: 'tick' }, at(120_000))
      .then([{ type: 'testrun.aborted', data: { reason: `deadline ${testRunRequest.deadline} passed: regions not ready: us-west-2, eu-west-1` } }]);
  });

  it('tears every region down once aborted or cancelled, and ends only once', () => {
    const aborted = foldTestRun(run(ready('us-east-1'), ['testrun.aborted', { reason: 'deadline passed' }]));
    expect(regionsToTearDown(aborted)).toEqual([...REGIONS]);
    expect(isTestRunFinished(aborted)).toBe(false);
    given(run(['testrun.cancelled', {}])).when({ kind: 'cancel' }, at(1_000)).then([]);
    given(run(['testrun.cancelled', {}])).when({ kind: 'tick' }, at(500_000)).then([]);
    given(run()).when({ kind: 'cancel' }, at(1_000)).then([{ type: 'testrun.cancelled' }]);
  });

  it('keeps the first ending: a late abort does not undo a completion', () => {
    const state = foldTestRun(run(['testrun.completed', { verdict: 'passed', regions: {} }], ['testrun.aborted', { reason: 'late' }]));
    expect([state.status, state.reason]).toEqual(['COMPLETED', undefined]);
  });
});

describe('mergeRegion', () => {
  it('sums the counts, keeps the worst p95 and the earliest first request', () => {
    const merged = mergeRegion([
      summary({ requests: 10, failed: 1, p95Ms: 30, firstRequestAt: '2026-11-22T10:00:02.000Z' }),
      summary({ requests: 30, failed: 0, p95Ms: 80, firstRequestAt: '2026-11-22T10:00:01.500Z', passed: false }),
    ]);
    expect(merged).toEqual({ containers: 2, requests: 40, failed: 1, failedRate: 1 / 40, dropped: 0, p95Ms: 80, firstRequestAt: '2026-11-22T10:00:01.500Z', passed: false });
  });
});
