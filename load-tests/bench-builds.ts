/**
 * End-to-end build time for `pnpm bench` (bench.ts): the whole fleet (scripts/fleet.ts) on the
 * bench's stack, one build at a time through the HTTP API, timed from the POST to the terminal
 * status in the build view, with each service's peak resident memory sampled during the build.
 *
 * A build asks for regions of deploy/regions.json. A size that needs more regions than the file
 * names is not run, and says so; a small one (up to SUBSTITUTE_MAX_HOSTS hosts per region) is
 * measured at the regions that exist instead, labelled as such.
 */
import { readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { REGIONS } from '@flotilla/platform';
import { sampleBuildRequest } from '@flotilla/platform/testing';
import { startFleet, waitHealthy, type Fleet } from '../scripts/fleet.ts';

export interface BuildSpec {
  regions: number;
  hosts: number;
}

export interface BuildRow {
  /** The size asked for, e.g. "10 × 1,000". */
  asked: string;
  regions: number;
  hosts: number;
  status: 'SUCCESS' | 'FAILED' | 'not run' | 'error';
  seconds?: number;
  /** Host records written per second of the whole build (regions × hosts / seconds). */
  hostsPerSecond?: number;
  /** Why it was not run, failed, or stands in for another size. */
  reason?: string;
  /** Peak resident memory of each service during the build, MB. */
  peakRssMb?: Record<string, number>;
}

/** Larger sizes are not measured at fewer regions: minutes of work, and region-sync's memory, on a shared machine. */
export const SUBSTITUTE_MAX_HOSTS = 10_000;

/** Parses "1x1000,3x1000" into sizes. */
export function parseBuildSpecs(text: string): BuildSpec[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\d+)\s*[x×]\s*(\d+)$/.exec(part);
      const regions = Number(match?.[1]);
      const hosts = Number(match?.[2]);
      if (!match || !(regions >= 1) || !(hosts >= 1)) throw new Error(`--builds: "${part}" is not <regions>x<hosts>, e.g. 3x1000`);
      return { regions, hosts };
    });
}

const thousands = (n: number) => n.toLocaleString('en-US');
export const sizeLabel = (spec: BuildSpec) => `${spec.regions} × ${thousands(spec.hosts)}`;

export type PlannedBuild = { asked: BuildSpec; run: BuildSpec; regions: string[]; note?: string } | { asked: BuildSpec; notRun: string };

/** What each asked size becomes with the regions that exist. */
export function planBuilds(specs: readonly BuildSpec[], available: readonly string[] = REGIONS): PlannedBuild[] {
  const plan: PlannedBuild[] = [];
  for (const asked of specs) {
    if (asked.regions <= available.length) {
      plan.push({ asked, run: asked, regions: available.slice(0, asked.regions) });
      continue;
    }
    const missing = `deploy/regions.json names ${available.length} regions, ${asked.regions} needed (issue 9 item 1 adds them)`;
    plan.push({ asked, notRun: missing });
    const substitute = { regions: available.length, hosts: asked.hosts };
    const already = specs.some((s) => s.regions === substitute.regions && s.hosts === substitute.hosts);
    if (asked.hosts <= SUBSTITUTE_MAX_HOSTS && !already) {
      plan.push({ asked: substitute, run: substitute, regions: [...available], note: `measured instead of ${sizeLabel(asked)}: ${missing}` });
    }
  }
  return plan;
}

/** Resident memory of a process now, in MB (Linux /proc); undefined when it is gone. */
function rssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface BuildsOptions {
  endpoint: string;
  prefix: string;
  specs: readonly BuildSpec[];
  progress: (line: string) => void;
  /** Regions that exist (default deploy/regions.json). */
  available?: readonly string[];
}

