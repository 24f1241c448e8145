/** Circuit breakers (per deployment `provider/upstream-model`; URL-encode the slash in ids): /api/admin/circuit-breakers. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../../app.ts';
import { actorOf } from '../../../domain/audit/audit.ts';
import { notFound } from '../../../errors.ts';

const tags = ['admin'];
const security = [{ bearerAuth: [] }];
const BreakerViewSchema = z.object({
  id: z.string(),
  state: z.enum(['closed', 'open', 'half_open']),
  open_until: z.string().nullable(),
  trips: z.number(),
  requests: z.number(),
  failures: z.number(),
  failure_rate: z.number(),
  last_transition_at: z.string(),
  last_failure_at: z.string().nullable(),
  performance: z.object({
    latency_ms: z.number().nullable(),
    ttft_ms: z.number().nullable(),
    tokens_per_second: z.number().nullable(),
    error_rate: z.number(),
    samples: z.number(),
  }),
});
const Id = z.object({ id: z.string().min(3).max(300).describe('provider/upstream-model, URL-encoded') });

export const adminBreakerRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { breakers, stats } = services.gateway.resilience;
  const withPerf = (id: string) => {
    const v = breakers.view(id);
    if (!v) return undefined;
    const p = stats.view(id);
    return { ...v, performance: { latency_ms: p.latency_ms, ttft_ms: p.ttft_ms, tokens_per_second: p.tokens_per_second, error_rate: p.error_rate, samples: p.samples } };
  };

  app.get('/circuit-breakers', {
    schema: {
      tags,
      security,
      summary: 'Every deployment seen so far: breaker state and measured performance',
      response: {
        200: z.object({
          data: z.array(BreakerViewSchema),
          settings: z.object({ window_ms: z.number(), min_requests: z.number(), failure_rate: z.number(), open_ms: z.number(), max_open_ms: z.number(), half_open_probes: z.number() }),
        }),
      },
    },
    handler: async () => {
      const o = breakers.opts;
      return {
        data: breakers.list().map((b) => withPerf(b.id)!),
        settings: { window_ms: o.windowMs, min_requests: o.minRequests, failure_rate: o.failureRate, open_ms: o.openMs, max_open_ms: o.maxOpenMs, half_open_probes: o.halfOpenProbes },
      };
    },
  });

  app.post('/circuit-breakers/reset', {
    schema: { tags, security, summary: 'Close every breaker', response: { 200: z.object({ reset: z.number() }) } },
    handler: async (request) => {
      const reset = breakers.resetAll();
      await services.audit.record({ actor: actorOf(request.principal), action: 'admin.breakers_reset', targetType: 'circuit_breaker', targetId: '*', changes: { reset }, ip: request.ip, requestId: String(request.id) });
      return { reset };
    },
  });

  app.get('/circuit-breakers/:id', {
    schema: { tags, security, summary: 'One deployment\'s breaker', params: Id, response: { 200: BreakerViewSchema } },
    handler: async (request) => {
      const v = withPerf(request.params.id);
      if (!v) throw notFound(`No circuit breaker "${request.params.id}" (no traffic seen for it).`, 'breaker_not_found', 'id');
      return v;
    },
  });

  app.post('/circuit-breakers/:id/reset', {
    schema: { tags, security, summary: 'Close one breaker', params: Id, response: { 200: BreakerViewSchema } },
    handler: async (request) => {
      const id = request.params.id;
      if (!breakers.reset(id)) throw notFound(`No circuit breaker "${id}".`, 'breaker_not_found', 'id');
      await services.audit.record({ actor: actorOf(request.principal), action: 'admin.breaker_reset', targetType: 'circuit_breaker', targetId: id, ip: request.ip, requestId: String(request.id) });
      return withPerf(id)!;
    },
  });
};
