import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { serviceText } from '../../format.ts';
import { print, printJson } from '../../output.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'get', description: "A service creation: each step's status and its pull request, workflow run or build, what it waits on (stuck past its deadline), or how it ended (GET /services/:name)" },
  args: {
    name: { type: 'positional', required: true, description: 'Service name' },
    ...apiArgs,
  },
  async run({ args }) {
    const view = await new BuildApi(settingsOf(args).api).service(args.name);
    if (args.json) return printJson(view);
    print(serviceText(view, Date.now()));
  },
});
