/** Health, liveness, readiness, build info and Prometheus metrics. Unauthenticated; nothing secret here. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { VERSION } from '../../version.ts';
import { pendingMigrations } from '../../domain/health/readiness.ts';

/** Reachability of each enabled provider from recent traffic (no upstream calls are made for this). */
function providerHealth(services: Services) {
  const health = services.observability.health.providers();
  return services.registry.enabled().map((p) => {
    const h = health.get(p.provider.id);
    return { id: p.provider.id, status: h?.status ?? 'unknown', last_success_at: h?.last_success_at ?? null, last_failure_at: h?.last_failure_at ?? null };
  });
}

export const opsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/live', { schema: { tags: ['ops'], summary: 'Liveness: the process is up' } }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: { tags: ['ops'], summary: 'Readiness: migrations applied and the database answers' } }, async (_req, reply) => {
    const database = services.ready && (await services.database.ping());
    // Not ready while migrations are pending (another instance is migrating, or the schema is behind this build).
    const pending = database ? await pendingMigrations(services.database.db) : [];
    const ok = database && pending.length === 0;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', database, pending_migrations: pending });
  });

  app.get('/health', { schema: { tags: ['ops'], summary: 'Health of the database, Redis, the request-log writer and providers (from recent traffic)' } }, async (_req, reply) => {
    const t0 = performance.now();
    const [dbOk, redis] = await Promise.all([services.database.ping(), services.observability.redisProbe?.ping()]);
    const body = {
      status: dbOk ? 'ok' : 'unhealthy',
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - services.startedAt.getTime()) / 1000),
      database: { ok: dbOk, kind: services.database.kind, latency_ms: Math.round((performance.now() - t0) * 100) / 100 },
      request_log: { queue_depth: services.requestLog.depth, dropped: services.requestLog.dropped },
      // Charges are never dropped: a growing depth or failing batches mean the ledger is falling behind.
      charges: { queue_depth: services.charges.depth, failed_batches: services.charges.failures },
      redis: redis ? { configured: true, ...redis } : { configured: false },
      providers: providerHealth(services),
    };
    // Redis down degrades shared state (limits, invalidation) but the instance still serves: 200, "degraded".
    if (dbOk && redis && !redis.ok) body.status = 'degraded';
    return reply.code(dbOk ? 200 : 503).send(body);
  });

  app.get('/info', { schema: { tags: ['ops'], summary: 'Name, version, enabled providers and catalog size' } }, async () => ({
    name: 'switchyard',
    version: VERSION,
    database: services.database.kind,
    providers: services.registry.all().map((p) => ({ id: p.provider.id, name: p.name, type: p.provider.type, enabled: p.enabled })),
    catalog: { models: services.catalog.list().length, as_of: services.catalogAsOf },
  }));

  app.get('/metrics', { schema: { tags: ['ops'], summary: 'Prometheus metrics (text exposition format)' } }, async (_req, reply) => {
    return reply.type(services.metrics.registry.contentType).send(await services.metrics.registry.metrics());
  });
};
