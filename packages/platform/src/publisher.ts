/** Publishing to SNS topics, with string message attributes that subscriptions filter on. */
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';

export async function publish(sns: SNSClient, topicArn: string, message: unknown, attributes: Record<string, string | undefined> = {}): Promise<string> {
  const messageAttributes: Record<string, MessageAttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (value !== undefined) messageAttributes[key] = { DataType: 'String', StringValue: value };
  }
  const out = await sns.send(
    new PublishCommand({ TopicArn: topicArn, Message: typeof message === 'string' ? message : JSON.stringify(message), MessageAttributes: messageAttributes }),
  );
  return out.MessageId ?? '';
}
