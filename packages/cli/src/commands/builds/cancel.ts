import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { print, printJson } from '../../output.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'cancel', description: 'Cancel a build that has not finished (POST /builds/:id/cancel)' },
  args: {
    id: { type: 'positional', required: true, description: 'Build id' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const answer = await api.cancel(args.id);
    if (args.json) return printJson(answer);
    print(`build ${answer.buildId}: ${answer.status} (${answer.reason})`);
  },
});
