/**
 * Idempotent effects keyed on the identity of what is handled (an event id, a hash of a task
 * token, an intake key), never on an SQS message id.
 *
 * `runOnce` follows the pattern of AWS Powertools' idempotency utility: a conditional put claims
 * the key IN_PROGRESS with a lease; the effect runs; the record becomes COMPLETED with its result.
 * A repeat returns the stored result without acting; a repeat while the first is still running
 * gets a retryable IdempotencyInProgressError carrying the time left on the holder's lease; a
 * claim whose lease expired (its holder crashed) can be taken over. The holder renews its lease
 * while the effect runs, and every write after the claim is fenced on its owner id. A failed
 * effect releases the key so a retry can act.
 * Powertools' utility itself is not used: it is built for Lambda handlers and its own persistence
 * layer, while this one shares the platform's DynamoDB client and error classes.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { FlotillaError } from './errors.ts';

/**
 * Another attempt holds the key's claim. Retryable, and deferrable: `deferMs` is what is left of
 * that attempt's lease, so a consumer can put the message off until the claim either completes or
 * expires instead of spending its receives on it (the holder may be a crashed worker, whose task
 * resumes once its lease runs out).
 */
export class IdempotencyInProgressError extends FlotillaError {
  readonly retryable = true;
  readonly deferMs: number;

  constructor(message: string, context: Record<string, unknown> & { deferMs?: number } = {}) {
    super(message, context);
    this.deferMs = Math.max(0, context.deferMs ?? 0);
  }
}

/**
 * This attempt's claim was taken over (its lease ran out before it renewed it, or before it
 * finished): its result is not stored, and the new holder's claim is left alone. Retryable: a later
 * delivery finds the new holder's result, or its claim.
 */
export class IdempotencyLeaseLostError extends FlotillaError {
  readonly retryable = true;
}

export interface RunOnceResult<T> {
  result: T;
  /** True when the effect had already run and `result` is the stored one. */
  duplicate: boolean;
}

export interface RunOnceOptions {
  /**
   * How long a claim is held without renewal before another attempt may take it over. The claim
   * is renewed every `renewEveryMs` while the effect runs, so it only runs out when its holder
   * stopped (crashed, or wedged without an event loop): keep it short, so a crashed holder's work
   * resumes soon.
   */
  leaseMs?: number;
  /** How often a running effect renews its lease (default: a third of the lease). */
  renewEveryMs?: number;
  /** How long a completed record is kept (DynamoDB TTL on `expiresAt`). */
  retainDays?: number;
  now?: () => number;
  /** Told when a renewal finds the claim taken over; the effect's signal is aborted too. */
  onLeaseLost?: () => void;
}

/** What a running effect is given: aborted when its claim was taken over, so it can stop early. */
export interface EffectContext {
  signal: AbortSignal;
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

  /** Readiness: the table answers (DescribeTable). */
  async ping(): Promise<void> {
    await this.#db.send(new DescribeTableCommand({ TableName: this.#table }));
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

  /**
   * Runs `effect` once for `key`. The claim names its owner (a random id per attempt), and every
   * later write of this attempt is conditional on still owning it (fencing): a holder that lost its
   * lease neither releases nor overwrites the claim of the attempt that took over.
   * Leases compare the holder's clock (which wrote `leaseUntil`) with the taker's; renewal at a
   * third of the lease leaves room for the skew of NTP-synchronised hosts.
   */
  async runOnce<T>(key: string, effect: (ctx: EffectContext) => Promise<T>, options: RunOnceOptions = {}): Promise<RunOnceResult<T>> {
    const { leaseMs = 30_000, retainDays = 7, now = Date.now } = options;
    const renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(leaseMs / 3));
    const owner = randomUUID();
    const at = now();
    const claimed = await this.#putIf(
      key,
      { status: { S: 'IN_PROGRESS' }, leaseUntil: { N: String(at + leaseMs) }, owner: { S: owner } },
      retainDays,
      'attribute_not_exists(pk) OR (#status = :inProgress AND leaseUntil < :now)',
      { ':inProgress': { S: 'IN_PROGRESS' }, ':now': { N: String(at) } },
    );
    if (!claimed) {
      const existing = await this.#read(key);
      const status = existing?.status?.S;
      if (status === 'COMPLETED') return { result: JSON.parse(existing?.result?.S ?? 'null') as T, duplicate: true };
      const leaseUntil = Number(existing?.leaseUntil?.N ?? at);
      throw new IdempotencyInProgressError(`effect for ${key} is already in progress`, { key, status, deferMs: leaseUntil - now() });
    }

    const lost = new AbortController();
    const ownedBy = { ':owner': { S: owner }, ':inProgress': { S: 'IN_PROGRESS' } };
    const ownedCondition = '#owner = :owner AND #status = :inProgress';
    // OWNER is a DynamoDB reserved word.
    const ownedNames = { '#status': 'status', '#owner': 'owner' };
    const renew = async () => {
      try {
        await this.#db.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: { pk: { S: key } },
            UpdateExpression: 'SET leaseUntil = :until',
            ConditionExpression: ownedCondition,
            ExpressionAttributeNames: ownedNames,
            ExpressionAttributeValues: { ...ownedBy, ':until': { N: String(now() + leaseMs) } },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) return; // transient: the next renewal tries again
        if (!lost.signal.aborted) {
          lost.abort(new IdempotencyLeaseLostError(`claim on ${key} was taken over`, { key }));
          options.onLeaseLost?.();
        }
      }
    };
    let renewing: Promise<void> = Promise.resolve();
    const renewal = setInterval(() => {
      renewing = renewing.then(renew);
    }, renewEveryMs);
    renewal.unref();

    let result: T;
    try {
      result = await effect({ signal: lost.signal });
    } catch (error) {
      clearInterval(renewal);
      await renewing;
      await this.#ifOwned(new DeleteItemCommand({ TableName: this.#table, Key: { pk: { S: key } }, ConditionExpression: ownedCondition, ExpressionAttributeNames: ownedNames, ExpressionAttributeValues: ownedBy }));
      throw error;
    }
    clearInterval(renewal);
    await renewing;
    const stored = await this.#ifOwned(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { pk: { S: key } },
        UpdateExpression: 'SET #status = :completed, #result = :result REMOVE leaseUntil',
        ConditionExpression: ownedCondition,
        ExpressionAttributeNames: { ...ownedNames, '#result': 'result' },
        ExpressionAttributeValues: { ...ownedBy, ':completed': { S: 'COMPLETED' }, ':result': { S: JSON.stringify(result ?? null) } },
      }),
    );
    if (!stored) throw new IdempotencyLeaseLostError(`claim on ${key} was taken over before its effect finished; its result is not stored`, { key });
    return { result, duplicate: false };
  }

  /** Sends a write conditional on this attempt still owning the claim; false when it does not. */
  async #ifOwned(command: DeleteItemCommand | UpdateItemCommand): Promise<boolean> {
    try {
      await this.#db.send(command);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
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
