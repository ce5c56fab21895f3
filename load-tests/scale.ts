/**
 * `pnpm scale`: one large build on a stack and fleet of its own, measuring what
 * tests/e2e/region-scale.test.ts asserts (region-sync's idle, peak and after-build resident
 * memory, the host-counter lag p50/p99 from each record's write, the view at SUCCESS) at any size,
 * and every service's peak resident memory. Prints one JSON object; progress goes to stderr every 10 s.
 *
 *   pnpm scale                         # 1 region x 100,000 hosts
 *   pnpm scale --regions 5 --hosts 100000
 */
import { parseArgs } from 'node:util';
import { createAwsClients, locate, REGIONS } from '@flotilla/platform';
import { sampleBuildRequest, testEnv } from '@flotilla/platform/testing';
import { measureRegionScale, memoryOf } from '../tests/support/region-scale.ts';
import { apiFetch, startTestFleet } from '../tests/support/test-fleet.ts';

const { values } = parseArgs({
  options: {
    regions: { type: 'string', default: '1' },
    hosts: { type: 'string', default: '100000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`pnpm scale [--regions 1] [--hosts 100000]
One build of <regions> x <hosts> on a stack (with just those regions) and fleet of its own, against the
emulator at AWS_ENDPOINT_URL; prints region-sync's idle/peak/after RSS, the counter lag p50/p99,
the view at SUCCESS, and every service's peak RSS, as JSON (progress every 10 s on stderr).`);
  process.exit(0);
}
const regionCount = Number(values.regions);
const hosts = Number(values.hosts);
if (!Number.isInteger(regionCount) || regionCount < 1 || regionCount > REGIONS.length) throw new Error(`--regions must be 1..${REGIONS.length}`);
if (!Number.isInteger(hosts) || hosts < 1 || hosts > 100_000) throw new Error('--hosts must be 1..100000 (hostsPerRegion)');

// Longer than a service's timeouts: reading back 1,000,000 host records' write times from a
// saturated emulator once outlasted 10 s per Query and ended the run with no figures.
const aws = createAwsClients({
  region: testEnv.AWS_REGION,
  endpoint: testEnv.AWS_ENDPOINT_URL,
  credentials: { accessKeyId: testEnv.AWS_ACCESS_KEY_ID, secretAccessKey: testEnv.AWS_SECRET_ACCESS_KEY },
  timeouts: { connectMs: 5_000, requestMs: 60_000 },
});
const regions = REGIONS.slice(0, regionCount);
// The stack carries exactly the regions the build names (a test stack defaults to five).
const running = await startTestFleet(aws, 'scale', { regions });
try {
  const where = await locate(aws, running.stack.prefix);
  const pid = running.fleet.services.find((s) => s.name === 'region-sync')?.child.pid;
  if (pid === undefined) throw new Error('region-sync has no process');
  const result = await measureRegionScale({
    aws,
    where,
    api: (path, init) => apiFetch(`${running.fleet.url('build')}${path}`, init),
    regionSyncPid: pid,
    request: sampleBuildRequest({ regions, hostsPerRegion: hosts }),
    // A 10 x 100,000 build writes 1,000,000 host records: minutes on the emulator, not seconds.
    timeoutMs: 30 * 60_000,
    // Progress on stderr, so stdout stays the one JSON object.
    onProgress: ({ seconds, status, hostsCounted, hosts: all }) => console.error(`scale: ${seconds} s, ${status}, ${hostsCounted.toLocaleString('en')} of ${all.toLocaleString('en')} host records counted`),
  });
  const peakRssMb = Object.fromEntries(
    running.fleet.services.flatMap((s) => (s.child.pid === undefined ? [] : [[s.name, Math.round(memoryOf(s.child.pid).hwmKb / 1024)]])),
  );
  console.log(JSON.stringify({ ...result.summary, peakRssMbPerService: peakRssMb }, null, 2));
} finally {
  await running.stop();
  aws.destroy();
}
