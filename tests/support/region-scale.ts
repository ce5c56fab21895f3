/**
 * Measures one large build against a running fleet: region-sync's resident memory (from
 * /proc/<pid>/status, VmHWM being the kernel's own peak, so nothing between two samples is missed),
 * the host-counter lag (from each host record's `writtenAt` to the moment the counter row holds as
 * many hosts as had been written by then), and what the build view says at SUCCESS. Used by
 * tests/e2e/region-scale.test.ts and by `pnpm scale` (load-tests/scale.ts).
 */
import { readFileSync } from 'node:fs';
import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { countersKey, hostPartition, type AwsClients, type Locator } from '@flotilla/platform';
import { eventually, type SampleBuildRequest } from '@flotilla/platform/testing';

export interface RegionScaleOptions {
  aws: AwsClients;
  where: Locator;
  /** fetch() against the build API, with its token. */
  api: (path: string, init?: RequestInit) => Promise<Response>;
  regionSyncPid: number;
  request: SampleBuildRequest;
  /** How long the build may take to end (default 10 minutes). */
  timeoutMs?: number;
  /** Told, about every 10 s while the build runs, its status and the hosts counted so far. */
  onProgress?: (progress: { seconds: number; status: string; hostsCounted: number; hosts: number }) => void;
}

export interface RegionViewAtSuccess {
  region: string;
  percent: number;
  countersCatchingUp: boolean;
}

export interface RegionScaleResult {
  buildId: string;
  status: string;
  buildSeconds: number;
  hostRecords: number;
  idleRssMb: number;
  peakRssMb: number;
  rssAfterMb: number;
  lag: { p50Ms: number; p99Ms: number; maxMs: number; records: number };
  viewAtSuccess: RegionViewAtSuccess[];
  /** The lowest region percent once the counters caught up. */
  finalPercent: number;
  summary: Record<string, unknown>;
}

const mb = (kb: number) => Math.round(kb / 1024);

