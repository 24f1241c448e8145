/** Health, liveness, readiness, build info and Prometheus metrics. Unauthenticated; nothing secret here. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { VERSION } from '../../version.ts';

export const opsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/live', { schema: { tags: ['ops'], summary: 'Liveness: the process is up' } }, async () => ({ status: 'ok' }));

  app.get('/ready', { schema: { tags: ['ops'], summary: 'Readiness: migrations applied and the database answers' } }, async (_req, reply) => {
    const database = services.ready && (await services.database.ping());
    return reply.code(database ? 200 : 503).send({ status: database ? 'ready' : 'not_ready', database });
  });

  app.get('/health', { schema: { tags: ['ops'], summary: 'Health of the database and the request-log writer' } }, async (_req, reply) => {
    const t0 = performance.now();
    const dbOk = await services.database.ping();
    const body = {
      status: dbOk ? 'ok' : 'unhealthy',
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - services.startedAt.getTime()) / 1000),
      database: { ok: dbOk, kind: services.database.kind, latency_ms: Math.round((performance.now() - t0) * 100) / 100 },
      request_log: { queue_depth: services.requestLog.depth, dropped: services.requestLog.dropped },
    };
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
