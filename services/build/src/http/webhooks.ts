/**
 * POST /webhooks/github: GitHub's door into onboarding. The signature (X-Hub-Signature-256, an
 * HMAC of the body with the shared secret) is checked with @octokit/webhooks over the body's exact
 * bytes, so this route reads its body raw: a JSON parser's re-serialisation would not be what
 * GitHub signed. A bad or missing signature answers 401 and nothing goes further. A delivery
 * onboarding acts on (githubDeliveryOf) is cut down and published to the intake topic, where the
 * orchestrator handles it once per X-GitHub-Delivery; any other is acknowledged and ignored. The
 * route needs no bearer token (PUBLIC_ROUTES): its signature authenticates it.
 */
import { Webhooks } from '@octokit/webhooks';
import { z } from 'zod';
import { githubDeliveryOf } from '@flotilla/events';
import { errorBodySchema, HttpError, publish, type HttpRoutes } from '@flotilla/platform';
import type { ApiDeps } from './queries.ts';

/** GitHub caps a payload at 25 MB; the events onboarding reads are a few tens of KB. A larger one gets 413 and the creation's poll finds what it carried. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024;

const headers = z.object({
  'x-github-event': z.string().min(1).max(100).describe('The event: pull_request, workflow_run, ping, ...'),
  'x-github-delivery': z.string().min(1).max(100).describe('The delivery id; a redelivery keeps it'),
  'x-hub-signature-256': z.string().max(200).optional().describe('sha256=<HMAC-SHA256 of the body with the webhook secret>'),
});
const answerSchema = z.object({ deliveryId: z.string(), outcome: z.enum(['forwarded', 'ignored']) });

export function webhookRoutes(deps: Pick<ApiDeps, 'aws' | 'logger' | 'intakeTopicArn' | 'onboarding'>): HttpRoutes {
  return (app) => {
    const secret = deps.onboarding.webhookSecret;
    const webhooks = secret ? new Webhooks({ secret }) : undefined;
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    // This plugin's own JSON parser keeps the bytes: the signature is over them.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BYTES }, (_request, body, done) => done(null, body));

    app.post(
      '/webhooks/github',
      {
        bodyLimit: MAX_WEBHOOK_BYTES,
        schema: {
          summary: "GitHub's webhooks for onboarding (pull_request, workflow_run), authenticated by X-Hub-Signature-256 instead of a token",
          tags: ['onboarding'],
          security: [],
          headers,
          response: { 202: answerSchema, 400: errorBodySchema, 401: errorBodySchema, 413: errorBodySchema },
        },
      },
      async (request, reply) => {
        // Without a secret no delivery can be verified: refused as unauthenticated (a 5xx would tell GitHub to retry a setting).
        if (!webhooks) throw new HttpError(401, 'not_configured', 'no GitHub webhook secret is configured here (GITHUB_WEBHOOK_SECRET), so no delivery can be verified');
        const deliveryId = request.headers['x-github-delivery'];
        const event = request.headers['x-github-event'];
        const raw = request.body instanceof Buffer ? request.body : Buffer.alloc(0);
        let text: string;
        try {
          text = utf8.decode(raw);
        } catch {
          throw new HttpError(401, 'bad_signature', 'the body is not UTF-8 JSON as GitHub signs it');
        }
        const signature = request.headers['x-hub-signature-256'];
        if (!signature || !(await webhooks.verify(text, signature))) {
          deps.logger.warn({ deliveryId, event, signature: signature ? 'invalid' : 'missing' }, 'GitHub webhook refused: bad signature');
          throw new HttpError(401, 'bad_signature', 'X-Hub-Signature-256 is missing or does not match the body: the delivery was not signed with this webhook secret');
        }
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch {
          throw new HttpError(400, 'invalid_json', 'request body is not JSON');
        }
        let delivery;
        try {
          delivery = githubDeliveryOf(event, deliveryId, payload);
        } catch (error) {
          throw new HttpError(400, 'invalid_request', `a ${event} delivery without the fields onboarding reads: ${(error as Error).message}`);
        }
        if (!delivery) return reply.code(202).send({ deliveryId, outcome: 'ignored' });
        await publish(deps.aws.sns, deps.intakeTopicArn, delivery, { type: delivery.type });
        deps.logger.info({ deliveryId, event, action: delivery.action, service: delivery.service }, 'GitHub delivery forwarded to intake');
        return reply.code(202).send({ deliveryId, outcome: 'forwarded' });
      },
    );
    return Promise.resolve();
  };
}
