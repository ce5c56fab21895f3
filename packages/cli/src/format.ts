/** Human output: tables, durations, progress and outcome lines. Pure, so it is unit-tested. */
import { buildIdOfStream } from '@flotilla/events';
import type { BuildSummary, BuildView, Event, Service, TestRun } from './api.ts';
import { openPullRequests, type ServiceStep, type ServiceWhy } from './onboarding.ts';

/** Columns padded to their widest cell; the last column is not padded (no trailing spaces). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** 950 ms -> "950ms", 75 s -> "1m15s", 2 h 3 m -> "2h3m". */
export function formatDuration(ms: number): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < 1_000) return `${abs}ms`;
  const s = Math.floor(abs / 1_000);
  if (s < 60) return `${(abs / 1_000).toFixed(abs < 10_000 ? 1 : 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

export const ago = (iso: string, now: number): string => `${formatDuration(now - Date.parse(iso))} ago`;

export function buildsTable(builds: readonly BuildSummary[]): string {
  return table(
    ['ID', 'REPO', 'ENV', 'VERSION', 'STATUS', 'REQUESTED'],
    builds.map((b) => [b.buildId, b.repo, b.env, b.version, b.status, b.requestedAt]),
  );
}

export interface RegionCounts {
  region: string;
  synced: number;
  failed: number;
  expected: number;
  /** Where the region is: waiting, replicated, syncing, synced or failed. */
  phase: 'waiting' | 'replicated' | 'syncing' | 'synced' | 'failed';
}

/**
 * Per-region host counts for progress bars. The live counters come from the host table's stream
 * and may trail the region's final event, so the larger of the two counts is shown.
 */
export function regionCounts(view: BuildView): RegionCounts[] {
  return Object.entries(view.regions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([region, r]) => {
      const expected = r.progress?.expectedHosts ?? r.hosts ?? 0;
      const synced = Math.max(r.progress?.synced ?? 0, r.syncedHosts ?? 0);
      const failed = Math.max(r.progress?.failed ?? 0, r.failedHosts ?? 0);
      const phase: RegionCounts['phase'] =
        r.replicationFailure !== undefined || r.syncFailure !== undefined ? 'failed' : r.synced ? 'synced' : synced + failed > 0 ? 'syncing' : r.replicated ? 'replicated' : 'waiting';
      return { region, synced, failed, expected, phase };
    });
}

export function progressLine(c: RegionCounts): string {
  const percent = c.expected > 0 ? Math.floor((c.synced * 100) / c.expected) : 0;
  const failed = c.failed > 0 ? `, ${c.failed} failed` : '';
  return `${c.region}: ${c.synced}/${c.expected} hosts (${percent}%${failed}) ${c.phase}`;
}

const label = (view: BuildView): string => [view.repo, view.version].filter(Boolean).join(' ') + (view.env ? ` to ${view.env}` : '');

/** The last line of `watch`, and the answer of `why` for a finished build. */
export function outcomeLine(view: BuildView): string {
  const took = view.finishedAt && view.requestedAt ? ` in ${formatDuration(Date.parse(view.finishedAt) - Date.parse(view.requestedAt))}` : '';
  switch (view.status) {
    case 'SUCCESS':
      return `SUCCESS: build ${view.buildId} (${label(view)}) finished${took}`;
    case 'FAILED': {
      const regions = view.failure?.failedRegions.map((r) => `${r.region}: ${r.reason}`) ?? [];
      return `FAILED: build ${view.buildId} (${label(view)})${took}: ${view.failure?.reason ?? 'no reason recorded'}${regions.length ? ` [${regions.join('; ')}]` : ''}`;
    }
    case 'PENDING':
    case 'IN_PROGRESS':
      return `${view.status}: build ${view.buildId} (${label(view)}) has not finished`;
    default: {
      const _never: never = view.status;
      return String(_never);
    }
  }
}

export function buildSummaryText(view: BuildView): string {
  const lines = [
    `build ${view.buildId}: ${view.status}`,
    `  ${label(view)}${view.branch ? ` (${view.branch}@${view.commit ?? '?'})` : ''}`,
    ...(view.source ? [`  source: ${view.source.door} ${view.source.key}`] : []),
    ...(view.requestedAt ? [`  requested: ${view.requestedAt}`] : []),
    ...(view.startedAt ? [`  started:   ${view.startedAt}`] : []),
    ...(view.finishedAt ? [`  finished:  ${view.finishedAt}`] : []),
    ...(view.failure ? [`  failure: ${view.failure.reason}`, ...view.failure.failedRegions.map((r) => `    ${r.region}: ${r.reason}`)] : []),
    `  version: ${view.lastVersion} (events in its stream)`,
  ];
  const regions = regionCounts(view);
  if (regions.length > 0) lines.push('  regions:', ...regions.map((c) => `    ${progressLine(c)}`));
  return lines.join('\n');
}

export function eventLine(event: Event): string {
  const build = buildIdOfStream(event.stream);
  return `${event.occurredAt}  ${event.type.padEnd(26)} ${build ? `build ${build}` : event.stream} v${event.version}  ${event.id}`;
}

/** A test run for people: its state, when it starts, and a row per region (ready, completed, results, teardown). */
export function testRunText(run: TestRun): string {
  const want = run.request.containersPerRegion;
  const head = [
    `test run ${run.runId}: ${run.status}${run.verdict ? ` (${run.verdict})` : ''}${run.finished ? ', finished' : ''}`,
    `  script ${run.request.script.name}: ${run.request.script.durationSeconds}s, ${run.request.vusPerRegion} VUs/region, target ${run.request.target}`,
    ...(run.startAt ? [`  start at ${run.startAt}${run.participants && run.participants.length < run.request.regions.length ? ` (regions ${run.participants.join(', ')})` : ''}`] : [`  waiting for ${run.request.quorum} of ${run.request.regions.length} regions to be ready`]),
    ...(run.reason ? [`  reason: ${run.reason}`] : []),
  ];
  const rows = Object.entries(run.regions).map(([region, r]) => [
    region,
    `${r.ready.length}/${want}`,
    `${r.completed.length}/${want}`,
    r.result ? String(r.result.requests) : '-',
    r.result ? `${Math.round(r.result.p95Ms)}ms` : '-',
    r.result ? `${(r.result.failedRate * 100).toFixed(2)}%` : '-',
    r.result ? (r.result.passed ? 'passed' : 'failed') : '-',
    r.tornDown ? 'yes' : 'no',
  ]);
  return [...head, '', table(['REGION', 'READY', 'DONE', 'REQUESTS', 'P95', 'FAILED', 'THRESHOLDS', 'TORN DOWN'], rows)].join('\n');
}

/** One line of where a test run is: its status, its start, and per region how far it has come. */
export function testRunProgressLine(run: TestRun): string {
  const want = run.request.containersPerRegion;
  const regions = Object.entries(run.regions).map(([name, r]) => `${name} ${r.tornDown ? 'torn down' : r.completed.length >= want ? 'completed' : r.ready.length >= want ? 'ready' : `${r.ready.length}/${want} ready`}`);
  return `${run.status}${run.startAt ? ` (start ${run.startAt})` : ''}: ${regions.join(', ')}`;
}

const shortSha = (sha: string) => sha.slice(0, 7);

/** What a step has to show for itself: its pull request, its workflow run, its build. */
function stepDetail(step: ServiceStep): string {
  const parts: string[] = [];
  const pr = step.pullRequest;
  if (pr) {
    const flags = [...(pr.autoMerge ? ['auto-merge'] : []), ...(pr.mergedSha ? [`merged ${shortSha(pr.mergedSha)}`] : []), ...(pr.closed ? [`closed: ${pr.closed}`] : [])];
    parts.push(`${pr.repo} #${pr.number} ${pr.url}${flags.length ? ` (${flags.join(', ')})` : ''}`);
  }
  const run = step.workflowRun;
  if (run) parts.push(`${run.workflow} run ${run.runId} ${run.conclusion ?? 'running'}${run.headSha ? ` on ${shortSha(run.headSha)}` : ''} ${run.url}`);
  const build = step.build;
  if (build) parts.push(`build ${build.buildId} ${build.status ?? 'running'}${build.reason ? `: ${build.reason}` : ''}`);
  return parts.length ? parts.join('; ') : '-';
}

