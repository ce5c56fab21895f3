/**
 * Idempotent effects keyed on the identity of what is handled (an event id, a hash of a task
 * token, an intake key), never on an SQS message id.
 *
 * `runOnce` follows the pattern of AWS Powertools' idempotency utility: a conditional put claims
 * the key IN_PROGRESS with a lease; the effect runs; the record becomes COMPLETED with its result.
 * A repeat returns the stored result without acting; a repeat while the first is still running
 * gets a retryable IdempotencyInProgressError; a claim whose lease expired (its holder crashed)
 * can be taken over. A failed effect releases the key so a retry can act.
 * Powertools' utility itself is not used: it is built for Lambda handlers and its own persistence
 * layer, while this one shares the platform's DynamoDB client and error classes.
 */
import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { FlotillaError } from './errors.ts';

export class IdempotencyInProgressError extends FlotillaError {
  readonly retryable = true;
}

export interface RunOnceResult<T> {
  result: T;
  /** True when the effect had already run and `result` is the stored one. */
  duplicate: boolean;
}

export interface RunOnceOptions {
  /** How long a claim is held before another attempt may take it over. */
  leaseMs?: number;
  /** How long a completed record is kept (DynamoDB TTL on `expiresAt`). */
  retainDays?: number;
  now?: () => number;
}

/** A short, fixed-length key for a long identity such as a task token. */
export function hashKey(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export class IdempotencyStore {
  readonly #db: DynamoDBClient;
  readonly #table: string;

  constructor(db: DynamoDBClient, tableName: string) {
    this.#db = db;
    this.#table = tableName;
  }

  async #read(key: string) {
    return (await this.#db.send(new GetItemCommand({ TableName: this.#table, Key: { pk: { S: key } }, ConsistentRead: true }))).Item;
  }

  /** A conditional put of a record under `key`; false when the condition does not hold. */
  async #putIf(key: string, fields: Record<string, AttributeValue>, retainDays: number, condition: string, values: Record<string, AttributeValue> = {}): Promise<boolean> {
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { pk: { S: key }, ...fields, expiresAt: { N: String(Math.floor(Date.now() / 1000) + retainDays * 86_400) } },
          ConditionExpression: condition,
          ExpressionAttributeNames: condition.includes('#status') ? { '#status': 'status' } : undefined,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async runOnce<T>(key: string, effect: () => Promise<T>, options: RunOnceOptions = {}): Promise<RunOnceResult<T>> {
    const { leaseMs = 60_000, retainDays = 7, now = Date.now } = options;
    const at = now();
    const claimed = await this.#putIf(
      key,
      { status: { S: 'IN_PROGRESS' }, leaseUntil: { N: String(at + leaseMs) } },
      retainDays,
      'attribute_not_exists(pk) OR (#status = :inProgress AND leaseUntil < :now)',
      { ':inProgress': { S: 'IN_PROGRESS' }, ':now': { N: String(at) } },
    );
    if (!claimed) {
      const existing = await this.#read(key);
      const status = existing?.status?.S;
      if (status === 'COMPLETED') return { result: JSON.parse(existing?.result?.S ?? 'null') as T, duplicate: true };
      throw new IdempotencyInProgressError(`effect for ${key} is already in progress`, { key, status });
    }
    let result: T;
    try {
      result = await effect();
    } catch (error) {
      await this.#db.send(new DeleteItemCommand({ TableName: this.#table, Key: { pk: { S: key } } }));
      throw error;
    }
    await this.#db.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: { S: key } },
        UpdateExpression: 'SET #status = :completed, #result = :result REMOVE leaseUntil',
        ExpressionAttributeNames: { '#status': 'status', '#result': 'result' },
        ExpressionAttributeValues: { ':completed': { S: 'COMPLETED' }, ':result': { S: JSON.stringify(result ?? null) } },
      }),
    );
    return { result, duplicate: false };
  }

  /**
   * Maps `key` to `value` once: the first caller's value wins and every later caller gets it back
   * (an intake key mapped to the build id it created). With a `fingerprint` (of the request the key
   * was sent with), a later caller learns whether its request is the one that made the mapping;
   * a mapping stored before fingerprints existed has none and counts as a match.
   */
  async mapOnce(key: string, value: string, options: { fingerprint?: string; retainDays?: number } = {}): Promise<MapOnceResult> {
    const { fingerprint, retainDays = 30 } = options;
    const fields: Record<string, AttributeValue> = { status: { S: 'MAPPED' }, value: { S: value }, ...(fingerprint ? { fingerprint: { S: fingerprint } } : {}) };
    if (await this.#putIf(key, fields, retainDays, 'attribute_not_exists(pk)')) return { value, existing: false, sameRequest: true };
    const stored = await this.#read(key);
    const storedValue = stored?.value?.S;
    if (storedValue === undefined) throw new IdempotencyInProgressError(`key ${key} is held by a running effect`, { key });
    const storedFingerprint = stored?.fingerprint?.S;
    return { value: storedValue, existing: true, sameRequest: storedFingerprint === undefined || fingerprint === undefined || storedFingerprint === fingerprint };
  }
}

export interface MapOnceResult {
  value: string;
  /** True when the key was mapped before this call. */
  existing: boolean;
  /** False only when both this call and the stored mapping carry fingerprints, and they differ. */
  sameRequest: boolean;
}
