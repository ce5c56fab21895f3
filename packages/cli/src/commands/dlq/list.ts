import { defineCommand } from 'citty';
import { listDeadLetterQueues } from '@flotilla/platform';
import { withAws } from '../../aws.ts';
import { table } from '../../format.ts';
import { print, printJson } from '../../output.ts';
import { awsArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'list', description: 'Every dead-letter queue of the stack with its depth and a sample of its messages (left in place)' },
  args: {
    queue: { type: 'string', description: 'Only this queue (e.g. intake, intake-dlq or <prefix>-intake-dlq)' },
    sample: { type: 'string', description: 'Messages to show per queue (0-10)', default: '3', valueHint: 'n' },
    json: { type: 'boolean', description: 'Print exactly the data as JSON on stdout, nothing else', default: false },
    ...awsArgs,
  },
  async run({ args }) {
    const settings = settingsOf(args);
    const sampleSize = Math.min(10, Math.max(0, Number.parseInt(args.sample, 10) || 0));
    const dlqs = await withAws(settings, (aws) => listDeadLetterQueues(aws.sqs, settings.prefix, { queue: args.queue, sampleSize }));
    if (args.json) return printJson(dlqs);
    print(
      table(
        ['DLQ', 'MESSAGES', 'IN FLIGHT', 'SOURCE'],
        dlqs.map((q) => [q.name, String(q.depth.visible), String(q.depth.inFlight), q.source?.name ?? '-']),
      ),
    );
    for (const q of dlqs.filter((d) => d.samples.length > 0)) {
      print(`\n${q.name}:`);
      for (const m of q.samples) {
        print(`  ${m.messageId}${m.sentAt ? ` (${m.sentAt})` : ''}: ${m.failureName ?? '?'}: ${m.failureReason ?? 'no FailureReason attribute'}`);
        print(`    ${m.body.slice(0, 160)}`);
      }
    }
  },
});
