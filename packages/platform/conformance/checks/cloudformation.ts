import { CreateStackCommand, DeleteStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../src/aws.ts';
import { deleteStack, deployStack } from '../../src/stack.ts';
import { expectThat, gap, pollUntil, row, uniqueName, type Row } from '../rows.ts';

const AREA = 'CloudFormation';

export async function cloudformationChecks(aws: AwsClients): Promise<Row[]> {
  const { cloudformation: cfn, sqs } = aws;
  return Promise.all([
    row(AREA, 'CreateStack of deploy/cloudformation/flotilla.json, outputs readable', async () => {
      const prefix = `conf${Math.random().toString(36).slice(2, 8)}`;
      try {
        const outputs = await deployStack({ clients: aws, prefix, target: 'local', timeoutMs: 60_000 });
        expectThat(outputs.StateMachineArn?.includes(`:stateMachine:${prefix}-deploy`), `outputs ${JSON.stringify(outputs).slice(0, 300)}`);
        expectThat(outputs.EventsTopicArn?.endsWith(`:${prefix}-events`), 'EventsTopicArn missing');
        return `CREATE_COMPLETE with ${Object.keys(outputs).length} outputs (Target=local)`;
      } finally {
        await deleteStack({ clients: aws, prefix }).catch(() => undefined);
      }
    }),
    gap(AREA, 'an SQS RedrivePolicy is dropped', 'after a local deploy, deployStack applies each queue\'s RedrivePolicy with SetQueueAttributes', async () => {
      const name = uniqueName('redrive');
      const template = {
        Resources: {
          Dlq: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `${name}-dlq` } },
          Queue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: name, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 } } },
        },
      };
      await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: JSON.stringify(template) }));
      try {
        await pollUntil(
          async () => {
            const status = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0]?.StackStatus;
            return status === 'CREATE_COMPLETE' ? status : undefined;
          },
          30_000,
          'the stack',
        );
        const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
        const before = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
        expectThat(!before.Attributes?.RedrivePolicy, 'the stack kept its RedrivePolicy: the gap is gone, drop the workaround');
        const dlqUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${name}-dlq` }))).QueueUrl;
        const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }) } }));
        const after = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }));
        expectThat((JSON.parse(after.Attributes?.RedrivePolicy ?? '{}') as { deadLetterTargetArn?: string }).deadLetterTargetArn === dlqArn, 'SetQueueAttributes did not apply the policy');
        return 'the created queue has no RedrivePolicy; SetQueueAttributes applies it';
      } finally {
        await cfn.send(new DeleteStackCommand({ StackName: name })).catch(() => undefined);
      }
    }),
  ]);
}
