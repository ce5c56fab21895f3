import { defineCommand } from 'citty';
import { serviceNameSchema, ULID_PATTERN } from '@flotilla/events';
import { dlqOf, executionState, locate, queueDepth, resourceNames, type ExecutionState, type QueueDepth } from '@flotilla/platform';
import { BuildApi, type BuildView } from '../api.ts';
import { withAws } from '../aws.ts';
import { ApiError, UsageError, UserError } from '../errors.ts';
import { ago, outcomeLine, serviceWhyText, table } from '../format.ts';
import { serviceWhy } from '../onboarding.ts';
import { print, printJson } from '../output.ts';
import { stageOf, type StageInfo } from '../stage.ts';
import { globalArgs, settingsOf } from './_shared.ts';

type WhyArgs = { target: string; json: boolean; api?: string; token?: string; prefix?: string; endpoint?: string };

interface Waiting {
  buildId: string;
  status: 'PENDING' | 'IN_PROGRESS';
  stage: StageInfo['stage'];
  waitingOn: string;
  lastEvent?: { type: string; version: number; occurredAt: string; ageMs: number } | undefined;
  execution?: ExecutionState | undefined;
  queues: Array<{ name: string; depth: QueueDepth; dlq: string; dlqDepth: QueueDepth }>;
}

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

/** A build: its outcome, or the stage it waits in, its last event, its execution and the depths of that stage's queues. */
async function whyBuild(args: WhyArgs): Promise<void> {
  const settings = settingsOf(args);
  const api = new BuildApi(settings.api);
  const view = await api.get(args.target);
  const status = view.status;
  if (status === 'SUCCESS' || status === 'FAILED') {
    const answer = finished(view, status);
    if (args.json) return printJson(answer);
    return print(answer.outcome);
  }
  const { events } = await api.events(args.target);
  const last = events.at(-1);
  const now = Date.now();
  const stage = stageOf(view);
  const names = resourceNames(settings.prefix);
  const answer: Waiting = await withAws(settings, async (aws) => {
    const where = await locate(aws, settings.prefix);
    const queues = await Promise.all(
      stage.queues.map(async (suffix) => {
        const name = `${names.prefix}-${suffix}`;
        const { queueUrl, dlqUrl } = await where.queuePair(name);
        return { name, depth: await queueDepth(aws.sqs, queueUrl), dlq: dlqOf(name), dlqDepth: await queueDepth(aws.sqs, dlqUrl) };
      }),
    );
    return {
      buildId: view.buildId,
      status,
      stage: stage.stage,
      waitingOn: stage.waitingOn,
      lastEvent: last && { type: last.type, version: last.version, occurredAt: last.occurredAt, ageMs: now - Date.parse(last.occurredAt) },
      execution: view.executionArn ? await executionState(aws.sfn, view.executionArn) : undefined,
      queues,
    };
  });
  if (args.json) return printJson(answer);
  print(`build ${answer.buildId} is ${answer.status}, in stage ${answer.stage}: waiting for ${answer.waitingOn}`);
  if (last) print(`last event: ${last.type} (v${last.version}) at ${last.occurredAt}, ${ago(last.occurredAt, now)}`);
  const execution = answer.execution;
  if (!execution) print('execution: not started yet (no build.started in the log)');
  else {
    const current = execution.currentState ? `, in state ${execution.currentState.name} since ${execution.currentState.enteredAt} (${ago(execution.currentState.enteredAt, now)})` : '';
    print(`execution: ${execution.status}${current}${execution.error ? `; error ${execution.error}: ${execution.cause ?? ''}` : ''}`);
  }
  if (answer.queues.length > 0) {
    print('queues:');
    print(
      table(
        ['QUEUE', 'WAITING', 'IN FLIGHT', 'DLQ'],
        answer.queues.map((q) => [`  ${q.name}`, String(q.depth.visible + q.depth.delayed), String(q.depth.inFlight), String(q.dlqDepth.visible)]),
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
