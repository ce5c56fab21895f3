import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { defineCommand } from 'citty';
import { BuildApi } from '../../api.ts';
import { UsageError } from '../../errors.ts';
import { print, printJson } from '../../output.ts';
import { testRunRequest } from '../../query.ts';
import { apiArgs, settingsOf } from '../_shared.ts';

/** The script: a JSON file in the shape of load-tests' profiles (the API checks the fields). */
async function readScript(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--script ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`--script ${path} is not JSON: ${(error as Error).message}`);
  }
}

export default defineCommand({
  meta: { name: 'start', description: 'Start a load test from several regions at once (POST /testruns); prints its id' },
  args: {
    script: { type: 'string', required: true, description: 'The load script, a JSON file (see load-tests/README.md)', valueHint: 'file.json' },
    regions: { type: 'string', required: true, description: 'Comma-separated regions to run from', valueHint: 'a,b' },
    quorum: { type: 'string', description: 'Start once this many regions are ready (default: all)', valueHint: 'n' },
    vus: { type: 'string', description: 'Virtual users per region, 200 to a runner container (default 200)', valueHint: 'n' },
    buffer: { type: 'string', description: 'Milliseconds between the last region ready and the start (default 5000)', valueHint: 'ms' },
    deadline: { type: 'string', description: 'Abort and tear down if not completed by this ISO-8601 time (default: 5 minutes past the script\'s end)', valueHint: 'time' },
    target: { type: 'string', description: 'The API the runners load (default: the --api URL, Flotilla itself)', valueHint: 'url' },
    key: { type: 'string', description: 'Idempotency key: a repeat with the same key finds the same run (default: a fresh random key)' },
    ...apiArgs,
  },
  async run({ args }) {
    const { api: settings } = settingsOf(args);
    const key = args.key || randomUUID();
    const answer = await new BuildApi(settings).startTestRun(testRunRequest(args, await readScript(args.script), settings.url), key);
    if (args.json) return printJson({ ...answer, key });
    print(answer.runId);
  },
});
