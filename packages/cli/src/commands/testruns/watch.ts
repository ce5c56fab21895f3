import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { ExitError } from '../../errors.ts';
import { testRunProgressLine, testRunText } from '../../format.ts';
import { noteChanges, pollUntil } from '../../poll.ts';
import { note, print, printJson } from '../../output.ts';
import { parseInterval } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: {
    name: 'watch',
    description: 'Follow a test run until it is finished (ended and torn down): a line per change; exit 0 when it completed and passed, 1 otherwise',
  },
  args: {
    id: { type: 'positional', required: true, description: 'Test run id' },
    interval: { type: 'string', description: 'Poll interval in milliseconds', default: '1000', valueHint: 'ms' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const interval = parseInterval('interval', args.interval);
    const run = await pollUntil({
      read: (signal) => api.testRun(args.id, signal),
      done: (r) => r.finished,
      intervalMs: interval,
      onValue: noteChanges(testRunProgressLine, args.json),
      onStop: (r) => note(`stopped watching test run ${args.id}; it goes on (${r.status})`),
    });
    if (args.json) printJson(run);
    else print(testRunText(run));
    if (run.status !== 'COMPLETED' || run.verdict !== 'passed') throw new ExitError(1);
  },
});
