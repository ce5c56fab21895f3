import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { print, printJson } from '../../output.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'cancel', description: 'Cancel a test run that has not ended; every region is torn down (POST /testruns/:id/cancel)' },
  args: {
    id: { type: 'positional', required: true, description: 'Test run id' },
    ...apiArgs,
  },
  async run({ args }) {
    const answer = await new BuildApi(settingsOf(args).api).cancelTestRun(args.id);
    if (args.json) return printJson(answer);
    print(`test run ${answer.runId}: ${answer.status}; its regions are being torn down (flotilla testruns watch ${answer.runId})`);
  },
});
