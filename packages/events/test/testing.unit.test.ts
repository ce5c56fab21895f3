import { describe, expect, it } from 'vitest';
import { firstMismatch, FoldExpectationError, foldSpecification, given } from '../src/index.ts';
import { history } from './fixtures.ts';

describe('given/when/then', () => {
  it('returns the folded state when the expectation holds', () => {
    const state = given([history.requested()]).when(history.started()).then({ status: 'IN_PROGRESS' });
    expect(state.lastVersion).toBe(2);
  });

  it('throws a FoldExpectationError naming the first differing path', () => {
    let error: unknown;
    try {
      given([history.requested()]).then({ regions: { 'eu-west-1': { replicated: true } } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FoldExpectationError);
    expect((error as FoldExpectationError).path).toBe('regions.eu-west-1.replicated');
    expect((error as Error).message).toBe('regions.eu-west-1.replicated: expected true, got false');
  });

  it('compares arrays whole: a missing or extra element fails', () => {
    expect(firstMismatch({ list: [1, 2] }, { list: [1, 2] })).toBeUndefined();
    expect(firstMismatch({ list: [1, 2, 3] }, { list: [1, 2] })?.path).toBe('list');
    expect(firstMismatch({ list: [1, { a: 2 }] }, { list: [1, { a: 3 }] })?.path).toBe('list.1.a');
    expect(firstMismatch({ a: null }, { a: {} })?.path).toBe('a');
  });

  it('takes a function for assertions a shape cannot express', () => {
    expect(() =>
      given([history.requested()]).then((state) => {
        if (state.status !== 'IN_PROGRESS') throw new Error(`status ${state.status}`);
      }),
    ).toThrow('status PENDING');
  });

  it('works for any fold', () => {
    const counter = foldSpecification<number, number>({ evolve: (sum, n) => sum + n, initialState: 0 });
    expect(counter.given([1, 2]).when(3).then(6)).toBe(6);
    expect(() => counter.given([1]).then(2)).toThrow(FoldExpectationError);
  });
});
