/** buildServer(config): wires the parts, plugins and routes. No logic of its own. */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from './config/schema.ts';
import { closeServices, createServices, type CreateServicesOptions, type Services } from './app.ts';
import { installErrorHandlers } from './http/errors.ts';
import { registerDocs } from './http/docs.ts';
import { requireAdmin, requireApiKey } from './http/auth.ts';
import { opsRoutes } from './http/ops/routes.ts';
import { chatRoutes } from './http/v1/chat.ts';
import { embeddingsRoutes } from './http/v1/embeddings.ts';
import { modelsRoutes } from './http/v1/models.ts';
import { adminModelRoutes } from './http/api/admin/models.ts';
import { loggerOptions, type Logger } from './telemetry/logger.ts';

export interface Server {
  app: FastifyInstance<any, any, any, any, ZodTypeProvider>;
  services: Services;
  /** Stops accepting, lets in-flight requests and streams finish, flushes queues, closes the database. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export async function buildServer(config: Config, opts: CreateServicesOptions = {}): Promise<Server> {
  const app = Fastify({
    logger: loggerOptions(config.logLevel),
    bodyLimit: config.maxBodyBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : `req_${randomUUID().replace(/-/g, '')}`;
    },
    // Per-request logs are written by our own hooks (failures only); the hot path stays quiet.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  }).withTypeProvider<ZodTypeProvider>();
  const services = await createServices(config, { ...opts, log: app.log as unknown as Logger });

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);

  const { metrics } = services;
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    if (reply.statusCode >= 500) request.log.warn({ url: request.url, status: reply.statusCode }, 'request failed');
  });

  await registerDocs(app);
  await app.register(opsRoutes, { services });
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', requireApiKey(services.auth));
      await v1.register(chatRoutes, { services });
      await v1.register(embeddingsRoutes, { services });
      await v1.register(modelsRoutes, { services });
    },
    { prefix: '/v1' },
  );
  await app.register(
    async (admin) => {
      admin.addHook('onRequest', requireAdmin(services.auth));
      await admin.register(adminModelRoutes, { services });
    },
    { prefix: '/api/admin' },
  );
  app.get('/', { schema: { hide: true } }, async () => ({ name: 'switchyard', docs: '/docs', health: '/health', api: '/v1' }));
  await app.ready();

  let closing: Promise<void> | undefined;
  return {
    app,
    services,
    close() {
      closing ??= (async () => {
        await app.close();
        await closeServices(services);
      })();
      return closing;
    },
  };
}
