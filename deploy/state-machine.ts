/**
 * The deploy state machine (Amazon States Language), rendered into the CloudFormation template.
 *
 * build -> Map(regions, MaxConcurrency 10) replicate -> any region failed? -> Map(regions) sync
 * -> finish. Every worker step is an `sqs:sendMessage.waitForTaskToken` task with a timeout, and
 * Retry (exponential backoff) and Catch sit on those task states (MiniStack ignores Retry/Catch on
 * Map states, so none is put there). A failed iteration is caught into `{ region, failed: true }`
 * so the Map itself always completes and `States.ArrayContains` decides whether to go on. Success
 * and failure paths both end by sending `deploy.finished` to the orchestrator's queue, which
 * appends the terminal event.
 *
 * Execution input (built by the orchestrator): { buildId, stream, correlationId, repo, env,
 * version, branch, commit, hostsPerRegion, artifact?, regions: [{ region, syncQueueUrl }] }. The
 * region-to-URL map lives with the orchestrator, so a region's sync queue is fed only by that
 * region's Map iteration.
 */

/** `${Name}` placeholders in the definition, substituted by CloudFormation (Fn::Sub). */
export const DEFINITION_SUBSTITUTIONS = ['BuildQueueUrl', 'ReplicationQueueUrl', 'OrchestratorQueueUrl'] as const;

export const TASK_TIMEOUT_SECONDS = { build: 300, replicate: 300, sync: 900 } as const;

/**
 * A task whose worker sends no SendTaskHeartbeat for this long times out (States.Timeout, retried
 * with a fresh token): a task whose message was lost, or whose workers are all gone, fails in
 * minutes instead of waiting out TimeoutSeconds. Workers beat every 20 s while they work
 * (packages/platform/src/task-worker.ts). The clock also runs while the message waits in its
 * queue, so this leaves room for a backlog; task workers take one message at a time.
 */
export const TASK_HEARTBEAT_SECONDS = { build: 120, replicate: 120, sync: 300 } as const;

const retryOnTimeout = [{ ErrorEquals: ['States.Timeout'], IntervalSeconds: 2, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' }];

const taskMessage = {
  'taskToken.$': '$$.Task.Token',
  'input.$': '$',
};

function waitForWorker(queueUrl: string, timeoutSeconds: number, heartbeatSeconds: number, next: { onSuccess: string; onFailure: string; resultPath: string }) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
    Parameters: { [queueUrl.startsWith('$.') ? 'QueueUrl.$' : 'QueueUrl']: queueUrl, MessageBody: taskMessage },
    TimeoutSeconds: timeoutSeconds,
    HeartbeatSeconds: heartbeatSeconds,
    ResultPath: next.resultPath,
    Retry: retryOnTimeout,
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: next.onFailure }],
    Next: next.onSuccess,
  };
}

/** One Map iteration: the worker task, then a `{ region, failed }` summary either way. */
function perRegion(name: string, queueUrl: string, timeoutSeconds: number, heartbeatSeconds: number) {
  return {
    StartAt: name,
    States: {
      [name]: waitForWorker(queueUrl, timeoutSeconds, heartbeatSeconds, { onSuccess: `${name}Done`, onFailure: `${name}Failed`, resultPath: '$.result' }),
      [`${name}Done`]: { Type: 'Pass', Parameters: { 'region.$': '$.region', failed: false }, End: true },
      [`${name}Failed`]: {
        Type: 'Pass',
        Parameters: { 'region.$': '$.region', failed: true, 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' },
        End: true,
      },
    },
  };
}

const regionItem = {
  'region.$': '$$.Map.Item.Value.region',
  'syncQueueUrl.$': '$$.Map.Item.Value.syncQueueUrl',
  'buildId.$': '$.buildId',
  'stream.$': '$.stream',
  'correlationId.$': '$.correlationId',
  'hostsPerRegion.$': '$.hostsPerRegion',
  'artifact.$': '$.artifact',
};

function finish(outcome: 'succeeded' | 'failed', stage: string, extra: Record<string, string>, next: string) {
  return {
    Type: 'Task',
    Resource: 'arn:aws:states:::sqs:sendMessage',
    Parameters: {
      QueueUrl: '${OrchestratorQueueUrl}',
      MessageBody: {
        type: 'deploy.finished',
        outcome,
        stage,
        'buildId.$': '$.buildId',
        'stream.$': '$.stream',
        'correlationId.$': '$.correlationId',
        'executionArn.$': '$$.Execution.Id',
        ...extra,
      },
    },
    ResultPath: null,
    Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 5, BackoffRate: 2, JitterStrategy: 'FULL' }],
    Next: next,
  };
}

/**
 * A Map over the build's regions running one worker task each, then a check: if any iteration
 * failed, `deploy.finished{failed}` names the stage and its results; else on to `onSuccess`.
 */
function regionStage(stage: { name: string; task: string; queueUrl: string; timeoutSeconds: number; heartbeatSeconds: number; result: 'replication' | 'sync'; onSuccess: string }) {
  const { name, result } = stage;
  return {
    [name]: {
      Type: 'Map',
      ItemsPath: '$.regions',
      MaxConcurrency: 10,
      ItemSelector: regionItem,
      ItemProcessor: perRegion(stage.task, stage.queueUrl, stage.timeoutSeconds, stage.heartbeatSeconds),
      ResultPath: `$.${result}`,
      Next: `Check${name}`,
    },
    [`Check${name}`]: {
      Type: 'Pass',
      Parameters: { 'anyFailed.$': `States.ArrayContains($.${result}[*].failed, true)` },
      ResultPath: `$.${result}Check`,
      Next: `${name}Outcome`,
    },
    [`${name}Outcome`]: {
      Type: 'Choice',
      Choices: [{ Variable: `$.${result}Check.anyFailed`, BooleanEquals: true, Next: `${name}Failed` }],
      Default: stage.onSuccess,
    },
    [`${name}Failed`]: finish('failed', result, { 'results.$': `$.${result}` }, 'Failed'),
  };
}

export function deployStateMachineDefinition() {
  return {
    Comment: 'Flotilla deploy: build, replicate to every region, sync every region, finish (rendered by deploy/render.ts)',
    StartAt: 'Build',
    States: {
      Build: waitForWorker('${BuildQueueUrl}', TASK_TIMEOUT_SECONDS.build, TASK_HEARTBEAT_SECONDS.build, { onSuccess: 'Replicate', onFailure: 'BuildFailed', resultPath: '$.artifact' }),
      BuildFailed: finish('failed', 'build', { 'error.$': '$.failure.Error', 'cause.$': '$.failure.Cause' }, 'Failed'),
      ...regionStage({ name: 'Replicate', task: 'ReplicateRegion', queueUrl: '${ReplicationQueueUrl}', timeoutSeconds: TASK_TIMEOUT_SECONDS.replicate, heartbeatSeconds: TASK_HEARTBEAT_SECONDS.replicate, result: 'replication', onSuccess: 'Sync' }),
      ...regionStage({ name: 'Sync', task: 'SyncRegion', queueUrl: '$.syncQueueUrl', timeoutSeconds: TASK_TIMEOUT_SECONDS.sync, heartbeatSeconds: TASK_HEARTBEAT_SECONDS.sync, result: 'sync', onSuccess: 'Succeeded' }),
      Succeeded: finish('succeeded', 'finish', { 'results.$': '$.sync' }, 'Done'),
      Done: { Type: 'Succeed' },
      Failed: { Type: 'Fail', Error: 'DeployFailed', Cause: 'a step failed; see deploy.finished and the build log' },
    },
  };
}
