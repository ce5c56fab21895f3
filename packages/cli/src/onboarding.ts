/**
 * What a service creation's status document says, read for `services watch` and `why <name>`:
 * whether it is finished, what it still has to close, and what it waits on. Pure: the view and the
 * events come from the API (which computes `waitingOn` and `stuck`); this never re-derives a step.
 */
import { STEP_STATUSES } from '@flotilla/events';
import type { Event, Service } from './api.ts';

export type ServiceStep = Service['steps'][number];

const merged = (step: ServiceStep) => STEP_STATUSES.indexOf(step.status) >= STEP_STATUSES.indexOf('merged');

/**
 * The pull requests a failed creation left open: the orchestrator closes them after it failed, so
 * until this is empty a FAILED creation is not finished.
 */
export const openPullRequests = (view: Service): ServiceStep[] => view.steps.filter((s) => s.pullRequest && !s.pullRequest.closed && !merged(s));

/** Finished: created, or failed with every pull request it raised merged or closed (nothing more will happen to it). */
export const serviceFinished = (view: Service): boolean => view.status === 'CREATED' || (view.status === 'FAILED' && openPullRequests(view).length === 0);

/** `flotilla why <name> --json`: what a creation waits on and since when, its last event, and how it ended. */
export interface ServiceWhy {
  service: string;
  status: Service['status'];
  /** The API's `waitingOn`, plus how long it has waited (at the CLI's clock). */
  waitingOn?: { step: string; waitingFor: string; since: string; deadline: string; stuck: boolean; waitedMs: number } | undefined;
  lastEvent?: { type: string; version: number; occurredAt: string; ageMs: number } | undefined;
  failedStep?: string | undefined;
  reason?: string | undefined;
  endedAt?: string | undefined;
  /** The first build, once requested: what a created service deployed first. */
  firstBuild?: { buildId: string; status?: string | undefined } | undefined;
  /** After a failure: the pull requests still to be closed, as `<step> #<number>`. */
  closing?: string[] | undefined;
}

export function serviceWhy(view: Service, events: readonly Event[], now: number): ServiceWhy {
  const last = events.at(-1);
  const wait = view.waitingOn;
  const build = view.steps.find((s) => s.build)?.build;
  const closing = view.status === 'FAILED' ? openPullRequests(view).map((s) => `${s.step} #${s.pullRequest?.number ?? '?'}`) : [];
  return {
    service: view.name,
    status: view.status,
    ...(wait ? { waitingOn: { ...wait, waitedMs: now - Date.parse(wait.since) } } : {}),
    ...(last ? { lastEvent: { type: last.type, version: last.version, occurredAt: last.occurredAt, ageMs: now - Date.parse(last.occurredAt) } } : {}),
    ...(view.failedStep ? { failedStep: view.failedStep } : {}),
    ...(view.reason ? { reason: view.reason } : {}),
    ...(view.endedAt ? { endedAt: view.endedAt } : {}),
    ...(build ? { firstBuild: { buildId: build.buildId, ...(build.status ? { status: build.status } : {}) } } : {}),
    ...(closing.length > 0 ? { closing } : {}),
  };
}
