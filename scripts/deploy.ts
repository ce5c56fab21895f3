/**
 * Deploys the stack and prints its outputs: `node scripts/deploy.ts [--prefix flotilla] [--target local|aws]`.
 * Used by docker-compose's one-shot init container; scripts/run.ts calls deployStack directly.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createAwsClients, deployStack, prefixSchema } from '@flotilla/platform';
import { scriptEnv } from './config.ts';

const args = z
  .object({ prefix: prefixSchema, target: z.enum(['local', 'aws']) })
  .parse(parseArgs({ options: { prefix: { type: 'string', default: 'flotilla' }, target: { type: 'string', default: 'local' } } }).values);

// On AWS the SDK's own endpoint resolution applies; the emulator endpoint is used only for local.
const clients = createAwsClients({ region: scriptEnv.AWS_REGION, endpoint: args.target === 'local' ? scriptEnv.AWS_ENDPOINT_URL : undefined });
const outputs = await deployStack({ clients, prefix: args.prefix, target: args.target });
clients.destroy();
console.log(JSON.stringify({ stack: `${args.prefix}-stack`, outputs }, null, 2));
