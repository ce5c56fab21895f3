/**
 * Deploys the stack and prints its outputs:
 *
 *   node scripts/deploy.ts [--prefix flotilla] [--target local|aws]
 *                          [--service-image <image>] [--runner-image <image>]
 *                          [--subnets subnet-a,subnet-b] [--security-group sg-x]
 *
 * Used by docker-compose's one-shot init container; scripts/run.ts calls deployStack directly.
 * Target=aws runs the ECS services in a VPC, so it needs --subnets and --security-group, and the
 * build API's token in FLOTILLA_API_TOKEN (from the environment, so it shows in no process list;
 * the template's ApiToken parameter is NoEcho). The token also goes into the stack's secret, from
 * which the load-test runners get it, so a local deploy passes it on too when it is set.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createAwsClients, deployStack, prefixSchema } from '@flotilla/platform';
import { scriptEnv } from './config.ts';

const argsSchema = z
  .object({
    prefix: prefixSchema,
    target: z.enum(['local', 'aws']),
    'service-image': z.string().min(1).optional().describe('Container image built from the Dockerfile (default: the template\'s)'),
    'runner-image': z.string().min(1).optional().describe('Load-test runner image, deploy/images/runner.Dockerfile (default: the template\'s, flotilla-local/runner:latest)'),
    subnets: z
      .string()
      .regex(/^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$/, 'a comma-separated list of subnet ids')
      .optional()
      .describe('Private subnets for the ECS tasks (Target=aws)'),
    'security-group': z.string().regex(/^sg-[0-9a-f]+$/, 'a security group id').optional().describe('Security group for the ECS tasks (Target=aws)'),
  })
  .refine((a) => a.target === 'local' || (a.subnets && a['security-group']), { message: '--target aws needs --subnets and --security-group', path: ['target'] });

const parsed = argsSchema.safeParse(
  parseArgs({
    options: {
      prefix: { type: 'string', default: 'flotilla' },
      target: { type: 'string', default: 'local' },
      'service-image': { type: 'string' },
      'runner-image': { type: 'string' },
      subnets: { type: 'string' },
      'security-group': { type: 'string' },
    },
  }).values,
);
if (!parsed.success) {
  console.error(`deploy: ${z.prettifyError(parsed.error)}`);
  process.exit(2);
}
const args = parsed.data;
if (args.target === 'aws' && !scriptEnv.FLOTILLA_API_TOKEN) {
  console.error('deploy: --target aws needs FLOTILLA_API_TOKEN in the environment: the bearer token the build API will require (at least 16 characters)');
  process.exit(2);
}
const parameters: Record<string, string> = {
  ...(args['service-image'] ? { ServiceImage: args['service-image'] } : {}),
  ...(args['runner-image'] ? { RunnerImage: args['runner-image'] } : {}),
  ...(args.subnets ? { Subnets: args.subnets } : {}),
  ...(args['security-group'] ? { SecurityGroup: args['security-group'] } : {}),
  ...(scriptEnv.FLOTILLA_API_TOKEN ? { ApiToken: scriptEnv.FLOTILLA_API_TOKEN } : {}),
};

// On AWS the SDK's own endpoint resolution and credential chain apply; the emulator's only for local.
const clients = createAwsClients({
  region: scriptEnv.AWS_REGION,
  endpoint: args.target === 'local' ? scriptEnv.AWS_ENDPOINT_URL : undefined,
  credentials: args.target === 'local' ? { accessKeyId: scriptEnv.AWS_ACCESS_KEY_ID, secretAccessKey: scriptEnv.AWS_SECRET_ACCESS_KEY } : undefined,
});
try {
  const outputs = await deployStack({ clients, prefix: args.prefix, target: args.target, parameters });
  console.log(JSON.stringify({ stack: `${args.prefix}-stack`, outputs }, null, 2));
} finally {
  clients.destroy();
}
