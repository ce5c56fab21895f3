/**
 * The `services` commands' and `why <name>`'s pure parts. The views are not hand-written: each is
 * a creation's log decided by the real onboarding decider, folded and turned into the status
 * document exactly as GET /services/:name does, then sent through JSON and the CLI's own schema, so
 * a change of the document's shape fails here.
 */
import { describe, expect, it } from 'vitest';
import {
  decideOnboarding,
  foldOnboarding,
  ONBOARDING_REPOS,
  serviceStream,
  serviceView,
  type OnboardingCommand,
  type OnboardingEvent,
  type PullRequestStep,
} from '@flotilla/events';
import { buildSummarySchema, serviceSchema, type Service } from '../src/api.ts';
import { serviceProgressLine, serviceText, serviceWhyText } from '../src/format.ts';
import { openPullRequests, serviceFinished, serviceWhy } from '../src/onboarding.ts';
import { listQuery, serviceRequest } from '../src/query.ts';

const NAME = 'payments-api';
const T0 = Date.parse('2026-03-01T09:00:00.000Z');
const MINUTE = 60_000;
const DEADLINE_MS = 10 * MINUTE;
const MERGED_SHA = 'c0ffee1'.padEnd(40, '0');
const BUILD = '01JD0ZQ8X3V7K2M4N6P8R0T2W9';
const NUMBERS: Record<PullRequestStep, number> = { infra: 11, 'app-config': 12, 'proxy-upstreams': 13, 'service-definition': 14 };
const prUrl = (step: PullRequestStep) => `https://github.test/flotilla-org/${ONBOARDING_REPOS[step]}/pull/${NUMBERS[step]}`;

const requested: OnboardingCommand = { kind: 'request', request: { name: NAME, team: 'payments', template: 'node-service', environments: ['dev', 'prod'] }, stepDeadlineMs: DEADLINE_MS };
const raised = (step: PullRequestStep): OnboardingCommand => ({
  kind: 'raised',
  step,
  pullRequest: { repo: ONBOARDING_REPOS[step], number: NUMBERS[step], nodeId: `PR_${NUMBERS[step]}`, url: prUrl(step), ref: `onboard/${NAME}`, sha: 'a'.repeat(40) },
});
const autoMerge = (step: PullRequestStep): OnboardingCommand => ({ kind: 'auto-merge-enabled', step });
const merged = (step: PullRequestStep, sha = MERGED_SHA): OnboardingCommand => ({
  kind: 'pull-request',
  observed: { repo: ONBOARDING_REPOS[step], number: NUMBERS[step], state: 'closed', merged: true, mergedSha: sha },
});
const infraRun = (conclusion: string): OnboardingCommand => ({
  kind: 'workflow-run',
  observed: { repo: 'infra', runId: 501, workflow: 'apply.yml', headSha: MERGED_SHA, status: 'completed', conclusion, url: 'https://github.test/runs/501' },
});
const closedByOnboarding = (step: PullRequestStep): OnboardingCommand => ({ kind: 'closed-by-onboarding', step });

/** Up to the wait on the infra merge: infra raised with auto-merge, app-config and proxy-upstreams raised. */
const raisedFirst = [requested, raised('infra'), autoMerge('infra'), raised('app-config'), raised('proxy-upstreams')];
const created = [
  ...raisedFirst,
  merged('infra'),
  infraRun('success'),
  raised('service-definition'),
  autoMerge('service-definition'),
  autoMerge('app-config'),
  autoMerge('proxy-upstreams'),
  { kind: 'dispatched', runId: 777, url: 'https://github.test/runs/777' },
  {
    kind: 'workflow-run',
    observed: { repo: 'boilerplate', runId: 777, workflow: 'create-service.yml', headSha: 'd'.repeat(40), status: 'completed', conclusion: 'success', url: 'https://github.test/runs/777' },
  },
  { kind: 'build-requested', buildId: BUILD },
  { kind: 'build-finished', buildId: BUILD, status: 'SUCCESS' },
  merged('app-config', 'e'.repeat(40)),
  merged('proxy-upstreams', 'f'.repeat(40)),
  merged('service-definition', '9'.repeat(40)),
] satisfies OnboardingCommand[];

