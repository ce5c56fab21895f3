/**
 * Turns the stack's names (resources.ts) into the ARNs and URLs the APIs want. Names derive from
 * the prefix; ARNs also need the account, read once from STS, and queue URLs come from SQS.
 */
import { GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import type { AwsClients } from './aws.ts';
import { ConfigError } from './errors.ts';
import { dlqOf, REGIONS, resourceNames, type ResourceNames } from './resources.ts';

export interface Locator {
  names: ResourceNames;
  accountId: string;
  /** The ARN partition of the caller (aws, aws-cn, ...). */
  partition: string;
  topicArn(name: string): string;
  stateMachineArn(): string;
  /** URL of a queue by its physical name, cached after the first look-up. */
  queueUrl(name: string): Promise<string>;
  /** URLs of a queue and its dead-letter queue. */
  queuePair(name: string): Promise<{ queueUrl: string; dlqUrl: string }>;
  /**
   * The logical regions this stack has, in the order of deploy/regions.json: those whose sync
   * queue exists. A deploy may carry fewer than all (deployStack's `regions`); asking the stack,
   * once and then cached, keeps deploy/regions.json the only list. Throws when it has none.
   */
  regions(): Promise<readonly string[]>;
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
  let regions: Promise<readonly string[]> | undefined;
  const findRegions = async () => {
    const present = await Promise.all(
      REGIONS.map((region) =>
        queueUrl(names.syncQueue(region)).then(
          () => true,
          (error: unknown) => {
            if (error instanceof QueueDoesNotExist) return false;
            throw error;
          },
        ),
      ),
    );
    const found = REGIONS.filter((_, i) => present[i]);
    if (found.length === 0) throw new ConfigError(`stack ${prefix} has no region (no sync queue ${names.syncQueue('<region>')} exists): is it deployed?`, { prefix });
    return found;
  };
  return {
    names,
    accountId: Account,
    partition,
    topicArn: (name) => `arn:${partition}:sns:${region}:${Account}:${name}`,
    stateMachineArn: () => `arn:${partition}:states:${region}:${Account}:stateMachine:${names.stateMachine}`,
    queueUrl,
    queuePair: async (name) => ({ queueUrl: await queueUrl(name), dlqUrl: await queueUrl(dlqOf(name)) }),
    regions: () => {
      regions ??= findRegions();
      regions.catch(() => (regions = undefined));
      return regions;
    },
  };
}
