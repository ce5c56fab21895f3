import { setTimeout as sleep } from 'node:timers/promises';
import { defineCommand } from 'citty';
import { BuildApi, type Event } from '../../api.ts';
import { eventLine } from '../../format.ts';
import { print, printJson, printJsonLine } from '../../output.ts';
import { eventsQuery, parseInterval } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: {
    name: 'tail',
    description: 'The newest events of the global log (GET /events), oldest first; --follow keeps printing new ones until Ctrl-C',
  },
  args: {
    follow: { type: 'boolean', alias: 'f', description: 'Keep polling for new events (with --json: one event per line)', default: false },
    type: { type: 'string', description: 'Only events of this type, e.g. build.failed' },
    build: { type: 'string', description: 'Only events of this build' },
    limit: { type: 'string', description: 'How many of the newest events to show first (1-500, default 50)', valueHint: 'n' },
    interval: { type: 'string', description: 'Poll interval of --follow in milliseconds', default: '1000', valueHint: 'ms' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const first = await api.globalEvents(eventsQuery(args));
    if (!args.follow) {
      if (args.json) return printJson(first);
      for (const event of first.events) print(eventLine(event));
      return;
    }
    const interval = parseInterval('interval', args.interval);
    const show = (event: Event) => (args.json ? printJsonLine(event) : print(eventLine(event)));
    // Event ids are ULIDs, so they sort in log order: nothing at or before the last shown is shown twice.
    let lastShown = '';
    const showNew = (events: readonly Event[]) => {
      for (const event of events) {
        if (event.id <= lastShown) continue;
        show(event);
        lastShown = event.id;
      }
    };
    showNew(first.events);
    let after = first.next ?? undefined;
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    try {
      while (!stop.signal.aborted) {
        try {
          await sleep(interval, undefined, { signal: stop.signal });
          const page = await api.globalEvents(eventsQuery(args, after), stop.signal);
          showNew(page.events);
          after = page.next ?? after;
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
