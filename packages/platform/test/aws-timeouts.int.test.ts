/**
 * SDK clients time out against a silent endpoint (it accepts the connection and never answers),
 * with a retryable error, instead of waiting forever and wedging the consumer that made the call.
 * No emulator needed: a loopback TCP server plays the silent endpoint.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consume, createAwsClients, createLogger, isRetryable } from '@flotilla/platform';
import { eventually } from '@flotilla/platform/testing';

let server: Server;
let endpoint: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    // Read everything, answer nothing.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('no address');
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const clients = (requestMs: number) =>
  createAwsClients({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    timeouts: { connectMs: 500, requestMs },
    maxAttempts: 1,
  });

/** How long `call` took to fail, and with what. */
async function failure(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  const error = await call().then(
    () => new Error('the call answered'),
    (e: unknown) => e,
  );
  return { ms: Date.now() - started, error };
}

describe('SDK clients against a silent endpoint', () => {
  it('a DynamoDB call fails within its request timeout, with a retryable error', async () => {
    const aws = clients(400);
    try {
      const { ms, error } = await failure(() => aws.dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'k' } } })));
      expect((error as Error).name).toBe('TimeoutError');
      expect(isRetryable(error)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(350);
      expect(ms).toBeLessThan(3_000);
    } finally {
      aws.destroy();
    }
  }, 30_000);

  it('an SQS long poll waits past its 20 s wait only by the request timeout, then fails retryably', async () => {
    const aws = clients(400);
    try {
      // A 1 s long poll: the client allows the wait plus the request timeout, then gives up.
      const { ms, error } = await failure(() => aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: `${endpoint}/000000000000/q`, WaitTimeSeconds: 1 })));
      expect(isRetryable(error)).toBe(true);
      expect(ms).toBeLessThan(25_000);
    } finally {
      aws.destroy();
    }
  }, 40_000);

  it('a consumer whose receives get no answer is reported not alive, naming why', async () => {
    const aws = clients(400);
    const queueUrl = `${endpoint}/000000000000/q`;
    const c = consume({ name: 'silent', sqs: aws.sqs, queueUrl, dlqUrl: queueUrl, logger: createLogger('liveness-test', 'silent'), handle: () => Promise.resolve(), livenessMs: 300 });
    c.start();
    try {
      const why = await eventually(() => c.alive().then(() => undefined, (error: unknown) => (error as Error).message), { timeoutMs: 10_000, description: 'the consumer to be reported stuck' });
      expect(why).toMatch(/no receive completed for \d+ s/);
    } finally {
      await c.stop();
      aws.destroy();
    }
  });
});