const serviceLabel = (view: Service) => `service ${view.name} (team ${view.team}, template ${view.template})`;

/** The wait of a creation in progress: what, since when; and past its deadline, a line of its own. */
function waitLines(view: Service, now: number): string[] {
  const wait = view.waitingOn;
  if (!wait) return view.status === 'IN_PROGRESS' ? ['not waiting on GitHub: the orchestrator takes its next step'] : [];
  return [
    `waiting on ${wait.step}: ${wait.waitingFor} since ${wait.since} (${ago(wait.since, now)}), deadline ${wait.deadline}`,
    ...(wait.stuck ? [`STUCK: waiting on ${wait.step} past its deadline ${wait.deadline} (${ago(wait.deadline, now)})`] : []),
  ];
}

/** `services get`: the creation for people, a header, a row per step in order, what it waits on or how it ended. */
export function serviceText(view: Service, now: number): string {
  const took = view.endedAt ? ` (${formatDuration(Date.parse(view.endedAt) - Date.parse(view.requestedAt))})` : '';
  const closing = openPullRequests(view);
  const head = [
    `${serviceLabel(view)}: ${view.status}`,
    `  environments: ${view.environments.join(', ')}`,
    `  requested: ${view.requestedAt}`,
    ...(view.endedAt ? [`  ended:     ${view.endedAt}${took}`] : []),
  ];
  const rows = view.steps.map((s) => [s.step, s.status, s.done ? 'yes' : 'no', stepDetail(s)]);
  const tail = [
    ...waitLines(view, now),
    ...(view.status === 'FAILED' ? [`FAILED at step ${view.failedStep ?? '?'}: ${view.reason ?? 'no reason recorded'}`] : []),
    ...(view.status === 'FAILED' && closing.length > 0 ? [`closing the pull requests it left open: ${closing.map((s) => `${s.step} #${s.pullRequest?.number ?? '?'}`).join(', ')}`] : []),
  ];
  return [...head, '', table(['STEP', 'STATUS', 'DONE', 'DETAIL'], rows), ...(tail.length ? ['', ...tail] : [])].join('\n');
}

/**
 * One line of where a creation is, for `services watch`: its status, each step that has moved, and
 * what it waits on. Nothing in it changes with the clock, so a new line means a new fact.
 */
export function serviceProgressLine(view: Service): string {
  const moved = view.steps.filter((s) => s.status !== 'not-requested').map((s) => `${s.step}: ${s.done ? 'done' : s.pullRequest?.closed ? 'closed' : s.status}`);
  const wait = view.waitingOn;
  const closing = view.status === 'FAILED' ? openPullRequests(view) : [];
  return [
    `${view.status}  ${moved.length ? moved.join(', ') : 'no step taken yet'}`,
    ...(wait ? [`waiting on ${wait.step}: ${wait.waitingFor}${wait.stuck ? ` (STUCK past its deadline ${wait.deadline})` : ''}`] : []),
    ...(view.status === 'FAILED' ? [`failed at ${view.failedStep ?? '?'}: ${view.reason ?? 'no reason recorded'}`] : []),
    ...(closing.length ? [`closing ${closing.map((s) => `${s.step} #${s.pullRequest?.number ?? '?'}`).join(', ')}`] : []),
  ].join('; ');
}

/** `why <name>`, for people: what the creation waits on and since when (stuck or not), or how it ended; then its last event. */
export function serviceWhyText(why: ServiceWhy): string {
  const lines: string[] = [];
  const wait = why.waitingOn;
  const endedIn = why.endedAt ? ` at ${why.endedAt}` : '';
  switch (why.status) {
    case 'IN_PROGRESS':
      if (!wait) lines.push(`service ${why.service} is IN_PROGRESS, not waiting on GitHub: the orchestrator takes its next step`);
      else {
        lines.push(`service ${why.service} is IN_PROGRESS, waiting on ${wait.step}: ${wait.waitingFor}, since ${wait.since} (${formatDuration(wait.waitedMs)} ago)`);
        const allowedMs = Date.parse(wait.deadline) - Date.parse(wait.since);
        lines.push(
          wait.stuck
            ? `STUCK: past its step deadline ${wait.deadline} (by ${formatDuration(wait.waitedMs - allowedMs)})`
            : `deadline: ${wait.deadline} (in ${formatDuration(allowedMs - wait.waitedMs)}); stuck after that`,
        );
      }
      break;
    case 'CREATED':
      lines.push(`service ${why.service} is CREATED${endedIn}${why.firstBuild ? `; its first build ${why.firstBuild.buildId} ${why.firstBuild.status ?? 'running'}` : ''}`);
      break;
    case 'FAILED':
      lines.push(`service ${why.service} is FAILED${endedIn}, at step ${why.failedStep ?? '?'}: ${why.reason ?? 'no reason recorded'}`);
      if (why.closing) lines.push(`closing the pull requests it left open: ${why.closing.join(', ')}`);
      break;
    default: {
      const _never: never = why.status;
      return String(_never);
    }
  }
  const last = why.lastEvent;
  if (last) lines.push(`last event: ${last.type} (v${last.version}) at ${last.occurredAt}, ${formatDuration(last.ageMs)} ago`);
  return lines.join('\n');
}
