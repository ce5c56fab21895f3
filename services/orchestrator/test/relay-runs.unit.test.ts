/** The relay's batch split: one run per stream, each in the batch's order, so streams can proceed side by side. */
import { describe, expect, it } from 'vitest';
import type { StreamRecord } from '@flotilla/platform';
import { runsByStream } from '../src/handlers/relay.ts';

const record = (stream: string | undefined, seq: string, eventName: StreamRecord['eventName'] = 'INSERT'): StreamRecord => ({
  eventName,
  dynamodb: { SequenceNumber: seq, ...(stream ? { Keys: { stream: { S: stream }, version: { N: seq } } } : {}) },
});
const seqs = (runs: StreamRecord[][]) => runs.map((run) => run.map((r) => r.dynamodb?.SequenceNumber));

describe('runsByStream', () => {
  it("keeps each stream's records in the batch's order, streams in order of first appearance", () => {
    const batch = [record('build-a', '1'), record('build-b', '2'), record('build-a', '3'), record('build-c', '4'), record('build-b', '5')];
    expect(seqs(runsByStream(batch))).toEqual([['1', '3'], ['2', '5'], ['4']]);
  });

  it('drops what is not an insert, and gives a record without a stream key a run of its own', () => {
    const batch = [record('build-a', '1', 'MODIFY'), record(undefined, '2'), record(undefined, '3'), record('build-a', '4')];
    expect(seqs(runsByStream(batch))).toEqual([['2'], ['3'], ['4']]);
  });
});
