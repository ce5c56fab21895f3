/**
 * Small keyed records in the project's (pk, sk) tables: in-flight builds, copy tracking, counters,
 * projections. Services name what they store; this module speaks DynamoDB.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

export type { TransactWriteItem } from '@aws-sdk/client-dynamodb';

export type Key = { pk: string; sk: string };

/** Only the key attributes: a whole record may be passed where its key is meant. */
const keyOf = (key: Key) => marshall({ pk: key.pk, sk: key.sk });

/** A stream record's image as a plain object. */
export const plainImage = (image: Record<string, unknown> | undefined): Plain | undefined => (image ? unmarshall(image as Record<string, AttributeValue>) : undefined);
export type Plain = Record<string, unknown>;

export class Records {
  readonly #db: DynamoDBClient;
  readonly table: string;

  constructor(db: DynamoDBClient, table: string) {
    this.#db = db;
    this.table = table;
  }

  async put(key: Key, value: Plain): Promise<void> {
    await this.#db.send(new PutItemCommand({ TableName: this.table, Item: marshall({ ...value, ...key }, { removeUndefinedValues: true }) }));
  }

  async get<T extends Plain>(key: Key): Promise<(T & Key) | undefined> {
    const out = await this.#db.send(new GetItemCommand({ TableName: this.table, Key: keyOf(key), ConsistentRead: true }));
    return out.Item ? (unmarshall(out.Item) as T & Key) : undefined;
  }

  async delete(key: Key): Promise<void> {
    await this.#db.send(new DeleteItemCommand({ TableName: this.table, Key: keyOf(key) }));
  }

  /** Every record under one partition key, in sort-key order. */
  async list<T extends Plain>(pk: string, skPrefix?: string): Promise<Array<T & Key>> {
    const items: Array<T & Key> = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: skPrefix ? 'pk = :pk AND begins_with(sk, :sk)' : 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': pk, ...(skPrefix ? { ':sk': skPrefix } : {}) }),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) items.push(unmarshall(item) as T & Key);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** SET the given fields and ADD the given increments in one update (creating the row if need be); returns the row as it is after it. */
  async update<T extends Plain>(key: Key, change: { set?: Plain; add?: Record<string, number> }): Promise<(T & Key) | undefined> {
    const expression = updateExpression(change);
    if (!expression) return undefined;
    const out = await this.#db.send(new UpdateItemCommand({ TableName: this.table, Key: keyOf(key), ...expression, ReturnValues: 'ALL_NEW' }));
    return out.Attributes ? (unmarshall(out.Attributes) as T & Key) : undefined;
  }

  /** The same update as a transaction item, to commit with other writes (a stream checkpoint). */
  updateInTransaction(key: Key, change: { set?: Plain; add?: Record<string, number> }): TransactWriteItem | undefined {
    const expression = updateExpression(change);
    return expression ? { Update: { TableName: this.table, Key: keyOf(key), ...expression } } : undefined;
  }

  /**
   * Puts the record for `owner` unless another owner holds it: a lease. Taking a lease it already
   * holds succeeds again (a retried request), so a claim is idempotent per owner.
   */
  async claim(key: Key, owner: string, value: Plain = {}): Promise<boolean> {
    return this.#conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...value, owner, ...key }, { removeUndefinedValues: true }),
        ConditionExpression: 'attribute_not_exists(pk) OR #owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: marshall({ ':owner': owner }),
      }),
    );
  }

  /** Deletes the record only while `owner` holds it: a late release never frees another owner's lease. */
  async release(key: Key, owner: string): Promise<boolean> {
    return this.#conditional(
      new DeleteItemCommand({
        TableName: this.table,
        Key: keyOf(key),
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: marshall({ ':owner': owner }),
      }),
    );
  }

  async #conditional(command: PutItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      // One overload per command class: the union is sent through the one it is.
      await (command instanceof PutItemCommand ? this.#db.send(command) : this.#db.send(command));
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Puts `value` only if the stored `version` is `expected` (or absent when 0): a typed conflict otherwise. */
  async putIfVersion(key: Key, value: Plain & { version: number }, expected: number): Promise<boolean> {
    return this.#conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...value, ...key }, { removeUndefinedValues: true }),
        ConditionExpression: expected === 0 ? 'attribute_not_exists(pk)' : '#v = :expected',
        ...(expected === 0 ? {} : { ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: marshall({ ':expected': expected }) }),
      }),
    );
  }
}

function updateExpression(change: { set?: Plain; add?: Record<string, number> }) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  const adds: string[] = [];
  let i = 0;
  for (const [field, value] of Object.entries(change.set ?? {})) {
    if (value === undefined) continue;
    names[`#f${i}`] = field;
    values[`:v${i}`] = value;
    sets.push(`#f${i} = :v${i}`);
    i++;
  }
  for (const [field, amount] of Object.entries(change.add ?? {})) {
    if (amount === 0) continue;
    names[`#f${i}`] = field;
    values[`:v${i}`] = amount;
    adds.push(`#f${i} :v${i}`);
    i++;
  }
  if (sets.length === 0 && adds.length === 0) return undefined;
  return {
    UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', adds.length ? `ADD ${adds.join(', ')}` : ''].filter(Boolean).join(' '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
  };
}
