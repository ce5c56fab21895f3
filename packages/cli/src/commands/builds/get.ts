import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { buildSummaryText } from '../../format.ts';
import { print, printJson } from '../../output.ts';
import { parseAt } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'get', description: "A build's status and per-region progress (GET /builds/:id), now or as it was --at a point" },
  args: {
    id: { type: 'positional', required: true, description: 'Build id' },
    at: { type: 'string', description: 'The build as it was at an event version (e.g. 3) or an ISO-8601 time', valueHint: 'version|time' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const view = await api.get(args.id, args.at ? parseAt(args.at) : undefined);
    if (args.json) return printJson(view);
    print(buildSummaryText(view));
  },
});
