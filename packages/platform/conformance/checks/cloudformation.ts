import { CreateStackCommand, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/aws.ts';
import { deleteStack, deployStack } from '../../src/stack.ts';
import { expectThat, gap, pollUntil, row, type NameFor, type Row } from '../rows.ts';

const AREA = 'CloudFormation';

export async function cloudformationChecks(aws: AwsClients, name: NameFor): Promise<Row[]> {
  const { cloudformation: cfn, sqs } = aws;
  return Promise.all([
    row(AREA, 'CreateStack of deploy/cloudformation/flotilla.json, outputs readable', async () => {
      // The run's prefix comes from uniquePrefix and fits the template's Prefix pattern.
      const prefix = name('stack');
      try {
        const outputs = await deployStack({ clients: aws, prefix, target: 'local', timeoutMs: 60_000 });
        expectThat(outputs.StateMachineArn?.includes(`:stateMachine:${prefix}-deploy`), `outputs ${JSON.stringify(outputs).slice(0, 300)}`);
        expectThat(outputs.EventsTopicArn?.endsWith(`:${prefix}-events`), 'EventsTopicArn missing');
        // The number of outputs is left out on purpose: the docs table must not change with the template.
        return 'CREATE_COMPLETE (Target=local, polled with a deadline); Outputs readable, StateMachineArn and EventsTopicArn named after the Prefix';
      } finally {
        await deleteStack({ clients: aws, prefix }).catch(() => undefined);
      }
    }),
    gap(AREA, 'an SQS RedrivePolicy is dropped', 'after a local deploy, deployStack applies each queue\'s RedrivePolicy with SetQueueAttributes', async () => {
      const queueName = name('inline-redrive');
      const template = {
        Resources: {
          Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `${queueName}-dlq` } },
          Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: queueName, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 } } },
        },
      };
      await cfn.send(new CreateStackCommand({ StackName: queueName, TemplateBody: JSON.stringify(template) }));
      try {
        await pollUntil(
          async () => {
            const status = (await cfn.send(new DescribeStacksCommand({ StackName: queueName }))).Stacks?.[0]?.StackStatus;
            return status === 'CREATE_COMPLETE' ? status : undefined;
          },
          30_000,
          'the stack',
        );
        const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }))).QueueUrl;
        const before = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
        expectThat(!before.Attributes?.RedrivePolicy, 'the stack kept its RedrivePolicy: the gap is gone, drop the workaround');
        const dlqUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${queueName}-dlq` }))).QueueUrl;
        const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }) } }));
        const after = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
        expectThat((JSON.parse(after.Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string }).deadLetterTargetArn === dlqArn, 'SetQueueAttributes did not apply the policy');
        return 'the created queue has no RedrivePolicy; SetQueueAttributes applies it';
      } finally {
        await cfn.send(new DeleteStackCommand({ StackName: queueName })).catch(() => undefined);
      }
    }),
  ]);
}
