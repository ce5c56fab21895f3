import { createInterface } from 'node:readline/promises';
import { defineCommand } from 'citty';
import { listDeadLetterQueues, purgeDeadLetters } from '@flotilla/platform';
import { withAws } from '../../aws.ts';
import { UserError } from '../../errors.ts';
import { table } from '../../format.ts';
import { note, print, printJson, stdinIsTty } from '../../output.ts';
import { awsArgs, settingsOf } from '../_shared.ts';

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export default defineCommand({
  meta: { name: 'purge', description: 'Delete every message of the dead-letter queues (asks first on a terminal; needs --yes otherwise)' },
  args: {
    queue: { type: 'string', description: 'Only this queue (e.g. intake, intake-dlq or <prefix>-intake-dlq); default: every DLQ' },
    yes: { type: 'boolean', alias: 'y', description: 'Do not ask for confirmation', default: false },
    json: { type: 'boolean', description: 'Print exactly the data as JSON on stdout, nothing else', default: false },
    ...awsArgs,
  },
  async run({ args }) {
    const settings = settingsOf(args);
    const results = await withAws(settings, async (aws) => {
      if (!args.yes) {
        if (!stdinIsTty()) throw new UserError('purge deletes messages for good: pass --yes to confirm when not on a terminal');
        const dlqs = await listDeadLetterQueues(aws.sqs, settings.prefix, { queue: args.queue, sampleSize: 0 });
        const total = dlqs.reduce((n, q) => n + q.depth.visible + q.depth.inFlight + q.depth.delayed, 0);
        if (!(await confirm(`Delete ${total} message(s) from ${dlqs.map((q) => q.name).join(', ')}?`))) {
          note('nothing purged');
          return undefined;
        }
      }
      return purgeDeadLetters(aws.sqs, settings.prefix, { queue: args.queue });
    });
    if (!results) return;
    if (args.json) return printJson(results);
    print(table(['DLQ', 'PURGED'], results.map((r) => [r.dlq, String(r.purged)])));
  },
});
