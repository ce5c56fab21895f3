import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { testRunText } from '../../format.ts';
import { print, printJson } from '../../output.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'get', description: 'A test run: regions ready, start time, per-region results and teardown, verdict (GET /testruns/:id)' },
  args: {
    id: { type: 'positional', required: true, description: 'Test run id' },
    ...apiArgs,
  },
  async run({ args }) {
    const run = await new BuildApi(settingsOf(args).api).testRun(args.id);
    if (args.json) return printJson(run);
    print(testRunText(run));
  },
});
