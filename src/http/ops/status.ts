/**
 * Public status page data: one status per enabled provider from recent request outcomes. Deliberately no
 * internals: no model ids, error messages, keys, counts or upstream URLs.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';

const Status = z.enum(['healthy', 'degraded', 'down', 'unknown']);

export const statusRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/status', {
    schema: {
      tags: ['ops'],
      summary: 'Public service status: provider health from recent traffic ("unknown": no recent traffic)',
      response: {
        200: z.object({
          status: z.enum(['operational', 'degraded', 'outage']),
          updated_at: z.string(),
          providers: z.array(z.object({ id: z.string(), name: z.string(), status: Status, ongoing_incidents: z.number() })),
        }),
      },
    },
    handler: async () => {
      const health = services.observability.health.providers();
      const incidents = services.observability.incidents.ongoingByProvider();
      const providers = services.registry.enabled().map((p) => ({
        id: p.provider.id,
        name: p.name,
        status: health.get(p.provider.id)?.status ?? ('unknown' as const),
        ongoing_incidents: incidents.get(p.provider.id) ?? 0,
      }));
      const known = providers.filter((p) => p.status !== 'unknown');
      const down = known.filter((p) => p.status === 'down').length;
      const status: 'operational' | 'degraded' | 'outage' = known.length > 0 && down === known.length ? 'outage' : known.some((p) => p.status !== 'healthy') || incidents.size > 0 ? 'degraded' : 'operational';
      return { status, updated_at: new Date().toISOString(), providers };
    },
  });
};
