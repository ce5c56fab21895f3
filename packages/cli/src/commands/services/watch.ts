import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { ExitError } from '../../errors.ts';
import { serviceProgressLine, serviceText } from '../../format.ts';
import { serviceFinished } from '../../onboarding.ts';
import { noteChanges, pollUntil } from '../../poll.ts';
import { note, print, printJson } from '../../output.ts';
import { parseInterval } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: {
    name: 'watch',
    description:
      'Follow a service creation until it is finished (CREATED, or FAILED with the pull requests it left open closed): a line per change on stderr, then the creation; exit 0 when CREATED, 1 when FAILED',
  },
  args: {
    name: { type: 'positional', required: true, description: 'Service name' },
    interval: { type: 'string', description: 'Poll interval in milliseconds', default: '1000', valueHint: 'ms' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const interval = parseInterval('interval', args.interval);
    const view = await pollUntil({
      read: (signal) => api.service(args.name, signal),
      done: serviceFinished,
      intervalMs: interval,
      onValue: noteChanges(serviceProgressLine, args.json),
      onStop: (v) => note(`stopped watching service ${args.name}; its creation goes on (${v.status})`),
    });
    if (args.json) printJson(view);
    else print(serviceText(view, Date.now()));
    if (view.status !== 'CREATED') throw new ExitError(1);
  },
});
