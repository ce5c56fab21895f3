/**
 * Bad input at volume, the test command's smaller version of `pnpm fuzz` (load-tests/fuzz.ts):
 * schemathesis' negative cases and the hand-written ones over HTTP, broken intake messages
 * through SNS, and uploads with bad keys and metadata, against the real fleet. Nothing may crash
 * or answer 5xx, every bad message must be dead-lettered with its reason, and nothing invalid
 * may reach the log.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { testAwsClients } from '@flotilla/platform/testing';
import { printFigures, runFuzz } from '../../load-tests/fuzz.ts';

const aws = testAwsClients();
afterAll(() => aws.destroy());

describe('bad input through every door', () => {
  it('crashes nothing, answers no 5xx, dead-letters every bad message with its reason, appends nothing invalid', async () => {
    const lines: string[] = [];
    const figures = await runFuzz({ aws, httpExamples: 8, intake: 60, uploads: 24, seed: 8, progress: (line) => lines.push(line) });
    printFigures(figures, (line) => lines.push(line));
    console.log(lines.join('\n'));

    expect(figures.sent.schemathesis).toBeGreaterThan(50);
    expect(figures.serverErrors).toEqual([]);
    expect(figures.crashed).toEqual([]);
    expect(figures.intakeDeadLettered).toBe(60);
    expect(figures.uploadsDeadLettered).toBe(24);
    expect(figures.withoutReason).toBe(0);
    expect(figures.invalidEvents).toEqual([]);
    expect(figures.builds.sns ?? 0).toBe(0);
    expect(figures.builds.s3 ?? 0).toBe(0);
    expect(figures.builds.http ?? 0).toBeLessThanOrEqual(figures.acceptedHttp);
    // The validators, not only the door, saw the requests: most answers are 4xx with a reason, not 401.
    expect((figures.statuses['400'] ?? 0) + (figures.statuses['404'] ?? 0)).toBeGreaterThan(figures.statuses['401'] ?? 0);
  }, 300_000);
});