/** The creation's log: each command decided on the history before it, a minute apart from T0. */
function log(commands: readonly OnboardingCommand[]): OnboardingEvent[] {
  const events: OnboardingEvent[] = [];
  for (const [i, command] of commands.entries()) {
    for (const pending of decideOnboarding(foldOnboarding(events), command, { correlationId: NAME, causationId: 'test', now: T0 + i * MINUTE })) {
      events.push({ ...pending, stream: serviceStream(NAME), version: events.length + 1 } as OnboardingEvent);
    }
  }
  return events;
}

/** What GET /services/:name answers at `now`, as the CLI reads it. */
function viewAt(events: readonly OnboardingEvent[], now: number): Service {
  const view = serviceView(foldOnboarding(events), now);
  if (!view) throw new Error('no service.requested in the log');
  return serviceSchema.parse(JSON.parse(JSON.stringify(view)));
}

describe('a creation waiting on GitHub', () => {
  const events = log(raisedFirst);
  const since = events.at(-1)?.occurredAt ?? '';
  const deadline = new Date(Date.parse(since) + DEADLINE_MS).toISOString();
  const stuck = viewAt(events, Date.parse(since) + 40 * MINUTE);

  it('shows the header, a row per step in order with its pull request, and the wait, stuck past its deadline', () => {
    const lines = serviceText(stuck, Date.parse(since) + 40 * MINUTE).split('\n');
    expect(lines[0]).toBe(`service ${NAME} (team payments, template node-service): IN_PROGRESS`);
    expect(lines).toContain('  environments: dev, prod');
    const steps = lines.filter((l) => /^(infra|app-config|proxy-upstreams|service-definition|boilerplate|first-build)\s/.test(l));
    expect(steps.map((l) => l.split(/\s+/)[0])).toEqual(['infra', 'app-config', 'proxy-upstreams', 'service-definition', 'boilerplate', 'first-build']);
    expect(steps[0]).toMatch(new RegExp(`^infra\\s+raised\\s+no\\s+infra #11 ${prUrl('infra')} \\(auto-merge\\)$`));
    expect(steps[1]).toMatch(new RegExp(`^app-config\\s+raised\\s+no\\s+app-config #12 ${prUrl('app-config')}$`));
    expect(steps[4]).toMatch(/^boilerplate\s+not-requested\s+no\s+-$/);
    expect(lines).toContain(`waiting on infra: pull request #11 to be merged since ${since} (40m0s ago), deadline ${deadline}`);
    expect(lines).toContain(`STUCK: waiting on infra past its deadline ${deadline} (30m0s ago)`);
  });

  it('says no STUCK while the wait is within its deadline', () => {
    const text = serviceText(viewAt(events, Date.parse(since) + 4 * MINUTE), Date.parse(since) + 4 * MINUTE);
    expect(text).toContain(`waiting on infra: pull request #11 to be merged since ${since} (4m0s ago)`);
    expect(text).not.toContain('STUCK');
  });

  it('puts the moved steps and the wait on one watch line that does not change with the clock', () => {
    const line = `IN_PROGRESS  infra: raised, app-config: raised, proxy-upstreams: raised; waiting on infra: pull request #11 to be merged (STUCK past its deadline ${deadline})`;
    expect(serviceProgressLine(stuck)).toBe(line);
    expect(serviceProgressLine(viewAt(events, Date.parse(since) + 41 * MINUTE))).toBe(line);
    expect(serviceProgressLine(viewAt(events, Date.parse(since) + MINUTE))).toBe('IN_PROGRESS  infra: raised, app-config: raised, proxy-upstreams: raised; waiting on infra: pull request #11 to be merged');
  });

  it('answers why: the step, what it waits for, since when, stuck past the deadline, and the last event', () => {
    const now = Date.parse(since) + 40 * MINUTE;
    const why = serviceWhy(stuck, events, now);
    expect(why).toMatchObject({ service: NAME, status: 'IN_PROGRESS', waitingOn: { step: 'infra', waitingFor: 'pull request #11 to be merged', since, deadline, stuck: true, waitedMs: 40 * MINUTE } });
    expect(why.lastEvent).toEqual({ type: 'pull_request.raised', version: events.length, occurredAt: since, ageMs: 40 * MINUTE });
    expect(serviceWhyText(why).split('\n')).toEqual([
      `service ${NAME} is IN_PROGRESS, waiting on infra: pull request #11 to be merged, since ${since} (40m0s ago)`,
      `STUCK: past its step deadline ${deadline} (by 30m0s)`,
      `last event: pull_request.raised (v${events.length}) at ${since}, 40m0s ago`,
    ]);
    const early = serviceWhy(viewAt(events, Date.parse(since) + 4 * MINUTE), events, Date.parse(since) + 4 * MINUTE);
    expect(serviceWhyText(early)).toContain(`deadline: ${deadline} (in 6m0s); stuck after that`);
  });

  it('is not finished', () => {
    expect(serviceFinished(stuck)).toBe(false);
  });
});

