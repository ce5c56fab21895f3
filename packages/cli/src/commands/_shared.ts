/** Flags every command takes, declared once. */
import type { ArgDef } from 'citty';
import { DEFAULT_API_URL, DEFAULT_AWS_ENDPOINT, DEFAULT_PREFIX, resolveSettings, type Settings } from '../config.ts';

export const apiArgs = {
  api: { type: 'string', description: `Build API base URL (env FLOTILLA_API_URL, default ${DEFAULT_API_URL})`, valueHint: 'url' },
  token: { type: 'string', description: 'Build API bearer token (env FLOTILLA_API_TOKEN; for a local API, default the .run/api-token that ./scripts/run.sh writes)', valueHint: 'token' },
  json: { type: 'boolean', description: 'Print exactly the data as JSON on stdout, nothing else', default: false },
} as const satisfies Record<string, ArgDef>;

export const awsArgs = {
  prefix: { type: 'string', description: `Stack prefix (env FLOTILLA_PREFIX, default ${DEFAULT_PREFIX})`, valueHint: 'prefix' },
  endpoint: { type: 'string', description: `AWS endpoint (env AWS_ENDPOINT_URL, default the local emulator ${DEFAULT_AWS_ENDPOINT})`, valueHint: 'url' },
} as const satisfies Record<string, ArgDef>;

export const globalArgs = { ...apiArgs, ...awsArgs } as const satisfies Record<string, ArgDef>;

export const settingsOf = (args: { api?: string; token?: string; prefix?: string; endpoint?: string }): Settings => resolveSettings(args);
