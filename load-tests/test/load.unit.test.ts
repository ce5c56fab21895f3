/**
 * The load engine's pure parts: how a run's per-request records become its summary (p95, failed,
 * dropped, first request, each threshold), vegeta's rate and first-request timing, the profiles,
 * and how `pnpm load` prints and judges a run.
 */
import { describe, expect, it } from 'vitest';
import { loadScriptSchema, loadSummarySchema, type LoadScript } from '@flotilla/events';
import { recordOf, summarize, type RequestRecord } from '../load.ts';
import { PROFILE_NAMES, PROFILES } from '../profiles.ts';
import { portBaseFor } from '../fleet-for.ts';
import { formatLoad, type LoadRunFigures } from '../run-load.ts';
import { firstRequestDelayMs, isLoopbackUrl, scheduledRequests, vegetaRate } from '../vegeta.ts';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const thresholds: LoadScript['thresholds'] = { p95Ms: 100, failedRate: 0.05, droppedIterations: 0 };
/** n requests sent 100 ms apart from `from`, each `latencyMs` long, answered `code`. */
const requests = (n: number, code: number, latencyMs: number, from = T0): RequestRecord[] => Array.from({ length: n }, (_, i) => ({ sentAt: from + i * 100, latencyMs, code }));

describe('summarize', () => {
  it('counts every request, takes p95 by nearest rank over all scenarios, and holds each threshold', () => {
    // 19 fast and 1 slow request: the 95th percentile of 20 is the 19th, still fast.
    const { summary, scenarios } = summarize(thresholds, {
      submit: { rate: 10, scheduled: 10, requests: requests(10, 202, 20) },
      read: { rate: 10, scheduled: 10, requests: [...requests(9, 200, 30, T0 - 50), { sentAt: T0 + 5_000, latencyMs: 900, code: 200 }] },
    });
    expect(loadSummarySchema.parse(summary)).toEqual(summary);
    expect(summary).toMatchObject({ requests: 20, failed: 0, failedRate: 0, dropped: 0, p95Ms: 30, statuses: { '202': 10, '200': 10 }, passed: true });
    expect(summary.firstRequestAt).toBe(new Date(T0 - 50).toISOString());
    expect(summary.thresholds.map((t) => [t.name, t.ok])).toEqual([
      ['p95Ms', true],
      ['failedRate', true],
      ['droppedIterations', true],
    ]);
    expect(scenarios.read).toMatchObject({ sent: 10, scheduled: 10, failed: 0, p95Ms: 900 });
    expect(scenarios.follow).toBeUndefined();
  });

  it('a request with no answer (0) or a status its scenario does not expect is failed', () => {
    const { summary, scenarios } = summarize(thresholds, {
      submit: { rate: 5, scheduled: 5, requests: [...requests(3, 202, 10), ...requests(1, 503, 10), ...requests(1, 0, 10_000)] },
      follow: { rate: 5, scheduled: 5, requests: [...requests(4, 200, 10), ...requests(1, 202, 10)] },
    });
    expect(summary).toMatchObject({ requests: 10, failed: 3, failedRate: 0.3, statuses: { '0': 1, '200': 4, '202': 4, '503': 1 }, passed: false });
    expect(summary.thresholds.find((t) => t.name === 'failedRate')).toEqual({ name: 'failedRate', limit: 0.05, actual: 0.3, ok: false });
    expect(scenarios.submit?.failed).toBe(2);
    expect(scenarios.follow?.failed).toBe(1);
  });

  it('dropped is what each schedule called for and vegeta never sent; p95 over the limit fails', () => {
    const { summary } = summarize(thresholds, {
      submit: { rate: 10, scheduled: 30, requests: requests(25, 202, 150) },
      read: { rate: 1, scheduled: 3, requests: requests(4, 200, 150) },
    });
    // A scenario that sent one more than scheduled (vegeta's last tick) does not make up for another's drops.
    expect(summary.dropped).toBe(5);
    expect(summary.thresholds.filter((t) => !t.ok).map((t) => t.name)).toEqual(['p95Ms', 'droppedIterations']);
    expect(summary.passed).toBe(false);
  });

  it('a run that sent nothing has no first request, and fails on what it dropped', () => {
    const { summary } = summarize(thresholds, { submit: { rate: 2, scheduled: 10, requests: [] } });
    expect(summary).toMatchObject({ requests: 0, failedRate: 0, p95Ms: 0, firstRequestAt: null, dropped: 10, passed: false });
  });
});

