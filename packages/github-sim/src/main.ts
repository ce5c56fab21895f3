/**
 * The simulator as a process of its own (./scripts/run.sh starts it):
 *
 *   node packages/github-sim/src/main.ts --port N --webhook-url U --webhook-secret-file F
 *     [--host 127.0.0.1] [--owner flotilla-org] [--token-file F]
 *     [--merge-ms 1500] [--workflow-ms 2000] [--webhook-ms 100] [--log-level info]
 *
 * Prints one JSON line `{"msg":"github simulator listening","url":...}` once it answers, and
 * closes cleanly (no delivery after) on SIGTERM or SIGINT. Its control API is at `<url>/_sim/`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startGitHubSim } from './index.ts';

/** A file holding a secret: read once, the trailing newline an editor adds dropped. */
const secretFile = (what: string) =>
  z
    .string()
    .min(1)
    .transform((path, ctx) => {
      try {
        const secret = readFileSync(path, 'utf8').trim();
        if (secret) return secret;
        ctx.addIssue({ code: 'custom', message: `${what} file ${path} is empty` });
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `cannot read ${what} file ${path}: ${(error as Error).message}` });
      }
      return z.NEVER;
    });

const milliseconds = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);

const argsSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65_535).describe('0: an ephemeral port'),
    host: z.string().default('127.0.0.1'),
    owner: z.string().default('flotilla-org'),
    'token-file': secretFile('token').optional().describe('When given, API requests must carry this token'),
    'webhook-url': z.url({ protocol: /^https?$/ }).optional(),
    'webhook-secret-file': secretFile('webhook secret').optional(),
    'merge-ms': milliseconds(1_500),
    'workflow-ms': milliseconds(2_000),
    'webhook-ms': milliseconds(100),
    'log-level': z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .refine((args) => (args['webhook-url'] === undefined) === (args['webhook-secret-file'] === undefined), {
    message: '--webhook-url and --webhook-secret-file go together',
  });

const parsed = (() => {
  try {
    const { values } = parseArgs({
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string' },
        owner: { type: 'string' },
        'token-file': { type: 'string' },
        'webhook-url': { type: 'string' },
        'webhook-secret-file': { type: 'string' },
        'merge-ms': { type: 'string' },
        'workflow-ms': { type: 'string' },
        'webhook-ms': { type: 'string' },
        'log-level': { type: 'string' },
      },
    });
    return argsSchema.safeParse(values);
  } catch (error) {
    console.error(`github-sim: ${(error as Error).message}`);
    process.exit(2);
  }
})();
if (!parsed.success) {
  console.error(`github-sim: ${z.prettifyError(parsed.error)}`);
  process.exit(2);
}
const args = parsed.data;

const sim = await startGitHubSim({
  port: args.port,
  host: args.host,
  owner: args.owner,
  ...(args['token-file'] ? { token: args['token-file'] } : {}),
  ...(args['webhook-url'] && args['webhook-secret-file'] ? { webhook: { url: args['webhook-url'], secret: args['webhook-secret-file'] } } : {}),
  delays: { mergeMs: args['merge-ms'], workflowMs: args['workflow-ms'], webhookMs: args['webhook-ms'] },
  logLevel: args['log-level'],
}).catch((error: unknown) => {
  // Options the schema refused (a non-loopback host) or a port already taken: say which, no stack.
  console.error(`github-sim: ${error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message}`);
  process.exit(error instanceof z.ZodError ? 2 : 1);
});
console.log(JSON.stringify({ msg: 'github simulator listening', url: sim.url, owner: sim.owner, webhook: args['webhook-url'] ?? null }));

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => {
        console.log(JSON.stringify({ msg: 'github simulator closed', signal }));
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`github-sim: close failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  });
}
