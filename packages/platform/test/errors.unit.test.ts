/**
 * isRetryable against the error shapes the AWS SDK's HTTP layer (@smithy/node-http-handler 4.x)
 * and Node's net/dns actually produce: a network fault is worth another try, never a dead letter.
 */
import { describe, expect, it } from 'vitest';
import { isRetryable } from '../src/errors.ts';

/** An Error as node-http-handler or Node builds it: a message, then name/code/syscall assigned. */
const nodeError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

describe('isRetryable: network and timeout failures are transient', () => {
  it('retries the SDK TimeoutErrors, which carry no code (socket inactivity, connection set-up)', () => {
    expect(isRetryable(nodeError('@smithy/node-http-handler - the request socket timed out after 3000 ms of inactivity (configured by client requestHandler).', { name: 'TimeoutError' }))).toBe(true);
    expect(isRetryable(nodeError('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 1000 ms.', { name: 'TimeoutError' }))).toBe(true);
    expect(isRetryable(nodeError('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 5000 ms requestTimeout.', { name: 'TimeoutError', code: 'ETIMEDOUT' }))).toBe(true);
  });

  it('retries DNS failures (a resolver outage is not a bad request)', () => {
    expect(isRetryable(nodeError('getaddrinfo ENOTFOUND sqs.us-east-1.amazonaws.com', { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: 'sqs.us-east-1.amazonaws.com' }))).toBe(true);
    expect(isRetryable(nodeError('getaddrinfo EAI_AGAIN dynamodb.us-east-1.amazonaws.com', { code: 'EAI_AGAIN', errno: -3001, syscall: 'getaddrinfo' }))).toBe(true);
  });

  it('retries dropped and unreachable connections', () => {
    for (const code of ['ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT']) {
      expect(isRetryable(nodeError(`connect ${code} 10.0.0.1:443`, { code, syscall: 'connect' })), code).toBe(true);
    }
    // Node's "socket hang up": the server closed the socket before answering.
    expect(isRetryable(nodeError('socket hang up', { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(new Error('socket hang up'))).toBe(true);
  });

  it('retries the timeouts services answer themselves', () => {
    expect(isRetryable(nodeError('Your socket connection to the server was not read from or written to within the timeout period.', { name: 'RequestTimeout', $metadata: { httpStatusCode: 400 } }))).toBe(true);
    expect(isRetryable(nodeError('request timed out', { name: 'RequestTimeoutException', $metadata: { httpStatusCode: 408 } }))).toBe(true);
  });

  it('does not retry an abort (ours, at shutdown) or a bug', () => {
    expect(isRetryable(nodeError('Request aborted', { name: 'AbortError' }))).toBe(false);
    expect(isRetryable(new TypeError('Cannot read properties of undefined'))).toBe(false);
    expect(isRetryable(nodeError('One or more parameter values were invalid', { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }))).toBe(false);
  });
});
