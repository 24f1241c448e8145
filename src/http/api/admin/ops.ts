/**
 * Operations (admin): in-process caches (list, clear; owners register them), catalog status and reload,
 * deployment health, model resolution explained, and retention on demand.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app.ts';
import { actorOf } from '../../../domain/audit/audit.ts';
import { pricingToJson } from '../../../domain/pricing.ts';
import { badRequest } from '../../../errors.ts';

const security = [{ bearerAuth: [] }];
const tags = ['operations'];

const Pricing = z.object({ input: z.number(), output: z.number(), cached_input: z.number().optional(), cache_write: z.number().optional() }).describe('USD per million tokens');
const HealthStatus = z.enum(['healthy', 'degraded', 'down', 'unknown']);
const CacheView = z.object({ name: z.string(), description: z.string(), stats: z.record(z.string(), z.union([z.number(), z.string(), z.null()])) });
const CatalogStatus = z.object({
  models: z.number(),
  enabled_models: z.number(),
  by_source: z.record(z.string(), z.number()),
  version: z.number().describe('Bumped on every in-memory change'),
  loaded_at: z.string(),
  seed_as_of: z.string(),
  providers: z.array(z.object({ id: z.string(), type: z.string(), enabled: z.boolean(), local: z.boolean(), declared: z.boolean(), catalog_models: z.number() })),
});

export const adminOpsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const obs = services.observability;
  const record = (request: FastifyRequest, action: string, targetType: string, changes?: Record<string, unknown>) =>
    services.audit.record({ actor: actorOf(request.principal), action, targetType, changes, ip: request.ip, requestId: String(request.id) });

  const catalogStatus = () => {
    const models = services.catalog.list();
    const bySource: Record<string, number> = {};
    const perProvider = new Map<string, number>();
    for (const m of models) {
      bySource[m.source] = (bySource[m.source] ?? 0) + 1;
      perProvider.set(m.provider, (perProvider.get(m.provider) ?? 0) + 1);
    }
    return {
      models: models.length,
      enabled_models: models.filter((m) => m.enabled).length,
      by_source: bySource,
      version: services.catalog.version,
      loaded_at: obs.catalogLoadedAt.toISOString(),
      seed_as_of: services.catalogAsOf,
      providers: services.registry.all().map((p) => ({ id: p.provider.id, type: p.provider.type, enabled: p.enabled, local: p.local, declared: p.declared, catalog_models: perProvider.get(p.provider.id) ?? 0 })),
    };
  };

  app.get('/catalog/status', {
    schema: { tags, summary: 'Catalog cache and provider registry status', security, response: { 200: CatalogStatus } },
    handler: async () => catalogStatus(),
  });

  app.post('/catalog/refresh', {
    schema: { tags, summary: 'Reload the catalog from the database (e.g. after another instance or a script changed it)', security, response: { 200: CatalogStatus } },
    handler: async (request) => {
      await obs.caches.get('catalog')!.clear();
      await record(request, 'admin.catalog_refresh', 'catalog', { models: services.catalog.list().length });
      return catalogStatus();
    },
  });

  const cacheViews = () => obs.caches.list().map((c) => ({ name: c.name, description: c.description, stats: c.stats?.() ?? {} }));

  app.get('/caches', {
    schema: { tags, summary: 'In-process caches that can be cleared', security, response: { 200: z.object({ data: z.array(CacheView) }) } },
    handler: async () => ({ data: cacheViews() }),
  });

  app.post('/caches/clear', {
    schema: {
      tags,
      summary: 'Clear caches by name (all when `names` is absent)',
      security,
      body: z.object({ names: z.array(z.string().min(1).max(100)).min(1).max(50).optional() }).strict().nullish(),
      response: { 200: z.object({ cleared: z.array(z.string()), data: z.array(CacheView) }) },
    },
    handler: async (request) => {
      const names = request.body?.names ?? obs.caches.list().map((c) => c.name);
      const unknown = names.filter((n) => !obs.caches.get(n));
      if (unknown.length) throw badRequest(`Unknown cache(s): ${unknown.join(', ')}. Known: ${obs.caches.list().map((c) => c.name).join(', ')}.`, 'unknown_cache', 'names');
      for (const n of names) await obs.caches.get(n)!.clear();
      await record(request, 'admin.caches_clear', 'cache', { names });
      return { cleared: names, data: cacheViews() };
    },
  });

  app.get('/health/deployments', {
    schema: {
      tags,
      summary: 'Health of every deployment with recent traffic (from request outcomes in the health window)',
      security,
      response: {
        200: z.object({
          window_ms: z.number(),
          data: z.array(
            z.object({
              provider: z.string(),
              model: z.string(),
              status: HealthStatus,
              requests: z.number(),
              failures: z.number(),
              error_rate: z.number(),
              last_success_at: z.string().nullable(),
              last_failure_at: z.string().nullable(),
              last_status: z.number().nullable(),
              last_error_code: z.string().nullable(),
            }),
          ),
        }),
      },
    },
    handler: async () => ({ window_ms: services.config.health.windowMs, data: obs.health.snapshot() }),
  });

  app.get('/models/resolve', {
    schema: {
      tags,
      summary: 'Explain how a model id resolves: aliases, config route, deployments in order, prices, health, breakers',
      security,
      querystring: z.object({ model: z.string().min(1).max(300), kind: z.enum(['chat', 'embedding']).default('chat') }).strict(),
      response: {
        200: z.object({
          requested: z.string(),
          kind: z.enum(['chat', 'embedding']),
          aliases: z.array(z.string()).describe('Names the alias chain passed through'),
          resolved: z.string(),
          route: z
            .object({ id: z.string(), strategy: z.string(), order: z.string(), deployments: z.array(z.object({ provider: z.string(), model: z.string(), weight: z.number() })), fallbacks: z.array(z.string()) })
            .nullable(),
          resolvable: z.boolean(),
          error: z.object({ code: z.string().nullable(), message: z.string() }).nullable(),
          candidates: z.array(
            z.object({
              position: z.number(),
              model_id: z.string(),
              provider: z.string(),
              upstream_model: z.string(),
              pricing: Pricing,
              health: HealthStatus,
              breaker: z.enum(['closed', 'open', 'half_open', 'unknown']).describe('the deployment\'s circuit breaker; "unknown" is not currently reported'),
            }),
          ),
        }),
      },
    },
    handler: async (request) => {
      const { model, kind } = request.query;
      const x = services.gateway.router.explain(model, kind);
      return {
        requested: x.requested,
        kind,
        aliases: x.aliases,
        resolved: x.resolved,
        route: x.route
          ? {
              id: x.route.id,
              strategy: x.route.strategy,
              order: x.route.strategy === 'weighted' ? 'drawn at random per request by weight; this is one draw' : x.route.strategy === 'lowest-price' ? 'by price' : 'as listed',
              deployments: x.route.deployments,
              fallbacks: x.route.fallbacks,
            }
          : null,
        resolvable: x.candidates.length > 0,
        error: x.error ? { code: x.error.code, message: x.error.message } : null,
        candidates: x.candidates.map((c, i) => ({
          position: i + 1,
          model_id: c.modelId,
          provider: c.entry.provider.id,
          upstream_model: c.target.model,
          pricing: pricingToJson(c.pricing),
          health: obs.health.get(c.entry.provider.id, c.modelId)?.status ?? 'unknown',
          breaker: obs.breakers.state(c.entry.provider.id, c.target.model),
        })),
      };
    },
  });

  app.post('/request-logs/prune', {
    schema: {
      tags,
      summary: 'Run retention now: delete request-log rows and client events older than REQUEST_LOG_RETENTION_DAYS',
      security,
      response: { 200: z.object({ retention_days: z.number(), request_logs: z.number(), analytics_events: z.number(), rollups: z.number() }) },
    },
    handler: async (request) => {
      const deleted = await obs.retention.run();
      await record(request, 'admin.request_logs_prune', 'request_logs', { retention_days: services.config.requestLog.retentionDays, ...deleted });
      return { retention_days: services.config.requestLog.retentionDays, ...deleted };
    },
  });
};
