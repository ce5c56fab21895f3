/**
 * The chaos and AWS outage runs (load-tests/chaos.ts), smaller than the README's `pnpm chaos`:
 * builds at a constant rate through vegeta while every service is SIGKILLed at least three times
 * (at least half at named fault points) and restarted; then the same with the services' AWS
 * endpoint behind a loopback proxy cut for 10 s, refused and silent. Each run prints its figures
 * and must show 0 lost builds, 0 duplicate events and effects, no DLQ message, 0 replay
 * differences, no crash, and (outage) /ready answering 503 during the cut.
 */
import { describe, it } from 'vitest';
import { REGIONS } from '@flotilla/platform';
import { testEnv } from '@flotilla/platform/testing';
import { SERVICES } from '../../scripts/fleet.ts';
import { DEFAULT_FAULTS, formatFigures, requirementFailures, runChaos, type ChaosOptions } from '../../load-tests/chaos.ts';
import type { CutMode } from '../../load-tests/outage-proxy.ts';

const small = (outage?: CutMode): ChaosOptions => ({
  endpoint: testEnv.AWS_ENDPOINT_URL,
  rate: 2,
  // The harness kills every 2 s, only while the fault points are ahead and never within 3 s of a
  // cut, so a service the fault points seldom hit still gets its 3 kills: an outage run has 12 s
  // of load before its 10 s cut and 12 s after (at 8 s either side one run gave a service only 2).
  durationS: outage ? 34 : 26,
  killEveryMs: 2_000,
  minKillsPerService: 3,
  outage,
  cutMs: 10_000,
  regions: REGIONS.slice(0, 2),
  hostsPerRegion: 5,
  settleMs: 120_000,
  faults: DEFAULT_FAULTS,
  faultsAfterMs: 0,
  vegeta: process.env.FLOTILLA_VEGETA,
  token: process.env.FLOTILLA_API_TOKEN,
  progress: (line) => console.log(line),
});

// One after the other: side by side (tried) the three fleets and the emulator starve two cores,
// and the runs measure the machine instead of the services.
describe('reliability runs', () => {
  it('chaos: loses, repeats and dead-letters nothing while every service is SIGKILLed and restarted', { timeout: 360_000 }, async ({ expect }) => {
    const figures = await runChaos(small());
    console.log(formatFigures(figures));
    // The run itself: load went through and the kills happened as required.
    expect(figures.submitted).toBeGreaterThan(0);
    for (const s of SERVICES) {
      const k = figures.kills[s.name];
      expect(k && k.fault + k.harness, `${s.name} kills`).toBeGreaterThanOrEqual(3);
    }
    // Then every requirement, named when it fails.
    expect(requirementFailures(figures)).toEqual([]);
  });

  it.for<CutMode>(['refused', 'silent'])('AWS outage (%s): backs off and resumes through a 10 s cut, with the same figures', { timeout: 360_000 }, async (mode, { expect }) => {
    const figures = await runChaos(small(mode));
    console.log(formatFigures(figures));
    expect(figures.submitted).toBeGreaterThan(0);
    // Builds that timed out during the cut may end FAILED, each with its reason.
    for (const b of figures.failed) expect(b.reason.length).toBeGreaterThan(0);
    // /ready (another helper's route) must report the outage on every service while it lasts.
    expect(figures.ready?.route).toBe(true);
    expect(requirementFailures(figures)).toEqual([]);
  });
});