export async function runBuilds(options: BuildsOptions): Promise<BuildRow[]> {
  const plan = planBuilds(options.specs, options.available);
  const rows: BuildRow[] = plan.map((p) =>
    'notRun' in p
      ? { asked: sizeLabel(p.asked), regions: p.asked.regions, hosts: p.asked.hosts, status: 'not run', reason: p.notRun }
      : { asked: sizeLabel(p.asked), regions: p.run.regions, hosts: p.run.hosts, status: 'not run', ...(p.note ? { reason: p.note } : {}) },
  );
  if (!plan.some((p) => 'run' in p)) return rows;

  const token = randomBytes(24).toString('base64url');
  const recent: string[] = [];
  options.progress('builds: starting the fleet');
  let fleet: Fleet | undefined;
  try {
    fleet = await startFleet({
      prefix: options.prefix,
      env: { AWS_ENDPOINT_URL: options.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', LOG_LEVEL: 'info' },
      apiToken: token,
      ports: 'ephemeral',
      // The last lines only, to say what went wrong when a build does not finish.
      onLog: (service, line) => {
        recent.push(`${service} ${line}`);
        if (recent.length > 200) recent.shift();
      },
    });
    await waitHealthy(fleet);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${fleet?.url('build') ?? ''}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });

    for (const [i, planned] of plan.entries()) {
      const target = rows[i];
      if (!target || 'notRun' in planned) continue;
      const { run, regions } = planned;
      options.progress(`builds: ${sizeLabel(run)} (${regions.join(', ')})`);
      const peak: Record<string, number> = {};
      const sample = () => {
        for (const s of fleet?.services ?? []) {
          const mb = rssMb(s.child.pid);
          if (mb !== undefined) peak[s.name] = Math.max(peak[s.name] ?? 0, mb);
        }
      };
      sample();
      const sampler = setInterval(sample, 500);
      const started = performance.now();
      try {
        const res = await api('/builds', { method: 'POST', headers: { 'idempotency-key': randomUUID() }, body: JSON.stringify(sampleBuildRequest({ regions, hostsPerRegion: run.hosts })) });
        if (res.status !== 202) throw new Error(`POST /builds answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
        const { buildId } = (await res.json()) as { buildId: string };
        // Generous: a build of 1,000 hosts per region takes seconds; 100,000 per region, minutes.
        const deadline = Date.now() + Math.max(180_000, run.regions * run.hosts * 2);
        let status = '';
        let lastSaid = 0;
        while (Date.now() < deadline) {
          const view = await api(`/builds/${buildId}`);
          if (view.status === 200) {
            const body = (await view.json()) as { status?: string; progress?: unknown };
            status = body.status ?? '';
            if (status === 'SUCCESS' || status === 'FAILED') break;
          }
          if (Date.now() - lastSaid > 10_000) {
            lastSaid = Date.now();
            options.progress(`  ${buildId}: ${status || 'not in the view yet'} after ${((performance.now() - started) / 1000).toFixed(0)} s`);
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        const seconds = (performance.now() - started) / 1000;
        sample();
        if (status !== 'SUCCESS' && status !== 'FAILED') throw new Error(`build ${buildId} not terminal after ${seconds.toFixed(0)} s (last status ${status || 'none'})`);
        Object.assign(target, {
          status,
          seconds,
          hostsPerSecond: (run.regions * run.hosts) / seconds,
          peakRssMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)])),
        });
        if (status === 'FAILED') target.reason = [target.reason, 'the build FAILED: see the services\' logs'].filter(Boolean).join('; ');
        options.progress(`  ${status} in ${seconds.toFixed(1)} s`);
      } catch (error) {
        target.status = 'error';
        target.reason = [target.reason, (error as Error).message].filter(Boolean).join('; ');
        options.progress(`  ${(error as Error).message}\n  last service log lines:\n    ${recent.slice(-10).join('\n    ')}`);
      } finally {
        clearInterval(sampler);
      }
    }
  } catch (error) {
    for (const r of rows) if (r.status === 'not run' && !r.reason?.startsWith('deploy/regions.json')) Object.assign(r, { status: 'error', reason: (error as Error).message });
  } finally {
    await fleet?.stop(10_000);
  }
  return rows;
}
