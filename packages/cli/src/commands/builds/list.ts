import { defineCommand } from 'citty';
import { BuildApi, doorSchema } from '../../api.ts';
import { buildsTable } from '../../format.ts';
import { note, print, printJson } from '../../output.ts';
import { listQuery } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'list', description: 'List builds, newest first (GET /builds)' },
  args: {
    repo: { type: 'string', description: 'Only this repository' },
    env: { type: 'string', description: 'Only this environment' },
    status: { type: 'string', description: 'PENDING, IN_PROGRESS, SUCCESS or FAILED' },
    door: { type: 'string', description: `Intake door: ${doorSchema.options.join(', ')} (onboarding: a new service's first build)` },
    key: { type: 'string', description: "The door's key (with --door): the build that key made (for onboarding, the service name)" },
    since: { type: 'string', description: 'Requested at or after this ISO-8601 time', valueHint: 'time' },
    until: { type: 'string', description: 'Requested at or before this ISO-8601 time', valueHint: 'time' },
    limit: { type: 'string', description: 'Page size, 1-100 (default 20)', valueHint: 'n' },
    cursor: { type: 'string', description: 'The next-page cursor a previous list printed' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const page = await api.list(listQuery(args));
    if (args.json) return printJson(page);
    if (page.builds.length === 0) print('no builds match');
    else print(buildsTable(page.builds));
    if (page.nextCursor) note(`more: add --cursor ${page.nextCursor}`);
  },
});
