/**
 * Recounts host counters from the host records, for when the host table's stream lost records (a
 * local emulator keeps tables across a restart but not stream records, so host records written
 * after the counter reader's last checkpoint would never be counted). Every build requested within
 * the window gets each region's counters set to the count of its records, one Query per build and
 * region. It runs before this service's sync workers start, and region-sync is the only writer of
 * host records, so no record is written meanwhile to be counted twice.
 */
import { allBuilds, countersKey, recountHosts, type AwsClients, type Logger, type Records, type ResourceNames } from '@flotilla/platform';

export interface RecountDeps {
  aws: AwsClients;
  names: ResourceNames;
  counters: Records;
  logger: Logger;
}

export async function recountRecentBuilds(deps: RecountDeps, windowMs: number, now = Date.now()): Promise<{ builds: number; regions: number }> {
  const since = new Date(now - windowMs);
  let builds = 0;
  let regions = 0;
  for await (const build of allBuilds(deps.aws.dynamodb, deps.names.tables.builds, { since })) {
    builds++;
    for (const region of build.regions) {
      const counts = await recountHosts(deps.aws.dynamodb, deps.names.tables.hosts, build.buildId, region);
      if (!counts) continue;
      // A put, not an ADD: the counts are absolute, and replace whatever the lost records left.
      await deps.counters.put(countersKey(build.buildId, region), { buildId: build.buildId, region, ...counts });
      regions++;
    }
  }
  deps.logger.warn({ since: since.toISOString(), builds, regions }, 'host counters recounted from the host records');
  return { builds, regions };
}
