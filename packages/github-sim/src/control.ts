/**
 * The control API, for a simulator running in another process (./scripts/run.sh): read what it
 * saw and did, arm faults, point and shape its webhooks. Under /_sim/, never behind the token, and
 * not in the request log.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { GitHubSim } from './index.ts';

const webhookTargetSchema = z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(1) });
const webhookModeSchema = z.object({ duplicate: z.boolean().optional(), shuffle: z.boolean().optional() });

function parseOr400<T>(schema: z.ZodType<T>, request: FastifyRequest, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(request.body);
  if (parsed.success) return parsed.data;
  void reply.code(400).send({ message: z.prettifyError(parsed.error) });
  return undefined;
}

export function controlRoutes(sim: GitHubSim) {
  return (app: FastifyInstance): Promise<void> => {
    app.get('/_sim/requests', () => Promise.resolve(sim.requests()));
    app.get('/_sim/happenings', () => Promise.resolve(sim.happenings()));
    app.get('/_sim/deliveries', () => Promise.resolve(sim.deliveries()));
    app.get('/_sim/state', () => Promise.resolve({ pullRequests: sim.pullRequests(), workflowRuns: sim.workflowRuns(), faults: sim.faults() }));
    app.get('/_sim/faults', () => Promise.resolve(sim.faults()));
    app.post('/_sim/faults', async (request, reply) => {
      try {
        return await reply.code(201).send(sim.inject(request.body as never));
      } catch (error) {
        if (!(error instanceof z.ZodError)) throw error;
        return reply.code(400).send({ message: `invalid fault: ${z.prettifyError(error)}` });
      }
    });
    app.delete('/_sim/faults', async (_request, reply) => {
      sim.clearFaults();
      return reply.code(204).send();
    });
    app.put('/_sim/webhook', async (request, reply) => {
      const target = parseOr400(webhookTargetSchema, request, reply);
      if (!target) return reply;
      sim.setWebhook(target);
      return reply.code(204).send();
    });
    app.put('/_sim/webhook-mode', async (request, reply) => {
      const mode = parseOr400(webhookModeSchema, request, reply);
      if (!mode) return reply;
      sim.setWebhookMode(mode);
      return reply.code(204).send();
    });
    return Promise.resolve();
  };
}
