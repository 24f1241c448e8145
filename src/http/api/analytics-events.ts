/** Client analytics events: POST one, or a batch of up to 100. Any valid API key; stored write-behind. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../app.ts';
import { AnalyticsEventSchema, MAX_BATCH_EVENTS, type AnalyticsEvent, type EventRow } from '../../domain/analytics/events.ts';
import { unavailable } from '../../errors.ts';

const security = [{ bearerAuth: [] }];
const Accepted = z.object({ accepted: z.number() });

/** Who sent it, as far as the principal tells (its shape grows with identity; read defensively). */
function principalOf(request: FastifyRequest): { kind: string | null; id: string | null } {
  const p = request.principal as { kind?: unknown; id?: unknown; user?: { id?: unknown } } | undefined;
  if (!p) return { kind: null, id: null };
  // The user behind a session or an API key; the operator key's id ("bootstrap") otherwise.
  const id = typeof p.user?.id === 'string' ? p.user.id : typeof p.id === 'string' ? p.id : null;
  return { kind: typeof p.kind === 'string' ? p.kind : null, id };
}

export const analyticsEventRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const rows = (request: FastifyRequest, events: AnalyticsEvent[]): EventRow[] => {
    const who = principalOf(request);
    const now = new Date();
    return events.map((e) => ({
      name: e.name,
      properties: JSON.stringify(e.properties),
      occurred_at: e.occurred_at ? new Date(e.occurred_at) : now,
      session_id: e.session_id ?? null,
      principal_kind: who.kind,
      principal_id: who.id,
      request_id: String(request.id),
    }));
  };
  const accept = (events: EventRow[]) => {
    if (!services.observability.events.offer(events)) throw unavailable('The analytics event queue is full; retry shortly.', 'events_queue_full', 1);
    return { accepted: events.length };
  };

  app.post('/analytics/events', {
    bodyLimit: 64 * 1024,
    schema: { tags: ['analytics'], summary: 'Record one client analytics event', security, body: AnalyticsEventSchema, response: { 202: Accepted } },
    handler: async (request, reply) => reply.code(202).send(accept(rows(request, [request.body]))),
  });

  app.post('/analytics/events/batch', {
    bodyLimit: 1024 * 1024,
    schema: {
      tags: ['analytics'],
      summary: `Record up to ${MAX_BATCH_EVENTS} client analytics events (all or none)`,
      security,
      body: z.object({ events: z.array(AnalyticsEventSchema).min(1).max(MAX_BATCH_EVENTS) }).strict(),
      response: { 202: Accepted },
    },
    handler: async (request, reply) => reply.code(202).send(accept(rows(request, request.body.events))),
  });
};