describe('a creation between two waits', () => {
  it('says the orchestrator owes the next step, not GitHub', () => {
    const view = viewAt(log([requested]), T0 + MINUTE);
    expect(view.waitingOn).toBeUndefined();
    expect(serviceText(view, T0 + MINUTE)).toContain('not waiting on GitHub: the orchestrator takes its next step');
    expect(serviceProgressLine(view)).toBe('IN_PROGRESS  no step taken yet');
    expect(serviceWhyText(serviceWhy(view, log([requested]), T0 + MINUTE)).split('\n')[0]).toBe(`service ${NAME} is IN_PROGRESS, not waiting on GitHub: the orchestrator takes its next step`);
  });
});

describe('a failed creation', () => {
  const failedLog = log([...raisedFirst, merged('infra'), infraRun('failure')]);
  const now = T0 + 30 * MINUTE;
  const failed = viewAt(failedLog, now);
  const reason = `the infra workflow run 501 (apply.yml on ${MERGED_SHA.slice(0, 7)}) concluded failure: https://github.test/runs/501`;

  it('shows the failed step and its reason, the run that failed, and no wait', () => {
    const text = serviceText(failed, now);
    expect(text.split('\n')[0]).toBe(`service ${NAME} (team payments, template node-service): FAILED`);
    expect(text).toMatch(new RegExp(`^infra\\s+workflow_completed\\s+no\\s+infra #11 ${prUrl('infra')} \\(auto-merge, merged c0ffee1\\); apply.yml run 501 failure on c0ffee1 https://github.test/runs/501$`, 'm'));
    expect(text).toContain(`FAILED at step infra: ${reason}`);
    expect(text).not.toContain('waiting on');
  });

  it('is not finished until the pull requests it left open are closed', () => {
    expect(openPullRequests(failed).map((s) => s.step)).toEqual(['app-config', 'proxy-upstreams']);
    expect(serviceFinished(failed)).toBe(false);
    expect(serviceText(failed, now)).toContain('closing the pull requests it left open: app-config #12, proxy-upstreams #13');
    expect(serviceProgressLine(failed)).toBe(`FAILED  infra: workflow_completed, app-config: raised, proxy-upstreams: raised; failed at infra: ${reason}; closing app-config #12, proxy-upstreams #13`);

    const closedLog = log([...raisedFirst, merged('infra'), infraRun('failure'), closedByOnboarding('app-config'), closedByOnboarding('proxy-upstreams')]);
    const closed = viewAt(closedLog, now);
    expect(serviceFinished(closed)).toBe(true);
    expect(serviceProgressLine(closed)).toBe(`FAILED  infra: workflow_completed, app-config: closed, proxy-upstreams: closed; failed at infra: ${reason}`);
    expect(serviceText(closed, now)).not.toContain('closing');
    expect(serviceText(closed, now)).toMatch(/^app-config\s+raised\s+no\s+app-config #12 \S+ \(closed: closed by onboarding: the infra workflow run 501/m);
  });

  it('answers why with the outcome: the failed step and its reason', () => {
    const why = serviceWhy(failed, failedLog, now);
    expect(why).toMatchObject({ status: 'FAILED', failedStep: 'infra', reason, closing: ['app-config #12', 'proxy-upstreams #13'] });
    expect(why.waitingOn).toBeUndefined();
    const lines = serviceWhyText(why).split('\n');
    expect(lines[0]).toBe(`service ${NAME} is FAILED at ${failed.endedAt ?? '?'}, at step infra: ${reason}`);
    expect(lines[1]).toBe('closing the pull requests it left open: app-config #12, proxy-upstreams #13');
    expect(lines[2]).toMatch(/^last event: service\.onboarding_failed \(v\d+\) at /);
  });
});

describe('a created service', () => {
  const createdLog = log(created);
  const now = T0 + 60 * MINUTE;
  const view = viewAt(createdLog, now);

  it('is finished, every step done, with its first build', () => {
    expect(view.status).toBe('CREATED');
    expect(serviceFinished(view)).toBe(true);
    const text = serviceText(view, now);
    expect(text).toContain(`  ended:     ${view.endedAt ?? '?'} (17m0s)`);
    expect(text).toMatch(new RegExp(`^first-build\\s+workflow_completed\\s+yes\\s+build ${BUILD} SUCCESS$`, 'm'));
    expect(text).toMatch(/^boilerplate\s+workflow_completed\s+yes\s+create-service\.yml run 777 success on ddddddd https:\/\/github\.test\/runs\/777$/m);
    expect(text.match(/\syes\s/g)).toHaveLength(6);
    expect(text).not.toMatch(/waiting on|STUCK|FAILED/);
    expect(serviceProgressLine(view)).toBe('CREATED  infra: done, app-config: done, proxy-upstreams: done, service-definition: done, boilerplate: done, first-build: done');
  });

  it('answers why with the outcome and the first build', () => {
    const why = serviceWhy(view, createdLog, now);
    expect(why).toMatchObject({ status: 'CREATED', firstBuild: { buildId: BUILD, status: 'SUCCESS' }, lastEvent: { type: 'service.created' } });
    expect(serviceWhyText(why).split('\n')[0]).toBe(`service ${NAME} is CREATED at ${view.endedAt ?? '?'}; its first build ${BUILD} SUCCESS`);
  });
});

describe('services create flags', () => {
  it('map to the body of POST /services, the environments split and trimmed', () => {
    expect(serviceRequest({ name: NAME, team: 'payments', template: 'go-service', environments: 'dev, prod' })).toEqual({ name: NAME, team: 'payments', template: 'go-service', environments: ['dev', 'prod'] });
  });

  it('leave the environments to the API when not given, and refuse an empty list', () => {
    expect(serviceRequest({ name: NAME, team: 'payments', template: 'go-service' })).toEqual({ name: NAME, team: 'payments', template: 'go-service' });
    expect(() => serviceRequest({ name: NAME, team: 'payments', template: 'go-service', environments: ' , ' })).toThrow(/--environments must name at least one environment/);
  });
});

describe('the onboarding door', () => {
  it('parses in a build list and is a --door filter', () => {
    const summary = { buildId: BUILD, repo: NAME, env: 'dev', version: '0.1.0', status: 'PENDING', door: 'onboarding', key: NAME, requestedAt: '2026-03-01T09:00:00.000Z' };
    expect(buildSummarySchema.parse(summary).door).toBe('onboarding');
    expect(listQuery({ door: 'Onboarding', key: NAME }).toString()).toBe(`door=onboarding&key=${NAME}`);
  });
});
