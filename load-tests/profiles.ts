/**
 * The load profiles `pnpm load --profile <name>` runs, sized for the machine this project is built
 * on (2 cores, the emulator on loopback, the whole fleet beside it): what each holds there is
 * measured in load-tests/README.md. Each is a load script (`loadScriptSchema`), checked when this
 * module loads, so a profile that the runners would refuse never ships.
 *
 * - self-test: the test-run feature's own script (a runner container in each region sends it at
 *   Flotilla's API): a few seconds, a few requests a second, so three regions at once stay light.
 * - light: what the test command runs (tests/e2e/load.test.ts), short.
 * - medium, heavy: by hand, the rates the pipeline drains as they come, and the most it holds.
 */
import { loadScriptSchema, type LoadScript } from '@flotilla/events';

export const PROFILE_NAMES = ['self-test', 'light', 'medium', 'heavy'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

const profiles: Record<ProfileName, LoadScript> = {
  'self-test': {
    name: 'self-test',
    durationSeconds: 5,
    scenarios: { submit: 2, read: 2, follow: 2 },
    build: { regions: ['us-east-1'], hostsPerRegion: 5 },
    thresholds: { p95Ms: 1_000, failedRate: 0, droppedIterations: 0 },
  },
  light: {
    name: 'light',
    durationSeconds: 15,
    scenarios: { submit: 5, read: 5, follow: 5 },
    build: { regions: ['us-east-1'], hostsPerRegion: 10 },
    thresholds: { p95Ms: 1_000, failedRate: 0, droppedIterations: 0 },
  },
  medium: {
    name: 'medium',
    durationSeconds: 60,
    scenarios: { submit: 10, read: 10, follow: 10 },
    build: { regions: ['us-east-1'], hostsPerRegion: 10 },
    thresholds: { p95Ms: 500, failedRate: 0, droppedIterations: 0 },
  },
  heavy: {
    name: 'heavy',
    durationSeconds: 60,
    scenarios: { submit: 16, read: 16, follow: 16 },
    build: { regions: ['us-east-1'], hostsPerRegion: 10 },
    thresholds: { p95Ms: 1_000, failedRate: 0.001, droppedIterations: 0 },
  },
};

export const PROFILES: Readonly<Record<ProfileName, LoadScript>> = Object.fromEntries(
  PROFILE_NAMES.map((name) => [name, loadScriptSchema.parse(profiles[name])]),
) as Record<ProfileName, LoadScript>;