/** VmRSS and VmHWM of a process, in kB. */
export function memoryOf(pid: number): { rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** The value at quantile q (0..1) of ascending `sorted`, nearest rank. */
export const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;

/**
 * Lag of each record: the k-th record written (ascending `writtenAt`) is visible at the first
 * counter sample holding at least k hosts. Samples must be in time order with counts not falling.
 */
export function countLag(writtenAt: readonly number[], samples: ReadonlyArray<{ at: number; hosts: number }>): number[] {
  const written = [...writtenAt].sort((a, b) => a - b);
  const lags: number[] = [];
  let s = 0;
  for (let k = 1; k <= written.length; k++) {
    while (s < samples.length && (samples[s]?.hosts ?? 0) < k) s++;
    const sample = samples[s];
    if (!sample) break;
    lags.push(Math.max(0, sample.at - (written[k - 1] ?? sample.at)));
  }
  return lags.sort((a, b) => a - b);
}

async function hostsCounted(aws: AwsClients, where: Locator, buildId: string, region: string): Promise<number> {
  const key = countersKey(buildId, region);
  const out = await aws.dynamodb.send(new GetItemCommand({ TableName: where.names.tables.projections, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }));
  return Number(out.Item?.hosts?.N ?? 0);
}

async function writeTimes(aws: AwsClients, where: Locator, buildId: string, region: string): Promise<number[]> {
  const times: number[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const out = await aws.dynamodb.send(
      new QueryCommand({
        TableName: where.names.tables.hosts,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: hostPartition(buildId, region) } },
        ProjectionExpression: 'writtenAt',
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of out.Items ?? []) times.push(Number(item.writtenAt?.N ?? Number.NaN));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return times;
}

interface ProgressView {
  status: string;
  regions: Record<string, { progress?: { percent: number; countersCatchingUp?: boolean } }>;
}

export async function measureRegionScale(options: RegionScaleOptions): Promise<RegionScaleResult> {
  const { aws, where, api, regionSyncPid, request, timeoutMs = 600_000, onProgress } = options;
  const regions = request.regions;
  const expectedHosts = request.hostsPerRegion * regions.length;
  const idle = memoryOf(regionSyncPid);

  const started = Date.now();
  const res = await api('/builds', { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': `scale-${request.version}` }, body: JSON.stringify(request) });
  if (res.status !== 202) throw new Error(`POST /builds answered ${res.status}: ${await res.text()}`);
  const { buildId } = (await res.json()) as { buildId: string };

  // The counters, polled every 100 ms until every host is counted (or the build failed).
  const samples: Array<{ at: number; hosts: number }> = [];
  let counting = true;
  const counted = (async () => {
    while (counting) {
      const at = Date.now();
      try {
        const counts = await Promise.all(regions.map((r) => hostsCounted(aws, where, buildId, r)));
        const hosts = counts.reduce((a, b) => a + b, 0);
        // The read ended after `at`; the count was visible by the time it answered.
        samples.push({ at: Date.now(), hosts });
        if (hosts >= expectedHosts) return;
      } catch {
        // A read the busy emulator did not answer in time is a sample missed, not the end of the
        // run (the 5 x 100,000 run crashed on an unhandled timeout here); the next one counts.
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - at))));
    }
  })();

  let view: ProgressView;
  let toldAt = started;
  try {
    view = await eventually(
      async () => {
        const current = (await (await api(`/builds/${buildId}`)).json()) as ProgressView;
        if (onProgress && Date.now() - toldAt >= 10_000) {
          toldAt = Date.now();
          onProgress({ seconds: Math.round((toldAt - started) / 1000), status: current.status, hostsCounted: samples.at(-1)?.hosts ?? 0, hosts: expectedHosts });
        }
        return current.status === 'SUCCESS' || current.status === 'FAILED' ? current : undefined;
      },
      { timeoutMs, intervalMs: 250, description: `build ${buildId} to end` },
    );
  } catch (error) {
    counting = false;
    await counted;
    throw error;
  }
  const buildSeconds = (Date.now() - started) / 1000;
  const viewAtSuccess = regions.map((region) => ({
    region,
    percent: view.regions[region]?.progress?.percent ?? 0,
    countersCatchingUp: view.regions[region]?.progress?.countersCatchingUp === true,
  }));
  if (view.status === 'SUCCESS') {
    // The counters may trail the SUCCESS; give them two minutes (a deadline, not a wait: it ends as they do).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([counted, new Promise((resolve) => (timer = setTimeout(resolve, 120_000)))]);
    clearTimeout(timer);
  }
  counting = false;
  await counted;
  const finalView = (await (await api(`/builds/${buildId}`)).json()) as ProgressView;
  const finalPercent = Math.min(...regions.map((r) => finalView.regions[r]?.progress?.percent ?? 0));
  const peak = memoryOf(regionSyncPid);

  const written = (await Promise.all(regions.map((r) => writeTimes(aws, where, buildId, r)))).flat();
  const lags = countLag(written, samples);

  // Back near idle: memory a process gives back takes a collection or two; poll for it a while.
  let after = memoryOf(regionSyncPid);
  const settleUntil = Date.now() + 30_000;
  while (after.rssKb - idle.rssKb >= 64 * 1024 && Date.now() < settleUntil) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    after = memoryOf(regionSyncPid);
  }

  const result: RegionScaleResult = {
    buildId,
    status: view.status,
    buildSeconds,
    hostRecords: written.length,
    idleRssMb: mb(idle.rssKb),
    peakRssMb: mb(peak.hwmKb),
    rssAfterMb: mb(after.rssKb),
    lag: { p50Ms: quantile(lags, 0.5), p99Ms: quantile(lags, 0.99), maxMs: lags.at(-1) ?? Number.NaN, records: lags.length },
    viewAtSuccess,
    finalPercent,
    summary: {},
  };
  result.summary = {
    hosts: expectedHosts,
    regions: regions.length,
    status: result.status,
    buildSeconds: result.buildSeconds,
    regionSyncRssMb: { idle: result.idleRssMb, peak: result.peakRssMb, after: result.rssAfterMb },
    counterLagMs: result.lag,
    viewAtSuccess,
  };
  return result;
}