describe('vegeta', () => {
  it('reads a result line into a record: send time in ms from its RFC 3339 nanosecond timestamp, latency from ns', () => {
    expect(recordOf({ code: 202, timestamp: '2026-12-01T10:00:00.123456789Z', latency: 43_500_000, error: '', body: null })).toEqual({
      sentAt: Date.parse('2026-12-01T10:00:00.123Z'),
      latencyMs: 43.5,
      code: 202,
    });
  });

  it('writes whole rates per second and fractions as thousandths per 1000 s; refuses 0 (vegeta reads it as unlimited)', () => {
    expect(vegetaRate(20)).toBe('20/1s');
    expect(vegetaRate(0.5)).toBe('500/1000s');
    expect(vegetaRate(2.25)).toBe('2250/1000s');
    expect(() => vegetaRate(0)).toThrow(RangeError);
  });

  it('schedules rate x duration requests, the first one interval after the attack starts', () => {
    expect(scheduledRequests(5, 15)).toBe(75);
    expect(scheduledRequests(0.5, 5)).toBe(3);
    expect(firstRequestDelayMs(4)).toBe(250);
    expect(firstRequestDelayMs(0.5)).toBe(2_000);
  });

  it('knows loopback URLs', () => {
    expect(isLoopbackUrl('http://127.0.0.1:8080')).toBe(true);
    expect(isLoopbackUrl('http://localhost/x')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:80')).toBe(true);
    expect(isLoopbackUrl('http://10.0.0.2:8080')).toBe(false);
    expect(isLoopbackUrl('https://api.example.com')).toBe(false);
  });
});

describe('profiles', () => {
  it('every profile is a valid load script named after itself, and each is heavier than the one before', () => {
    for (const name of PROFILE_NAMES) expect(loadScriptSchema.parse(PROFILES[name]).name).toBe(name);
    const requestsOf = (s: LoadScript) => (s.scenarios.submit + s.scenarios.read + s.scenarios.follow) * s.durationSeconds;
    const sizes = PROFILE_NAMES.map((name) => requestsOf(PROFILES[name]));
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
  });
});

describe('pnpm load', () => {
  const figures = (over: Partial<LoadRunFigures['builds']>, passed: boolean): LoadRunFigures => {
    const { summary, scenarios } = summarize(thresholds, { submit: { rate: 10, scheduled: 10, requests: requests(10, 202, 20) } });
    const builds = { submitted: 10, succeeded: 9, failed: 1, notTerminal: 0, notTerminalIds: [], ...over };
    return { script: PROFILES.light, apiUrl: 'http://127.0.0.1:8080', summary, scenarios, loadSeconds: 1, builds, drainSeconds: 2.5, passed };
  };

  it('prints the counts, the drain time and each threshold', () => {
    const text = formatLoad(figures({}, true));
    expect(text).toContain('submitted 10, SUCCESS 9, FAILED 1, not terminal 0');
    expect(text).toContain('drain time:     2.5 s');
    expect(text).toMatch(/p95 latency \(ms\)\s+100\s+20\s+yes/);
    expect(text).toContain('verdict:        passed');
  });

  it('names builds that did not end in its verdict', () => {
    expect(formatLoad(figures({ succeeded: 8, notTerminal: 1, notTerminalIds: ['01ABC'] }, false))).toContain('verdict:        FAILED (1 build(s) not terminal)');
  });

  it('starts the fleet at the port base that puts the build service on the API URL port', () => {
    expect(portBaseFor('http://127.0.0.1:8080')).toBe(8080);
    expect(portBaseFor('http://127.0.0.1:18080/')).toBe(18080);
    expect(() => portBaseFor('http://127.0.0.1:80')).toThrow(/below 1024/);
  });
});
