import { describe, expect, it } from 'vitest';
import { executionArn, executionName, EXECUTION_NAME_PATTERN } from '../src/domain/execution.ts';

const ULID = '01JD0ZQ8X3V7K2M4N6P8R0T2W4';

describe('execution names', () => {
  it('joins repo, env and build id', () => {
    expect(executionName({ repo: 'payments-api', env: 'prod', buildId: ULID })).toBe(`payments-api-prod-${ULID}`);
  });

  it('stays within 80 characters for the longest repo and env intake accepts', () => {
    const name = executionName({ repo: 'r'.repeat(40), env: 'e'.repeat(12), buildId: ULID });
    expect(name).toHaveLength(80);
    expect(EXECUTION_NAME_PATTERN.test(name)).toBe(true);
  });

  it('accepts every character intake allows in repo, env and version', () => {
    expect(executionName({ repo: 'A.b_c-9', env: 'prod-2', buildId: ULID })).toContain('A.b_c-9');
  });

  it('refuses what Step Functions refuses, rather than failing at StartExecution', () => {
    for (const repo of ['a/b', 'a:b', 'a b', 'a#b', 'a%b', 'r'.repeat(41)]) {
      expect(() => executionName({ repo, env: 'e'.repeat(12), buildId: ULID }), repo).toThrow(RangeError);
    }
  });
});

describe('execution ARNs', () => {
  it('derives the execution ARN from the state machine ARN', () => {
    expect(executionArn('arn:aws:states:us-east-1:000000000000:stateMachine:flotilla-deploy', 'x-prod-1')).toBe(
      'arn:aws:states:us-east-1:000000000000:execution:flotilla-deploy:x-prod-1',
    );
  });

  it('rejects anything that is not a state machine ARN', () => {
    expect(() => executionArn('arn:aws:sqs:us-east-1:000000000000:q', 'x')).toThrow(RangeError);
  });
});
