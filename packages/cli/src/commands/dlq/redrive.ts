import { defineCommand } from 'citty';
import { redriveDeadLetters } from '@flotilla/platform';
import { withAws } from '../../aws.ts';
import { table } from '../../format.ts';
import { print, printJson } from '../../output.ts';
import { awsArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: {
    name: 'redrive',
    description: "Move dead-lettered messages back to their source queue (found from its RedrivePolicy), without the failure attributes",
  },
  args: {
    queue: { type: 'string', description: 'Only this queue (e.g. intake, intake-dlq or <prefix>-intake-dlq); default: every DLQ' },
    json: { type: 'boolean', description: 'Print exactly the data as JSON on stdout, nothing else', default: false },
    ...awsArgs,
  },
  async run({ args }) {
    const settings = settingsOf(args);
    const results = await withAws(settings, (aws) => redriveDeadLetters(aws.sqs, settings.prefix, { queue: args.queue }));
    if (args.json) return printJson(results);
    print(table(['DLQ', 'MOVED', 'TO', 'REMAINING'], results.map((r) => [r.dlq, String(r.moved), r.source ?? `- (${r.skipped ?? 'no source'})`, String(r.remaining)])));
    print(`moved ${results.reduce((n, r) => n + r.moved, 0)} message(s)`);
  },
});
