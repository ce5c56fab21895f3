import { describe, expect, it } from 'vitest';
import { buildStream, CANCELLED_REASON, foldBuild, newEvent, registry, type BuildEvent, type BuildEventType, type EventData } from '@flotilla/events';
import { actsOn, decideFailure, decideFinish, react, type DeployFinished, type ReactContext } from '../src/domain/decide.ts';

const BUILD_ID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';
const ctx: ReactContext = {
  stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:flotilla-deploy',
  syncQueueUrls: { 'us-east-1': 'https://sqs/us-east-1', 'eu-west-1': 'https://sqs/eu-west-1' },
  now: Date.parse('2026-11-22T10:00:00Z'),
};

let version = 0;
function at<T extends BuildEventType>(type: T, data: EventData<T>): BuildEvent {
  version++;
  return { ...newEvent({ type, data, correlationId: BUILD_ID, causationId: 'test', now: ctx.now + version }), stream: buildStream(BUILD_ID), version } as BuildEvent;
}
const requested = () => {
  version = 0;
  return at('build.requested', {
    buildId: BUILD_ID,
    repo: 'payments-api',
    env: 'prod',
    version: '1.0.0',
    branch: 'main',
    commit: 'abc1234',
    regions: ['us-east-1', 'eu-west-1'],
    hostsPerRegion: 10,
    source: { door: 'http', key: 'k' },
  });
};
const started = () => at('build.started', { executionArn: `arn:aws:states:us-east-1:000000000000:execution:flotilla-deploy:payments-api-prod-${BUILD_ID}` });

describe('react: what the orchestrator does on reading an event', () => {
  it('appends build.started at expected version 1 on build.requested, with the computed execution ARN', () => {
    const req = requested();
    const [reaction, ...rest] = react(req, foldBuild([req]), ctx);
    expect(rest).toEqual([]);
    expect(reaction).toMatchObject({ kind: 'append', expectedVersion: 1 });
    if (reaction?.kind !== 'append') throw new Error('expected an append');
    expect(reaction.events[0]).toMatchObject({
      type: 'build.started',
      data: { executionArn: `arn:aws:states:us-east-1:000000000000:execution:flotilla-deploy:payments-api-prod-${BUILD_ID}` },
      causationId: req.id,
    });
  });

  it('does nothing on a re-read build.requested once the stream has moved on', () => {
    const req = requested();
    expect(react(req, foldBuild([req, started()]), ctx)).toEqual([]);
  });

  it('starts the execution on build.started, feeding each region its own sync queue', () => {
    const history = [requested(), started()];
    const reactions = react(history[1] as BuildEvent, foldBuild(history), ctx);
    expect(reactions.map((r) => r.kind)).toEqual(['track-in-flight', 'start-execution']);
    const start = reactions[1];
    if (start?.kind !== 'start-execution') throw new Error('expected start-execution');
    expect(start.name).toBe(`payments-api-prod-${BUILD_ID}`);
    expect(start.input.regions).toEqual([
      { region: 'us-east-1', syncQueueUrl: 'https://sqs/us-east-1' },
      { region: 'eu-west-1', syncQueueUrl: 'https://sqs/eu-west-1' },
    ]);
  });

  it('does not start an execution for a build that already ended', () => {
    const history = [requested(), started(), at('build.failed', { reason: 'x', failedRegions: [] })];
    expect(react(history[1] as BuildEvent, foldBuild(history), ctx)).toEqual([]);
  });

  it('raises one alert naming each failed region on build.failed, and stops the execution (review M2)', () => {
    const history = [requested(), started(), at('build.failed', { reason: 'replication failed in eu-west-1', failedRegions: [{ region: 'eu-west-1', reason: 'copy failed' }] })];
    const reactions = react(history[2] as BuildEvent, foldBuild(history), ctx);
    expect(reactions.map((r) => r.kind)).toEqual(['untrack', 'stop-execution', 'publish-alert']);
    expect(reactions[1]).toMatchObject({ kind: 'stop-execution', cause: `build ${BUILD_ID} failed: replication failed in eu-west-1` });
    const alert = reactions[2];
    if (alert?.kind !== 'publish-alert') throw new Error('expected an alert');
    expect(alert.alert.failedRegions).toEqual([{ region: 'eu-west-1', reason: 'copy failed' }]);
    expect(alert.alert.text).toContain('eu-west-1 (copy failed)');
  });

  it('stops the execution of a cancelled build and raises no alert', () => {
    const history = [requested(), started(), at('build.failed', { reason: CANCELLED_REASON, failedRegions: [] })];
    expect(react(history[2] as BuildEvent, foldBuild(history), ctx)).toEqual([
      { kind: 'untrack', buildId: BUILD_ID },
      { kind: 'stop-execution', executionArn: (history[1] as BuildEvent & { data: { executionArn: string } }).data.executionArn, cause: `build ${BUILD_ID} cancelled` },
    ]);
  });

  it('has no execution to stop for a build cancelled before it started, and never starts one', () => {
    const history = [requested(), at('build.failed', { reason: CANCELLED_REASON, failedRegions: [] })];
    expect(react(history[1] as BuildEvent, foldBuild(history), ctx)).toEqual([{ kind: 'untrack', buildId: BUILD_ID }]);
    expect(react(history[0] as BuildEvent, foldBuild(history), ctx)).toEqual([]);
  });

  it('ignores worker facts', () => {
    const history = [requested(), started(), at('region.synced', { region: 'us-east-1', hosts: 10, synced: 10, failed: 0, rounds: 3 })];
    expect(react(history[2] as BuildEvent, foldBuild(history), ctx)).toEqual([]);
  });

  it('acts on only the types actsOn names, so the relay reads no state for the rest (issue 9)', () => {
    expect(Object.keys(registry).filter((type) => actsOn(type as BuildEventType))).toEqual(['build.requested', 'build.started', 'build.succeeded', 'build.failed']);
    // Every other fact, in every state a build passes through, has no reaction.
    const facts = [
      at('artifact.published', { bucket: 'b', key: 'k', sha256: 'a'.repeat(64), sizeBytes: 1, prebuilt: false }),
      at('region.replicated', { region: 'us-east-1', bucket: 'b', key: 'k', sha256: 'a'.repeat(64), attempts: 1 }),
      at('region.replication_failed', { region: 'eu-west-1', reason: 'r', attempts: 3 }),
      at('region.synced', { region: 'us-east-1', hosts: 10, synced: 10, failed: 0, rounds: 3 }),
      at('region.sync_failed', { region: 'eu-west-1', hosts: 10, synced: 5, failed: 5, minHealthyPercent: 100, reason: 'r' }),
    ];
    const states = [[requested()], [requested(), started()], [requested(), started(), at('build.succeeded', {})]].map((h) => foldBuild(h));
    for (const fact of facts) {
      expect(actsOn(fact.type)).toBe(false);
      for (const state of states) expect(react(fact, state, ctx)).toEqual([]);
    }
  });
});

