import { randomUUID } from 'node:crypto';
import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { print, printJson } from '../../output.ts';
import { submitRequest } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

export default defineCommand({
  meta: { name: 'submit', description: 'Request a build (POST /builds); prints its id' },
  args: {
    repo: { type: 'string', required: true, description: 'Repository (service) name' },
    env: { type: 'string', required: true, description: 'Target environment, e.g. prod' },
    version: { type: 'string', required: true, description: 'Version to deploy' },
    branch: { type: 'string', required: true, description: 'Branch the version was built from' },
    commit: { type: 'string', required: true, description: 'Commit sha (7-40 hex characters)' },
    regions: { type: 'string', description: 'Comma-separated regions (default: the API\'s default regions)', valueHint: 'a,b' },
    hosts: { type: 'string', description: 'Hosts per region (default: the API\'s default)', valueHint: 'n' },
    key: { type: 'string', description: 'Idempotency key: a repeat with the same key finds the same build (default: a fresh random key)' },
    ...apiArgs,
  },
  async run({ args }) {
    const api = new BuildApi(settingsOf(args).api);
    const key = args.key || randomUUID();
    const answer = await api.submit(submitRequest(args), key);
    if (args.json) return printJson({ ...answer, key });
    print(answer.buildId);
  },
});
