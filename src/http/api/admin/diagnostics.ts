/** GET /api/admin/diagnostics: live load and limits, answered from memory (never behind the inference gate). */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../../app.ts';
import { plansFor } from '../../../domain/plans/plans.ts';

export const adminDiagnosticsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/diagnostics', {
    schema: {
      tags: ['admin'],
      security: [{ bearerAuth: [] }],
      summary: 'In-flight and queued inference, limits and utilization, queues and process memory',
      response: {
        200: z.object({
          gate: z.object({
            in_flight: z.number(),
            queued: z.number(),
            max_in_flight: z.number(),
            max_queue: z.number(),
            queue_timeout_ms: z.number(),
            utilization: z.number(),
            rejected_total: z.number(),
          }),
          limits: z.object({ tier_rpm: z.record(z.string(), z.number()), backend: z.enum(['memory', 'redis']) }),
          queues: z.object({ request_log: z.number(), charges: z.number() }),
          process: z.object({ rss_bytes: z.number(), heap_used_bytes: z.number(), uptime_seconds: z.number() }),
        }),
      },
    },
    handler: async () => {
      const mem = process.memoryUsage();
      const plans = plansFor(services.config);
      return {
        gate: services.gateway.gate.stats(),
        limits: { tier_rpm: Object.fromEntries(plans.all().map((p) => [p.tier, p.rpm])), backend: services.redis ? ('redis' as const) : ('memory' as const) },
        queues: { request_log: services.requestLog.depth, charges: services.charges.depth },
        process: { rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed, uptime_seconds: Math.round(process.uptime()) },
      };
    },
  });
};
