import { setTimeout as sleep } from 'node:timers/promises';
import { defineCommand } from 'citty';
import { BuildApi, type TestRun } from '../../api.ts';
import { ExitError } from '../../errors.ts';
import { testRunProgressLine, testRunText } from '../../format.ts';
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
    const interrupted = new AbortController();
    const onSigint = () => interrupted.abort();
    process.once('SIGINT', onSigint);
    let run: TestRun;
    try {
      run = await api.testRun(args.id);
      let last = testRunProgressLine(run);
      if (!args.json) note(last);
      while (!run.finished) {
        try {
          await sleep(interval, undefined, { signal: interrupted.signal });
          run = await api.testRun(args.id, interrupted.signal);
        } catch (error) {
          if (!interrupted.signal.aborted) throw error;
          note(`stopped watching test run ${args.id}; it goes on (${run.status})`);
          throw new ExitError(130);
        }
        const line = testRunProgressLine(run);
        if (line !== last && !args.json) note(line);
        last = line;
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
    if (args.json) printJson(run);
    else print(testRunText(run));
    if (run.status !== 'COMPLETED' || run.verdict !== 'passed') throw new ExitError(1);
  },
});
