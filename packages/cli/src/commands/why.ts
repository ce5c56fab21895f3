import { defineCommand } from 'citty';
import { dlqOf, executionState, locate, queueDepth, resourceNames, type ExecutionState, type QueueDepth } from '@flotilla/platform';
import { BuildApi, type BuildView } from '../api.ts';
import { withAws } from '../aws.ts';
import { ago, outcomeLine, table } from '../format.ts';
import { print, printJson } from '../output.ts';
import { stageOf, type StageInfo } from '../stage.ts';
import { globalArgs, settingsOf } from './_shared.ts';

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

export default defineCommand({
  meta: {
    name: 'why',
    description: 'What a build that has not finished waits on, and since when: its last event, its execution, the depths of its stage\'s queues',
  },
  args: {
    id: { type: 'positional', required: true, description: 'Build id' },
    ...globalArgs,
  },
  async run({ args }) {
    const settings = settingsOf(args);
    const api = new BuildApi(settings.api);
    const view = await api.get(args.id);
    const status = view.status;
    if (status === 'SUCCESS' || status === 'FAILED') {
      const answer = finished(view, status);
      if (args.json) return printJson(answer);
      return print(answer.outcome);
    }
    const { events } = await api.events(args.id);
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
  },
});
