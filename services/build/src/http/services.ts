/**
 * /services: creating a new service (the onboarding aggregate). POST starts a creation; the name
 * is the key, so a repeat of the same request finds the first creation and another request for a
 * taken name is refused. GET answers the status document: each step's status and its pull request,
 * workflow run or build, and what it waits on (stuck once past its step deadline). /events is the
 * creation's log. The orchestrator does the rest (handlers/onboarding).
 */
import { z } from 'zod';
import { serviceNameSchema, serviceRequestSchema, serviceStream, serviceView, serviceViewSchema } from '@flotilla/events';
import { errorBodySchema, HttpError, loadAggregate, notFound, onboardingAggregate, readEvents, requestService, type HttpRoutes } from '@flotilla/platform';
import type { ApiDeps } from './queries.ts';
import { eventSchema } from './schemas.ts';

const params = z.object({ name: serviceNameSchema.describe('The service name') });
const acceptedSchema = z.object({
  name: z.string(),
  status: z.enum(['IN_PROGRESS', 'CREATED', 'FAILED']),
  duplicate: z.boolean().describe('True when this name was already being created with this same request'),
  links: z.object({ self: z.string(), events: z.string() }),
});
const eventsSchema = z.object({ name: z.string(), events: z.array(eventSchema) });

export function servicesRoutes(deps: Pick<ApiDeps, 'store' | 'logger' | 'onboarding'>): HttpRoutes {
  return (app) => {
    app.post(
      '/services',
      {
        schema: {
          summary: 'Create a new service: pull requests on infra, app-config, proxy-upstreams and service-definitions, the boilerplate repository, and its first build, in order',
          tags: ['onboarding'],
          body: serviceRequestSchema,
          response: { 202: acceptedSchema, 400: errorBodySchema, 409: errorBodySchema },
        },
      },
      async (request, reply) => {
        const { name } = request.body;
        const outcome = await requestService(deps.store, request.body, { stepDeadlineMs: deps.onboarding.stepDeadlineMs, causationId: `http:service:${name}:${request.id}` });
        if (outcome.kind === 'conflict') {
          const existing = outcome.state.request;
          throw new HttpError(409, 'service_exists', `service ${name} is already being created for team ${existing?.team ?? '?'} with template ${existing?.template ?? '?'}; choose another name`);
        }
        const self = `/services/${name}`;
        deps.logger.info({ service: name, outcome: outcome.kind }, outcome.kind === 'repeat' ? 'repeat POST /services: same creation' : 'service creation requested');
        return reply
          .code(202)
          .header('location', self)
          .send({ name, status: outcome.kind === 'repeat' ? (outcome.state.status ?? 'IN_PROGRESS') : 'IN_PROGRESS', duplicate: outcome.kind === 'repeat', links: { self, events: `${self}/events` } });
      },
    );

    app.get(
      '/services/:name',
      {
        schema: {
          summary: "A service creation's status document: every step's status, pull request, workflow run or build, and what it waits on",
          tags: ['onboarding'],
          params,
          response: { 200: serviceViewSchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (request) => {
        const { name } = request.params;
        const view = serviceView((await loadAggregate(deps.store, serviceStream(name), onboardingAggregate)).state, Date.now());
        if (!view) throw notFound(`no service ${name}`);
        return view;
      },
    );

    app.get(
      '/services/:name/events',
      { schema: { summary: "A service creation's slice of the log, in version order", tags: ['onboarding'], params, response: { 200: eventsSchema, 400: errorBodySchema, 404: errorBodySchema } } },
      async (request) => {
        const { name } = request.params;
        const events = await readEvents(deps.store, serviceStream(name), onboardingAggregate);
        if (events.length === 0) throw notFound(`no service ${name}`);
        return { name, events };
      },
    );
    return Promise.resolve();
  };
}
