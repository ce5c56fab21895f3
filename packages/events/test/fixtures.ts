/** Test fixtures: typed build events as the store returns them, versions assigned by the caller. */
import {
  buildStream,
  newEvent,
  serviceStream,
  testRunStream,
  type BuildEvent,
  type BuildEventType,
  type EventData,
  type LoadScript,
  type LoadSummary,
  type OnboardingEvent,
  type OnboardingEventType,
  type TestRunEvent,
  type TestRunEventType,
  type TestRunRequest,
} from '../src/index.ts';

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

export const RUN_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W5';
export const RUN_AT = Date.parse('2026-11-22T10:00:00Z');

/** A test run's event as the store returns it. */
export function storedRun<T extends TestRunEventType>(type: T, data: EventData<T>, version: number, at = RUN_AT + version * 1000): TestRunEvent {
  const pending = newEvent({ type, data, correlationId: RUN_ID, causationId: 'cause', now: at });
  return { ...pending, stream: testRunStream(RUN_ID), version } as TestRunEvent;
}

export const loadScript: LoadScript = {
  name: 'self-test',
  durationSeconds: 5,
  scenarios: { submit: 2, read: 2, follow: 1 },
  build: { regions: ['us-east-1'], hostsPerRegion: 2 },
  thresholds: { p95Ms: 500, failedRate: 0.01, droppedIterations: 0 },
};

const RUN_DEADLINE = new Date(RUN_AT + 120_000).toISOString();

export const testRunRequest: TestRunRequest = {
  script: loadScript,
  regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
  startBufferMs: 3_000,
  deadline: RUN_DEADLINE,
  vusPerRegion: 50,
  target: 'http://127.0.0.1:8080',
};

export const summary = (overrides: Partial<LoadSummary> = {}): LoadSummary => ({
  requests: 25,
  failed: 0,
  failedRate: 0,
  dropped: 0,
  p95Ms: 40,
  firstRequestAt: new Date(RUN_AT + 10_000).toISOString(),
  statuses: { '202': 10, '200': 15 },
  thresholds: [{ name: 'p95Ms', limit: 500, actual: 40, ok: true }],
  passed: true,
  ...overrides,
});

export const requestedRunData: EventData<'testrun.requested'> = { runId: RUN_ID, ...testRunRequest, deadline: RUN_DEADLINE, quorum: 3, containersPerRegion: 1 };

export const SERVICE_NAME = 'payments-api';
export const SERVICE_AT = Date.parse('2026-11-22T10:00:00Z');

/** A service creation's event as the store returns it. */
export function storedService<T extends OnboardingEventType>(type: T, data: EventData<T>, version: number, at = SERVICE_AT + version * 1000): OnboardingEvent {
  const pending = newEvent({ type, data, correlationId: SERVICE_NAME, causationId: 'cause', now: at });
  return { ...pending, stream: serviceStream(SERVICE_NAME), version } as OnboardingEvent;
}

export const serviceRequestedData: EventData<'service.requested'> = {
  name: SERVICE_NAME,
  team: 'payments',
  template: 'node-service',
  environments: ['dev', 'prod'],
  stepDeadlineMs: 600_000,
};

/** The pull request GitHub gave a step: numbers and shas told apart by the step. */
export function raisedPullRequest(step: 'infra' | 'app-config' | 'proxy-upstreams' | 'service-definition', number: number): EventData<'pull_request.raised'> {
  const repo = step === 'service-definition' ? 'service-definitions' : step;
  return { step, repo, number, nodeId: `PR_${repo}_${number}`, url: `https://github.test/flotilla-org/${repo}/pull/${number}`, ref: `onboard/${SERVICE_NAME}`, sha: String(number).repeat(40).slice(0, 40) };
}
