/**
 * Environment parsing shared by every service's config.ts: one zod schema per variable with a
 * description, defaults only where safe, and a single ConfigError listing every bad variable.
 * There is no default endpoint: without AWS_ENDPOINT_URL the SDK talks to real AWS, never to
 * localhost by accident.
 */
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { faultsSchema } from './faults.ts';
import { REGIONS } from './resources.ts';

export const prefixSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,30}[a-z0-9]$/, 'lowercase letters, digits and dashes, 3-32 characters, starting with a letter')
  .describe('The stack Prefix every physical resource name derives from');

/** Variables every service reads. */
export const platformEnvShape = {
  AWS_REGION: z.string().min(1).describe('AWS region of the stack (logical regions all live here)'),
  AWS_ENDPOINT_URL: z.url().optional().describe('Endpoint of a local AWS emulator; unset on real AWS'),
  FLOTILLA_PREFIX: prefixSchema,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level'),
  PORT: z.coerce.number().int().min(0).max(65535).describe('Port of the HTTP server (GET /health and, for build, the API)'),
  HOST: z
    .union([z.ipv4(), z.ipv6()])
    .default('127.0.0.1')
    .describe('Address the HTTP server listens on: loopback by default; 0.0.0.0 inside a container or an ECS task, so others can reach it'),
  API_RATE_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .default(6_000)
    .describe('HTTP requests a minute per client address (429 with Retry-After past it); /health and /ready are never limited. The default is far above the k6 profiles (20-50 requests/s from one address)'),
  FLOTILLA_FAULTS: faultsSchema,
  FLOTILLA_FAULTS_AFTER_MS: z.coerce.number().int().min(0).default(0).describe('Test only: the fault points fire only once the process has run this many ms'),
  FLOTILLA_FAULTS_STOP_FILE: z.string().min(1).optional().describe('Test only: the fault points are disarmed for good once this file exists'),
  FLOTILLA_TEST_AWS_CALLS: z
    .string()
    .min(1)
    .optional()
    .describe('Test only: a directory where every AWS call the process makes is recorded (JSONL), for the IAM test (tests/iam)'),
  AWS_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000).describe('SDK calls: time allowed to connect to an AWS endpoint'),
  AWS_REQUEST_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(300_000)
    .default(10_000)
    .describe('SDK calls: time allowed for an answer to begin, and for any silence while it streams in (SQS long polls get their 20 s wait on top)'),
} as const;

/** The API's bearer token: required where a service serves an API (build); there is no default, so a deploy must set it. */
export const apiTokenEnvShape = {
  FLOTILLA_API_TOKEN: z
    .string({ error: 'required: the bearer token callers of the API must send (locally, ./scripts/run.sh writes one to .run/api-token)' })
    .min(16, 'at least 16 characters')
    .regex(/^\S+$/, 'no whitespace')
    .describe('Bearer token every API route but /health, /ready, /openapi.json, the console and the GitHub webhook requires'),
} as const;

/** What every door that starts a service creation (POST /services, the SNS form) decides with. */
export const onboardingEnvShape = {
  ONBOARDING_STEP_DEADLINE_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .default(30 * 60_000)
    .describe('How long a service creation may wait on one step (a merge, a workflow run, its first build) before its status and `flotilla why` report it stuck'),
} as const;

/** Defaults for intake doors that may leave regions or hosts out (S3 uploads without metadata, HTTP). */
export const intakeEnvShape = {
  DEFAULT_REGIONS: z
    .string()
    .optional()
    .transform((list) => list?.split(',').map((r) => r.trim()).filter(Boolean))
    .pipe(z.array(z.enum(REGIONS as [string, ...string[]])).min(1).optional())
    .describe("Regions a request gets when it names none (comma-separated; default: every region of the stack). Each must be one of the stack's regions"),
  DEFAULT_HOSTS_PER_REGION: z.coerce.number().int().min(1).max(100_000).default(10).describe('Hosts per region when a request names none'),
} as const;

/**
 * What an intake door fills in when a request leaves regions or hosts out: DEFAULT_REGIONS, else
 * every region the stack has. Fails at start when DEFAULT_REGIONS names a region the stack lacks,
 * which would otherwise make every request that relies on the default fail.
 */
export function intakeDefaults(config: { DEFAULT_REGIONS?: string[] | undefined; DEFAULT_HOSTS_PER_REGION: number }, stackRegions: readonly string[]): { regions: string[]; hostsPerRegion: number } {
  const regions = config.DEFAULT_REGIONS ?? [...stackRegions];
  const missing = regions.filter((r) => !stackRegions.includes(r));
  if (missing.length > 0) {
    throw new ConfigError(`invalid configuration: DEFAULT_REGIONS names ${missing.join(', ')}, which the stack does not have (it has ${stackRegions.join(', ')})`, { missing, stackRegions });
  }
  return { regions, hostsPerRegion: config.DEFAULT_HOSTS_PER_REGION };
}

/** Parses `env` against `shape`, failing fast with every problem named. */
export function parseEnv<S extends z.ZodRawShape>(shape: S, env: Record<string, string | undefined>): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { problems });
  }
  return result.data;
}
