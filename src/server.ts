/** buildServer(config): wires the parts, plugins and routes. No logic of its own. */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config/schema.ts';
import { closeServices, createServices, type CreateServicesOptions, type Services } from './app.ts';
import { installErrorHandlers, sendError } from './http/errors.ts';
import { registerDocs } from './http/docs.ts';
import { rejectNulOnApi } from './http/nul-guard.ts';
import { requireAdmin, requireApiKey } from './http/auth.ts';
import { opsRoutes } from './http/ops/routes.ts';
import { chatRoutes } from './http/v1/chat.ts';
import { embeddingsRoutes } from './http/v1/embeddings.ts';
import { modelsRoutes } from './http/v1/models.ts';
import { messagesRoutes } from './http/v1/messages.ts';
import { recordRejections } from './http/v1/rejections.ts';
import { adminModelRoutes } from './http/api/admin/models.ts';
import { adminAnalyticsRoutes } from './http/api/admin/analytics.ts';
import { adminIncidentRoutes } from './http/api/admin/incidents.ts';
import { adminOpsRoutes } from './http/api/admin/ops.ts';
import { analyticsEventRoutes } from './http/api/analytics-events.ts';
import { statusRoutes } from './http/ops/status.ts';
import { adminUserRoutes } from './http/api/admin/users.ts';
import { authRoutes } from './http/api/auth.ts';
import { keyRoutes } from './http/api/keys.ts';
import { orgRoutes } from './http/api/orgs.ts';
import { creditRoutes } from './http/api/credits.ts';
import { planRoutes } from './http/api/plans.ts';
import { billingRoutes } from './http/api/billing.ts';
import { adminCreditRoutes } from './http/api/admin/credits.ts';
import { adminDiagnosticsRoutes } from './http/api/admin/diagnostics.ts';
import { adminBreakerRoutes } from './http/api/admin/breakers.ts';
import { couponRoutes } from './http/api/coupons.ts';
import { routerRoutes } from './http/api/routers.ts';
import { adminCouponRoutes } from './http/api/admin/coupons.ts';
import { lazyChildLoggerFactory, loggerOptions, type Logger } from './telemetry/logger.ts';
import { timeOrderedHex } from './domain/ids.ts';
import { addAcceptHandles, type AcceptHandles } from './http/accept-handles.ts';
import { tuneGarbageCollection } from './http/gc-tuning.ts';
import { startMemoryTrim, type MemoryTrimmer } from './http/memory-trim.ts';

export interface Server {
  app: FastifyInstance<any, any, any, any, ZodTypeProvider>;
  services: Services;
  /** How many handles accept on the listening socket (1 until `listen`). */
  readonly acceptHandles: number;
  /** Tunes the process's GC for serving, listens with `config.acceptHandles` handles on the socket; resolves with the bound port. */
  listen(opts: { port: number; host: string }): Promise<number>;
  /** Stops accepting, lets in-flight requests and streams finish, flushes queues, closes the database. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildServer(config: Config, opts: CreateServicesOptions = {}): Promise<Server> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    bodyLimit: config.maxBodyBytes,
    // Fastify refuses bare hop counts (fails closed), so a count becomes proxy-addr's hop function: trust the
    // socket peer and the next n-1 hops. Safe only when clients cannot reach this server around the proxies.
    trustProxy: typeof config.trustProxy === 'number' ? ((hops) => (_addr: string, i: number) => i < hops)(config.trustProxy) : config.trustProxy,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${timeOrderedHex()}`;
    },
    // Per-request logs are written by our own hooks (failures only); the hot path stays quiet.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (logger, bindings, opts) => lazyChildLoggerFactory(logger as Logger, bindings, opts),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 512 },
    // Router-level failures (bad percent-encoding, over-long URLs) get the same JSON error shape as the rest.
    frameworkErrors: (err, _request, reply) => sendError(reply, err),
  }).withTypeProvider<ZodTypeProvider>();
  const services = await createServices(config, { ...opts, log: app.log as unknown as Logger });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);

  const { metrics } = services;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('preValidation', rejectNulOnApi);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ url: request.url, status: reply.statusCode }, 'request failed');
  });

  await registerDocs(app);
  await app.register(opsRoutes, { services });
  await app.register(statusRoutes, { services });
  await app.register(
    async (api) => {
      api.addHook('onRequest', requireApiKey(services.auth));
      await api.register(analyticsEventRoutes, { services });
    },
    { prefix: '/api' },
  );
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', requireApiKey(services.auth, config.anonymous));
      recordRejections(v1, services.requestLog);
      await v1.register(chatRoutes, { services });
      await v1.register(embeddingsRoutes, { services });
      await v1.register(modelsRoutes, { services });
      await v1.register(messagesRoutes, { services });
    },
    { prefix: '/v1' },
  );
  await app.register(
    async (admin) => {
      admin.addHook('onRequest', requireAdmin(services.auth));
      await admin.register(adminModelRoutes, { services });
      await admin.register(adminAnalyticsRoutes, { services });
      await admin.register(adminIncidentRoutes, { services });
      await admin.register(adminOpsRoutes, { services });
      await admin.register(adminUserRoutes, { services });
      await admin.register(adminCreditRoutes, { services });
      await admin.register(adminDiagnosticsRoutes, { services });
      await admin.register(adminBreakerRoutes, { services });
      await admin.register(adminCouponRoutes, { services });
    },
    { prefix: '/api/admin' },
  );
  await app.register(authRoutes, { services, prefix: '/api/auth' });
  await app.register(keyRoutes, { services, prefix: '/api/keys' });
  await app.register(orgRoutes, { services, prefix: '/api/orgs' });
  await app.register(creditRoutes, { services, prefix: '/api' });
  await app.register(planRoutes, { services, prefix: '/api' });
  await app.register(billingRoutes, { services, prefix: '/api/billing' });
  await app.register(couponRoutes, { services, prefix: '/api/coupons' });
  await app.register(routerRoutes, { services, prefix: '/api/routers' });
  app.get('/', { schema: { hide: true } }, async () => ({ name: 'switchyard', docs: '/docs', health: '/health', api: '/v1' }));
  await app.ready();

  let closing: Promise<void> | undefined;
  let acceptHandles: AcceptHandles | undefined;
  let memoryTrim: MemoryTrimmer | undefined;
  return {
    app,
    services,
    get acceptHandles() {
      return acceptHandles?.count ?? 1;
    },
    async listen({ port, host }) {
      tuneGarbageCollection();
      await app.listen({ port, host });
      try {
        acceptHandles = await addAcceptHandles(app.server, config.acceptHandles);
      } catch (err) {
        // Serving with the server's own handle only is slower to take bursts of connections, not broken.
        services.log.warn({ err: (err as Error).message }, 'extra accept handles unavailable; accepting on one');
      }
      memoryTrim ??= startMemoryTrim({ intervalS: config.memoryTrimIntervalS, log: services.log, metrics: services.metrics });
      const address = app.server.address();
      return address && typeof address === 'object' ? address.port : port;
    },
    close() {
      closing ??= (async () => {
        memoryTrim?.stop();
        const extrasDrained = acceptHandles?.close();
        await app.close();
        await extrasDrained;
        await closeServices(services);
      })();
      return closing;
    },
  };
}
