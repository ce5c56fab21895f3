/**
 * The state machine's last step messages `deploy.finished`; the terminal event is appended here
 * (re-read and re-decided on a lost race), keyed by the execution so a redelivery appends nothing.
 */
import { z } from 'zod';
import { decideAndAppend, parseMessage, type ReceivedMessage } from '@flotilla/platform';
import { decideFinish } from '../domain/decide.ts';
import type { OrchestratorDeps } from './deps.ts';

const resultSchema = z.object({ region: z.string(), failed: z.boolean(), error: z.string().optional(), cause: z.string().optional() });

export const deployFinishedSchema = z.object({
  type: z.literal('deploy.finished'),
  buildId: z.string(),
  stream: z.string(),
  correlationId: z.string(),
  executionArn: z.string(),
  outcome: z.enum(['succeeded', 'failed']),
  stage: z.enum(['build', 'replication', 'sync', 'finish']),
  error: z.string().optional(),
  cause: z.string().optional(),
  results: z.array(resultSchema).optional(),
});

export function deployFinishedHandler(deps: OrchestratorDeps) {
  return async (received: ReceivedMessage): Promise<void> => {
    const message = parseMessage(received.body, deployFinishedSchema, 'deploy.finished');
    const { appended } = await decideAndAppend(deps.store, message.stream, (state, history) => decideFinish(message, state, history, message.executionArn, Date.now()));
    received.logger.info({ stream: message.stream, outcome: message.outcome, stage: message.stage, appended: appended.map((e) => e.type) }, 'deploy finished');
  };
}
