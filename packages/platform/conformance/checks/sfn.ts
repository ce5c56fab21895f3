import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { readFile } from 'node:fs/promises';
import { CreateTableCommand, DeleteTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateTopicCommand, DeleteTopicCommand } from '@aws-sdk/client-sns';
import { DeleteMessageCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/aws.ts';
import { DEFAULT_TEMPLATE_PATH as TEMPLATE_PATH } from '../../src/stack.ts';
import { errorName, expectThat, gap, pollUntil, row, type NameFor, type Row } from '../rows.ts';
import { createQueue, deleteQueues, receive, type TestQueue } from './queues.ts';

const AREA = 'Step Functions';
const ROLE = 'arn:aws:iam::000000000000:role/conformance';

type State = Record<string, unknown>;
const machine = (states: Record<string, State>, startAt = Object.keys(states)[0] ?? '') => ({ StartAt: startAt, States: states });
const waitForToken = (queueUrl: string, extra: State = {}): State => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
  Parameters: { QueueUrl: queueUrl, MessageBody: { 'taskToken.$': '$$.Task.Token', 'input.$': '$' } },
  ...extra,
});

export async function sfnChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { sfn, sqs } = aws;
  const machines: string[] = [];
  const queues: TestQueue[] = [];
  const tables: string[] = [];
  const topics: string[] = [];
  const buckets: string[] = [];
  const create = async (label: string, definition: object) => {
    const out = await sfn.send(new CreateStateMachineCommand({ name: name(`sm-${label}`), definition: JSON.stringify(definition), roleArn: ROLE }));
    machines.push(out.stateMachineArn ?? '');
    return out.stateMachineArn ?? '';
  };
  const queue = async (label: string) => {
    const q = await createQueue(sqs, name(`q-${label}`));
    queues.push(q);
    return q;
  };
  const start = async (arn: string, input: unknown = {}, executionName?: string) =>
    (await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify(input), ...(executionName ? { name: executionName } : {}) }))).executionArn ?? '';
  const finished = (executionArn: string, timeoutMs = 15_000) =>
    pollUntil<DescribeExecutionCommandOutput>(
      async () => {
        const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        return out.status === 'RUNNING' ? undefined : out;
      },
      timeoutMs,
      'the execution to finish',
    );
  /** The next task message: its token and input. */
  const nextTask = async (q: TestQueue, timeoutMs = 10_000) =>
    pollUntil(
      async () => {
        const [m] = await receive(sqs, q.url, 1, { max: 1 });
        if (!m) return undefined;
        await sqs.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle }));
        return JSON.parse(m.Body ?? '{}') as { taskToken: string; input: Record<string, unknown> };
      },
      timeoutMs,
      'a task message',
    );

  try {
    return await Promise.all([
      row(AREA, 'Map with MaxConcurrency', async () => {
        const q = await queue('map');
        const arn = await create(
          'map',
          machine({
            Fan: {
              Type: 'Map',
              ItemsPath: '$.items',
              MaxConcurrency: 2,
              ItemSelector: { 'item.$': '$$.Map.Item.Value', 'label.$': '$.label' },
              ItemProcessor: machine({ Work: waitForToken(q.url, { End: true }) }),
              End: true,
            },
          }),
        );
        const execution = await start(arn, { items: [1, 2, 3, 4, 5, 6], label: 'x' });
        let maxOutstanding = 0;
        let answered = 0;
        while (answered < 6) {
          // Everything deliverable now is what the Map has started: at most MaxConcurrency.
          const first = await nextTask(q);
          const batch = [first];
          for (const m of await receive(sqs, q.url, 1)) {
            await sqs.send(new DeleteMessageCommand({ QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle }));
            batch.push(JSON.parse(m.Body ?? '{}') as typeof first);
          }
          maxOutstanding = Math.max(maxOutstanding, batch.length);
          for (const task of batch) await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: JSON.stringify({ done: task.input.item, label: task.input.label }) }));
          answered += batch.length;
        }
        const out = await finished(execution);
        const output = JSON.parse(out.output ?? '[]') as Array<{ done: number; label: string }>;
        expectThat(out.status === 'SUCCEEDED' && output.map((o) => o.done).join() === '1,2,3,4,5,6', `status ${out.status}, output ${out.output}`);
        expectThat(output.every((o) => o.label === 'x'), 'ItemSelector did not pass the outer input');
        expectThat(maxOutstanding === 2, `at most ${maxOutstanding} iterations were waiting at once`);
        return '6 items with MaxConcurrency 2: never more than 2 tasks outstanding; outputs in item order; ItemSelector with $$.Map.Item.Value works';
      }),
      row(AREA, 'Retry with backoff and Catch on a task state', async () => {
        const q = await queue('retry');
        const arn = await create(
          'retry',
          machine({
            Work: waitForToken(q.url, {
              Retry: [{ ErrorEquals: ['Flaky'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 }],
              Catch: [{ ErrorEquals: ['Fatal'], ResultPath: '$.caught', Next: 'Caught' }],
              End: true,
            }),
            Caught: { Type: 'Pass', End: true },
          }),
        );
        const execution = await start(arn, { n: 1 });
        for (const error of ['Flaky', 'Flaky', 'Fatal']) {
          const task = await nextTask(q);
          await sfn.send(new SendTaskFailureCommand({ taskToken: task.taskToken, error, cause: `${error} on purpose` }));
        }
        const out = await finished(execution);
        const caught = (JSON.parse(out.output ?? '{}') as { caught?: { Error?: string } }).caught;
        expectThat(out.status === 'SUCCEEDED' && caught?.Error === 'Fatal', `status ${out.status}, output ${out.output}`);
        return "'Flaky' retried twice (a new task message each time, after the backoff interval), then 'Fatal' caught into $.caught";
      }),
      row(AREA, 'Choice', async () => {
        const arn = await create(
          'choice',
          machine({
            Decide: { Type: 'Choice', Choices: [{ Variable: '$.anyFailed', BooleanEquals: true, Next: 'Bad' }], Default: 'Good' },
            Bad: { Type: 'Pass', Result: 'bad', End: true },
            Good: { Type: 'Pass', Result: 'good', End: true },
          }),
        );
        const outputs = await Promise.all([true, false].map(async (anyFailed) => (await finished(await start(arn, { anyFailed }))).output));
        expectThat(JSON.stringify(outputs) === JSON.stringify(['"bad"', '"good"']), `outputs ${JSON.stringify(outputs)}`);
        return 'BooleanEquals routes true and false to their branches';
      }),
      row(AREA, 'States.ArrayContains over a Map result', async () => {
        const arn = await create(
          'contains',
          machine({ Check: { Type: 'Pass', Parameters: { 'anyFailed.$': 'States.ArrayContains($.results[*].failed, true)' }, End: true } }),
        );
        const outputs = await Promise.all(
          [[{ failed: false }, { failed: true }], [{ failed: false }]].map(async (results) => (await finished(await start(arn, { results }))).output),
        );
        const flags = outputs.map((o) => (JSON.parse(o ?? '{}') as { anyFailed?: unknown }).anyFailed);
        expectThat(flags[0] === true && flags[1] === false, `outputs ${JSON.stringify(outputs)}`);
        return 'true when one item failed, false when none did (the deploy machine decides with it)';
      }),
      row(AREA, 'sqs:sendMessage.waitForTaskToken answered by SendTaskSuccess and SendTaskFailure', async () => {
        const q = await queue('token');
        const arn = await create('token', machine({ Work: waitForToken(q.url, { End: true }) }));
        const ok = await start(arn, { n: 1 });
        const okTask = await nextTask(q);
        await sfn.send(new SendTaskSuccessCommand({ taskToken: okTask.taskToken, output: JSON.stringify({ sha256: 'abc' }) }));
        const bad = await start(arn, { n: 2 });
        const badTask = await nextTask(q);
        await sfn.send(new SendTaskFailureCommand({ taskToken: badTask.taskToken, error: 'CopyFailed', cause: 'digest mismatch' }));
        const [okOut, badOut] = await Promise.all([finished(ok), finished(bad)]);
        expectThat(okOut.status === 'SUCCEEDED' && (JSON.parse(okOut.output ?? '{}') as { sha256?: string }).sha256 === 'abc', `success path ${okOut.status} ${okOut.output}`);
        expectThat(badOut.status === 'FAILED' && badOut.error === 'CopyFailed' && badOut.cause === 'digest mismatch', `failure path ${badOut.status} ${badOut.error} ${badOut.cause}`);
        expectThat(okTask.input.n === 1, 'the task message did not carry the state input');
        return 'the message carries the token and input; success output becomes the state output; a failure fails the execution with its error and cause';
      }),
      row(AREA, 'TimeoutSeconds on a task-token state', async () => {
        const q = await queue('timeout');
        const arn = await create('timeout', machine({ Work: waitForToken(q.url, { TimeoutSeconds: 1, End: true }) }));
        const out = await finished(await start(arn), 20_000);
        expectThat(out.status === 'FAILED' && out.error === 'States.Timeout', `${out.status} ${out.error}`);
        return 'an unanswered token fails the execution with States.Timeout after TimeoutSeconds';
      }),
      row(AREA, 'answering an already-answered token', async () => {
        const q = await queue('twice');
        const arn = await create('twice', machine({ Work: waitForToken(q.url, { End: true }) }));
        const execution = await start(arn);
        const task = await nextTask(q);
        await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' }));
        await finished(execution);
        const again = await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' })));
        expectThat(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken'].includes(again), `answered ${again}`);
        return `a second SendTaskSuccess answers ${again}; workers treat TaskDoesNotExist, TaskTimedOut and InvalidToken as already done`;
      }),
      gap(AREA, 'StartExecution with a name used twice always answers ExecutionAlreadyExists', 'treat ExecutionAlreadyExists as already started (the orchestrator does)', async () => {
        const arn = await create('twicename', machine({ Done: { Type: 'Pass', End: true } }));
        const execution = name('exec');
        await start(arn, { same: true }, execution);
        const again = await errorName(start(arn, { same: true }, execution));
        expectThat(again === 'ExecutionAlreadyExists', `a repeat with the same input answered ${again}`);
        return 'even with the same input (AWS would return the running execution), the repeat answers ExecutionAlreadyExists';
      }),
      gap(
        AREA,
        'Retry and Catch on Parallel and Map states are ignored',
        'put Retry and Catch on the task states inside the Map and catch each iteration into a result (deploy/state-machine.ts); proven here and by the task-state row',
        async () => {
          const failing = machine({ Boom: { Type: 'Fail', Error: 'Boom', Cause: 'iteration failed' } });
          // A Retry with a 1 s interval would keep the execution running for at least that long.
          const retry = [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 1, MaxAttempts: 2 }];
          const catchAll = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.caught', Next: 'Caught' }];
          const caught = { Type: 'Pass', End: true };
          const [mapArn, parallelArn, innerArn] = await Promise.all([
            create('mapcatch', machine({ Fan: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: failing, Retry: retry, Catch: catchAll, End: true }, Caught: caught })),
            create('parcatch', machine({ Both: { Type: 'Parallel', Branches: [failing], Retry: retry, Catch: catchAll, End: true }, Caught: caught })),
            create(
              'innercatch',
              machine({
                Fan: {
                  Type: 'Map',
                  ItemsPath: '$.items',
                  ItemProcessor: machine({
                    // An optimized integration that fails: a send to a queue that does not exist.
                    Send: {
                      Type: 'Task',
                      Resource: 'arn:aws:states:::sqs:sendMessage',
                      Parameters: { QueueUrl: `${aws.settings.endpoint ?? ''}/000000000000/${name('missing')}`, MessageBody: 'x' },
                      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }],
                      End: true,
                    },
                    Failed: { Type: 'Pass', End: true },
                  }),
                  End: true,
                },
              }),
            ),
          ]);
          const [map, parallel, inner] = await Promise.all([mapArn, parallelArn, innerArn].map(async (arn) => finished(await start(arn, { items: [1, 2] }))));
          // The emulator's own start and stop times, so client polling and load do not count.
          const ran = (out: DescribeExecutionCommandOutput | undefined) => (out?.stopDate?.getTime() ?? Infinity) - (out?.startDate?.getTime() ?? 0);
          expectThat(map?.status === 'FAILED' && map.error === 'Boom', `Map: ${map?.status} ${map?.error} ${map?.output}: the gap is gone`);
          expectThat(parallel?.status === 'FAILED' && parallel.error === 'Boom', `Parallel: ${parallel?.status} ${parallel?.error} ${parallel?.output}: the gap is gone`);
          expectThat(ran(map) < 1_000 && ran(parallel) < 1_000, `the Map ran ${ran(map)} ms, the Parallel ${ran(parallel)} ms: a Retry may have run`);
          const iterations = JSON.parse(inner?.output ?? '[]') as Array<{ error?: { Error?: string } }>;
          expectThat(inner?.status === 'SUCCEEDED' && iterations.length === 2 && iterations.every((i) => i.error?.Error), `workaround: ${inner?.status} ${inner?.output}`);
          return `a failing iteration or branch fails the execution (${map?.error}) at once, without the Retry (1 s interval) or the Catch (States.ALL) declared on the Map or Parallel state; a Catch on the task inside the Map turns each failure (${iterations[0]?.error?.Error}) into an iteration result and the execution succeeds`;
        },
      ),
      gap(AREA, 'DynamoDB errors lack the "DynamoDB." prefix', 'match both names in ErrorEquals', async () => {
        const table = name('ddb');
        await aws.dynamodb.send(
          new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] }),
        );
        tables.push(table);
        await aws.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'taken' } } }));
        const arn = await create(
          'ddb',
          machine({
            Put: {
              Type: 'Task',
              Resource: 'arn:aws:states:::dynamodb:putItem',
              Parameters: { TableName: table, Item: { pk: { S: 'taken' } }, ConditionExpression: 'attribute_not_exists(pk)' },
              Catch: [{ ErrorEquals: ['DynamoDB.ConditionalCheckFailedException', 'ConditionalCheckFailedException'], ResultPath: '$.error', Next: 'Caught' }],
              End: true,
            },
            Caught: { Type: 'Pass', End: true },
          }),
        );
        const out = await finished(await start(arn));
        const error = (JSON.parse(out.output ?? '{}') as { error?: { Error?: string } }).error?.Error;
        expectThat(out.status === 'SUCCEEDED' && error === 'ConditionalCheckFailedException', `status ${out.status}, caught ${error}`);
        return `the failed condition surfaces as ${error}, caught by an ErrorEquals naming both forms`;
      }),
      gap(
        AREA,
        'aws-sdk:* task outputs of XML (query and REST-XML) services are not in AWS\'s shape',
        'depend on no aws-sdk:* output: the deploy machine uses only optimized integrations (sqs:sendMessage, .waitForTaskToken), asserted here on deploy/cloudformation/flotilla.json',
        async () => {
          const topic = (await aws.sns.send(new CreateTopicCommand({ Name: name('sdk-topic') }))).TopicArn ?? '';
          topics.push(topic);
          const bucket = name('sdk-bucket');
          await aws.s3.send(new CreateBucketCommand({ Bucket: bucket }));
          buckets.push(bucket);
          await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'artifacts/a.zip', Body: 'zip' }));
          const table = name('sdk-table');
          await aws.dynamodb.send(
            new CreateTableCommand({ TableName: table, BillingMode: 'PAY_PER_REQUEST', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }] }),
          );
          tables.push(table);
          await aws.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'k' }, note: { S: 'v' } } }));
          const sdkTask = (action: string, parameters: object) => machine({ Call: { Type: 'Task', Resource: `arn:aws:states:::aws-sdk:${action}`, Parameters: parameters, End: true } });
          const outputs = await Promise.all(
            [
              create('sdk-ddb', sdkTask('dynamodb:getItem', { TableName: table, Key: { pk: { S: 'k' } } })),
              create('sdk-sns', sdkTask('sns:getTopicAttributes', { TopicArn: topic })),
              create('sdk-s3', sdkTask('s3:listObjectsV2', { Bucket: bucket })),
            ].map(async (arn) => {
              const out = await finished(await start(await arn));
              expectThat(out.status === 'SUCCEEDED', `${out.status} ${out.error} ${out.cause}`);
              return JSON.parse(out.output ?? '{}') as Record<string, unknown>;
            }),
          );
          const [item, topicAttributes, listing] = outputs as [{ Item?: { note?: unknown } }, { Attributes?: unknown }, { KeyCount?: unknown; Contents?: Array<{ Size?: unknown }> }];
          expectThat(JSON.stringify(item.Item?.note) === '{"S":"v"}', `dynamodb:getItem ${JSON.stringify(item)}`);
          // AWS answers Attributes as a map and KeyCount and Size as numbers.
          const attributesAsList = Array.isArray(topicAttributes.Attributes);
          const numbersAsStrings = typeof listing.KeyCount === 'string' && typeof listing.Contents?.[0]?.Size === 'string';
          expectThat(attributesAsList || numbersAsStrings, `sns:getTopicAttributes and s3:listObjectsV2 answered in AWS's shape: the gap is gone (${JSON.stringify(outputs).slice(0, 300)})`);
          const template = await readFile(TEMPLATE_PATH, 'utf8');
          expectThat(!template.includes(':::aws-sdk:'), 'the deploy template now uses an aws-sdk:* task: check its output against this row');
          return [
            'dynamodb:getItem (JSON protocol) answers in AWS\'s shape',
            attributesAsList ? 'sns:getTopicAttributes answers Attributes as a [{Key,Value}] list, not a map' : 'sns:getTopicAttributes answers Attributes as a map',
            numbersAsStrings ? 's3:listObjectsV2 answers KeyCount and Size as strings, not numbers' : 's3:listObjectsV2 answers numbers as numbers',
            'the deploy template has no aws-sdk:* task',
          ].join('; ');
        },
      ),
    ]);
  } finally {
    await Promise.allSettled(machines.map((arn) => sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }))));
    await deleteQueues(sqs, queues);
    await Promise.allSettled(tables.map((t) => aws.dynamodb.send(new DeleteTableCommand({ TableName: t }))));
    await Promise.allSettled(topics.map((t) => aws.sns.send(new DeleteTopicCommand({ TopicArn: t }))));
    for (const b of buckets) {
      const listed = await aws.s3.send(new ListObjectsV2Command({ Bucket: b })).catch(() => undefined);
      await Promise.allSettled((listed?.Contents ?? []).map((o) => aws.s3.send(new DeleteObjectCommand({ Bucket: b, Key: o.Key }))));
      await aws.s3.send(new DeleteBucketCommand({ Bucket: b })).catch(() => undefined);
    }
  }
}
