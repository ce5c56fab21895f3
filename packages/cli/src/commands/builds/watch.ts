import { defineCommand } from 'citty';
import { BuildApi, type BuildView } from '../../api.ts';
import { ExitError } from '../../errors.ts';
import { outcomeLine } from '../../format.ts';
import { pollUntil } from '../../poll.ts';
import { note, print, printJson, stdoutIsTty } from '../../output.ts';
import { barsDisplay, linesDisplay, silentDisplay } from '../../progress.ts';
import { parseInterval } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

const isTerminal = (view: BuildView) => view.status === 'SUCCESS' || view.status === 'FAILED';

export default defineCommand({
  meta: {
    name: 'watch',
    description: 'Follow a build until it ends: a progress bar per region (plain lines when not a terminal); exit 0 on SUCCESS, 1 on FAILED',
  },
  args: {
    id: { type: 'positional', required: true, description: 'Build id' },
    interval: { type: 'string', description: 'Poll interval in milliseconds', default: '1000', valueHint: 'ms' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const interval = parseInterval('interval', args.interval);
    const display = args.json ? silentDisplay() : stdoutIsTty() ? barsDisplay() : linesDisplay();
    let view: BuildView;
    try {
      view = await pollUntil({
        read: (signal) => api.get(args.id, undefined, signal),
        done: isTerminal,
        intervalMs: interval,
        onValue: (v) => display.update(v),
        onStop: (last) => {
          display.stop();
          note(`stopped watching build ${args.id}; it goes on (${last.status})`);
        },
      });
    } finally {
      display.stop();
    }
    if (args.json) printJson(view);
    else print(outcomeLine(view));
    if (view.status === 'FAILED') throw new ExitError(1);
  },
});
