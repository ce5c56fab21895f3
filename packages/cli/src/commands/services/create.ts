import { defineCommand } from 'citty';
import { DEFAULT_ENVIRONMENTS, SERVICE_TEMPLATES } from '@flotilla/events';
import { BuildApi } from '../../api.ts';
import { ApiError, UserError } from '../../errors.ts';
import { note, print, printJson } from '../../output.ts';
import { serviceRequest } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'create', description: 'Create a new service (POST /services); prints its name. The same request again finds the creation already under way' },
  args: {
    name: { type: 'positional', required: true, description: 'Service name: 3-40 characters of a-z 0-9 -, a letter first (its repository, DNS label and stream)' },
    team: { type: 'string', required: true, description: 'Owning team: 1-40 characters of a-z 0-9 -' },
    template: { type: 'string', required: true, description: `Repository template: ${SERVICE_TEMPLATES.join(', ')}`, valueHint: 'template' },
    environments: { type: 'string', description: `Comma-separated environments the infra pull request adds; the first build deploys to the first (default: ${DEFAULT_ENVIRONMENTS.join(',')})`, valueHint: 'a,b' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    let answer;
    try {
      answer = await api.createService(serviceRequest(args));
    } catch (error) {
      // The name is the creation's key: another request for it is refused, never a second creation.
      if (error instanceof ApiError && error.status === 409) {
        throw new UserError(error.message, { hint: `flotilla services get ${args.name} shows the existing creation`, cause: error });
      }
      throw error;
    }
    if (args.json) return printJson(answer);
    if (answer.duplicate) note(`found the existing creation of ${answer.name} (the same request): ${answer.status}`);
    print(answer.name);
  },
});
