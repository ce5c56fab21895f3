/**
 * Turns the stack's names (resources.ts) into the ARNs and URLs the APIs want. Names derive from
 * the prefix; ARNs also need the account, read once from STS, and queue URLs come from SQS.
 */
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsClients } from './aws.ts';
import { dlqOf, resourceNames, type ResourceNames } from './resources.ts';

export interface Locator {
  names: ResourceNames;
  accountId: string;
  topicArn(name: string): string;
  stateMachineArn(): string;
  /** URL of a queue by its physical name, cached after the first look-up. */
  queueUrl(name: string): Promise<string>;
  /** URLs of a queue and its dead-letter queue. */
  queuePair(name: string): Promise<{ queueUrl: string; dlqUrl: string }>;
}

export async function locate(clients: AwsClients, prefix: string): Promise<Locator> {
  const names = resourceNames(prefix);
  const { Account, Arn } = await clients.sts.send(new GetCallerIdentityCommand({}));
  if (!Account) throw new Error('STS GetCallerIdentity returned no account');
  const partition = Arn?.split(':')[1] ?? 'aws';
  const region = clients.settings.region;
  const urls = new Map<string, Promise<string>>();
  const queueUrl = (name: string) => {
    let url = urls.get(name);
    if (!url) {
      url = clients.sqs.send(new GetQueueUrlCommand({ QueueName: name })).then((out) => {
        if (!out.QueueUrl) throw new Error(`queue ${name} has no URL`);
        return out.QueueUrl;
      });
      url.catch(() => urls.delete(name));
      urls.set(name, url);
    }
    return url;
  };
  return {
    names,
    accountId: Account,
    topicArn: (name) => `arn:${partition}:sns:${region}:${Account}:${name}`,
    stateMachineArn: () => `arn:${partition}:states:${region}:${Account}:stateMachine:${names.stateMachine}`,
    queueUrl,
    queuePair: async (name) => ({ queueUrl: await queueUrl(name), dlqUrl: await queueUrl(dlqOf(name)) }),
  };
}
