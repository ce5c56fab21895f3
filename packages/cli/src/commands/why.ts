import { defineCommand } from 'citty';
import { serviceNameSchema, ULID_PATTERN } from '@flotilla/events';
import { BuildApi, type BuildView } from '../api.ts';
import { ApiError, UsageError, UserError } from '../errors.ts';
import { ago, outcomeLine, serviceWhyText, table } from '../format.ts';
import { serviceWhy } from '../onboarding.ts';
import { print, printJson } from '../output.ts';
import { globalArgs, settingsOf } from './_shared.ts';

type WhyArgs = { target: string; json: boolean; api?: string; token?: string; prefix?: string; endpoint?: string };

interface Finished {
  buildId: string;
  status: 'SUCCESS' | 'FAILED';
  outcome: string;
  finishedAt?: string | undefined;
  reason?: string | undefined;
  failedRegions?: Array<{ region: string; reason: string }> | undefined;
}

const finished = (view: BuildView, status: Finished['status']): Finished => ({
  buildId: view.buildId,
  status,
  outcome: outcomeLine(view),
  finishedAt: view.finishedAt,
  reason: view.failure?.reason,
  failedRegions: view.failure?.failedRegions,
});

/** A build: its outcome, or (as the build service reads it) the stage it waits in, its last event, its execution and the depths of that stage's queues. */
async function whyBuild(args: WhyArgs): Promise<void> {
  const api = new BuildApi(settingsOf(args).api);
  const view = await api.get(args.target);
  const status = view.status;
  if (status === 'SUCCESS' || status === 'FAILED') {
    const answer = finished(view, status);
    if (args.json) return printJson(answer);
    return print(answer.outcome);
  }
  const answer = await api.why(args.target);
  if (args.json) return printJson(answer);
  const now = Date.now();
  print(`build ${answer.buildId} is ${answer.status}, in stage ${answer.stage ?? 'unknown'}: waiting for ${answer.waitingOn ?? 'nothing it can name'}`);
  const last = answer.lastEvent;
  if (last) print(`last event: ${last.type} (v${last.version}) at ${last.occurredAt}, ${ago(last.occurredAt, now)}`);
  const execution = answer.execution;
  if (!execution) print('execution: not started yet (no build.started in the log)');
  else {
    const current = execution.currentState ? `, in state ${execution.currentState.name} since ${execution.currentState.enteredAt} (${ago(execution.currentState.enteredAt, now)})` : '';
    print(`execution: ${execution.status}${current}${execution.error ? `; error ${execution.error}: ${execution.cause ?? ''}` : ''}`);
  }
  const queues = answer.queues ?? [];
  if (queues.length > 0) {
    print('queues:');
    print(
      table(
        ['QUEUE', 'WAITING', 'IN FLIGHT', 'DLQ'],
        queues.map((q) => [`  ${q.name}`, String(q.depth.visible + q.depth.delayed), String(q.depth.inFlight), String(q.dlqDepth.visible)]),
      ),
    );
  }
}

/** A service creation: what it waits on, since when and whether past its deadline, or how it ended; its last event. */
async function whyService(args: WhyArgs): Promise<void> {
  const api = new BuildApi(settingsOf(args).api);
  let answer;
  try {
    const [view, { events }] = await Promise.all([api.service(args.target), api.serviceEvents(args.target)]);
    answer = serviceWhy(view, events, Date.now());
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new UserError(error.message, { hint: 'why takes a service name or a build id (a ULID, such as 01ARZ3NDEKTSV4RRFFQ69G5FAV)', cause: error });
    }
    throw error;
  }
  if (args.json) return printJson(answer);
  print(serviceWhyText(answer));
}

export default defineCommand({
  meta: {
    name: 'why',
    description: 'What a build (by id) or a service creation (by name) waits on and since when, or how it ended',
  },
  args: {
    target: {
      type: 'positional',
      required: true,
      description:
        "A build id (a ULID): its stage, last event, execution and the depths of its stage's queues, or its outcome. A service name: the step its creation waits on, since when, whether it is stuck past its step deadline, its last event, or how it ended",
    },
    ...globalArgs,
  },
  async run({ args }) {
    if (ULID_PATTERN.test(args.target)) return whyBuild(args);
    if (serviceNameSchema.safeParse(args.target).success) return whyService(args);
    throw new UsageError(`${JSON.stringify(args.target)} is neither a build id (a ULID, such as 01ARZ3NDEKTSV4RRFFQ69G5FAV) nor a service name (3-40 characters of a-z 0-9 -, a letter first)`);
  },
});