describe('decideFinish: the terminal event for deploy.finished', () => {
  const message = (overrides: Partial<DeployFinished>): DeployFinished => ({
    buildId: BUILD_ID,
    stream: buildStream(BUILD_ID),
    correlationId: BUILD_ID,
    executionArn: 'arn:exec',
    outcome: 'succeeded',
    stage: 'finish',
    ...overrides,
  });

  it('appends build.succeeded for a successful execution', () => {
    const history = [requested(), started()];
    expect(decideFinish(message({}), foldBuild(history), history, 'arn:exec', ctx.now).map((e) => e.type)).toEqual(['build.succeeded']);
  });

  it('names each failed region and its reason, from the log first', () => {
    const history = [requested(), started(), at('region.replication_failed', { region: 'eu-west-1', reason: 'injected copy failure', attempts: 1 })];
    const [failed] = decideFinish(
      message({ outcome: 'failed', stage: 'replication', results: [{ region: 'us-east-1', failed: false }, { region: 'eu-west-1', failed: true, cause: 'eu-west-1: injected' }] }),
      foldBuild(history),
      history,
      'arn:exec',
      ctx.now,
    );
    expect(failed).toMatchObject({ type: 'build.failed', data: { reason: 'replication failed in eu-west-1', failedRegions: [{ region: 'eu-west-1', reason: 'injected copy failure' }] } });
  });

  it('appends nothing when the build already ended (a redelivered message)', () => {
    const history = [requested(), started(), at('build.succeeded', {})];
    expect(decideFinish(message({}), foldBuild(history), history, 'arn:exec', ctx.now)).toEqual([]);
  });

  it('fails with the build step cause when the build step failed', () => {
    const history = [requested(), started()];
    const [failed] = decideFinish(message({ outcome: 'failed', stage: 'build', cause: 'digest mismatch' }), foldBuild(history), history, 'arn:exec', ctx.now);
    expect(failed).toMatchObject({ data: { reason: 'build failed: digest mismatch', failedRegions: [] } });
  });

  it('decideFailure fails an unfinished build once, and never an ended one', () => {
    const history = [requested(), started()];
    const meta = { correlationId: BUILD_ID, causationId: 'x', now: ctx.now };
    expect(decideFailure(foldBuild(history), history, 'execution TIMED_OUT', meta).map((e) => e.type)).toEqual(['build.failed']);
    const ended = [...history, at('build.failed', { reason: 'x', failedRegions: [] })];
    expect(decideFailure(foldBuild(ended), ended, 'again', meta)).toEqual([]);
  });
});
