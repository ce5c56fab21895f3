/**
 * The CLI's environment, parsed once, and the settings a command runs with: a flag wins over its
 * environment variable, which wins over the default. The defaults point at the local stack that
 * ./scripts/run.sh starts (API on 127.0.0.1:8080, prefix `flotilla`, the emulator on
 * 127.0.0.1:4566); on real AWS, set AWS_ENDPOINT_URL to the service endpoint you mean, or pass
 * `--endpoint aws` (or AWS_ENDPOINT_URL=aws) for the real AWS endpoints. The API token is
 * `--token`, else FLOTILLA_API_TOKEN, else (only for an API on this machine) the file
 * ./scripts/run.sh writes, `.run/api-token` in this checkout.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseEnv, prefixSchema } from '@flotilla/platform';

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';
export const DEFAULT_PREFIX = 'flotilla';
export const DEFAULT_AWS_ENDPOINT = 'http://127.0.0.1:4566';

const apiUrlSchema = z.url().describe('Base URL of the build API');
const tokenSchema = z.string().min(1).regex(/^\S+$/, 'no whitespace').describe('Bearer token of the build API');

/** The token file ./scripts/run.sh writes, in the checkout this CLI runs from. */
export const LOCAL_TOKEN_FILE = fileURLToPath(new URL('../../../.run/api-token', import.meta.url));

/** The local token, or undefined when there is none (no run yet, or unreadable). */
export function readLocalToken(): string | undefined {
  try {
    return readFileSync(LOCAL_TOKEN_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
/** `aws` means the real AWS endpoints (the SDK picks them per service); anything else is one endpoint for every service. */
const endpointSchema = z.union([z.literal('aws'), z.url()]).describe('AWS endpoint for dead-letter and execution look-ups (the local emulator by default; `aws` for real AWS)');

export const cliEnvShape = {
  FLOTILLA_API_URL: apiUrlSchema.default(DEFAULT_API_URL),
  FLOTILLA_API_TOKEN: tokenSchema.optional(),
  FLOTILLA_PREFIX: prefixSchema.default(DEFAULT_PREFIX),
  AWS_ENDPOINT_URL: endpointSchema.default(DEFAULT_AWS_ENDPOINT),
  AWS_REGION: z.string().min(1).default('us-east-1').describe('AWS region of the stack'),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
} as const;

export type CliEnv = z.infer<z.ZodObject<typeof cliEnvShape>>;

/** Where the build API is, and what to authenticate with. */
export interface ApiSettings {
  url: string;
  token?: string | undefined;
  /** Where the token came from, for the message when the API refuses it. */
  tokenSource?: '--token' | 'FLOTILLA_API_TOKEN' | '.run/api-token' | undefined;
}

export interface Settings {
  api: ApiSettings;
  prefix: string;
  aws: {
    /** undefined: the real AWS endpoints. */
    endpoint: string | undefined;
    region: string;
    /** Static credentials when both are set; the emulator's placeholder pair when only the endpoint is local. */
    credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  };
}

export interface GlobalFlags {
  api?: string | undefined;
  token?: string | undefined;
  prefix?: string | undefined;
  endpoint?: string | undefined;
}

let parsed: CliEnv | undefined;

/** process.env, read here and nowhere else, once. */
export function cliEnv(): CliEnv {
  parsed ??= parseEnv(cliEnvShape, process.env);
  return parsed;
}

const isLoopback = (url: string): boolean => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);

/** Flags over environment over defaults; flag values are checked with the same schemas as the variables. */
export function resolveSettings(flags: GlobalFlags, env: CliEnv = cliEnv(), localToken: () => string | undefined = readLocalToken): Settings {
  const fromFlags = parseEnv(
    { api: apiUrlSchema.optional(), token: tokenSchema.optional(), prefix: prefixSchema.optional(), endpoint: endpointSchema.optional() },
    { api: flags.api || undefined, token: flags.token || undefined, prefix: flags.prefix || undefined, endpoint: flags.endpoint || undefined },
  );
  const apiUrl = (fromFlags.api ?? env.FLOTILLA_API_URL).replace(/\/+$/, '');
  // The local file's token is for the local stack: it is never sent to an API elsewhere.
  const fromFile = () => {
    const token = isLoopback(apiUrl) ? localToken() : undefined;
    return token === undefined ? { url: apiUrl } : { url: apiUrl, token, tokenSource: '.run/api-token' as const };
  };
  const api: ApiSettings = fromFlags.token
    ? { url: apiUrl, token: fromFlags.token, tokenSource: '--token' }
    : env.FLOTILLA_API_TOKEN
      ? { url: apiUrl, token: env.FLOTILLA_API_TOKEN, tokenSource: 'FLOTILLA_API_TOKEN' }
      : fromFile();
  const chosen = fromFlags.endpoint ?? env.AWS_ENDPOINT_URL;
  const endpoint = chosen === 'aws' ? undefined : chosen;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
      : // The emulator accepts any credentials; these never leave loopback.
        endpoint !== undefined && isLoopback(endpoint)
        ? { accessKeyId: 'test', secretAccessKey: 'test' }
        : undefined;
  return {
    api,
    prefix: fromFlags.prefix ?? env.FLOTILLA_PREFIX,
    aws: { endpoint, region: env.AWS_REGION, credentials },
  };
}
