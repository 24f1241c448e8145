/** Admin catalog management: list, upsert, read, delete, and sync from an OpenRouter-format listing. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app.ts';
import { actorOf } from '../../../domain/audit/audit.ts';
import { ModelUpsertSchema, ModelViewSchema } from '../../../domain/catalog/schema.ts';
import { toModelView } from '../../../domain/catalog/catalog.ts';
import { fetchOpenRouterListing } from '../../../domain/catalog/sync.ts';
import { badRequest, notFound } from '../../../errors.ts';

const IdParams = z.object({ '*': z.string().min(1).describe('Model id, e.g. openai/gpt-4o-mini (plain or URL-encoded)') });
const security = [{ bearerAuth: [] }];

export const adminModelRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { catalog, audit } = services;
  const record = (request: FastifyRequest, action: string, targetId: string, changes?: Record<string, unknown>) =>
    audit.record({ actor: actorOf(request.principal), action, targetType: 'model', targetId, changes, ip: request.ip, requestId: String(request.id) });

  app.get('/models', {
    schema: {
      tags: ['admin'],
      summary: 'List catalog models (including disabled ones)',
      security,
      querystring: z.object({
        provider: z.string().optional(),
        enabled: z.enum(['true', 'false']).optional(),
        q: z.string().max(200).optional().describe('Substring of the id or name'),
      }),
      response: { 200: z.object({ data: z.array(ModelViewSchema), total: z.number() }) },
    },
    handler: async (request) => {
      const { provider, enabled, q } = request.query;
      const needle = q?.toLowerCase();
      const data = catalog
        .list()
        .filter((m) => (!provider || m.provider === provider) && (enabled === undefined || String(m.enabled) === enabled) && (!needle || m.id.toLowerCase().includes(needle) || m.name.toLowerCase().includes(needle)))
        .map(toModelView);
      return { data, total: data.length };
    },
  });

  app.post('/models', {
    schema: {
      tags: ['admin'],
      summary: 'Create or update a catalog model (prices in USD per million tokens)',
      security,
      body: ModelUpsertSchema,
      response: { 200: ModelViewSchema, 201: ModelViewSchema },
    },
    handler: async (request, reply) => {
      const existed = Boolean(catalog.get(request.body.id));
      const model = await catalog.upsert(request.body, 'admin');
      await record(request, existed ? 'admin.model_update' : 'admin.model_create', model.id, { ...request.body });
      return reply.code(existed ? 200 : 201).send(toModelView(model));
    },
  });

  app.post('/models/sync', {
    schema: {
      tags: ['admin'],
      summary: 'Import an OpenRouter-format /models listing as openrouter/* entries',
      security,
      body: z.object({ url: z.string().url().optional() }).strict().optional(),
      response: { 200: z.object({ imported: z.number(), written: z.number(), source: z.string() }) },
    },
    handler: async (request) => {
      const url = request.body?.url ?? services.config.catalogSyncUrl;
      if (!url) throw badRequest('No listing URL: pass {"url": ...} or set CATALOG_SYNC_URL.', 'missing_url', 'url');
      const models = await fetchOpenRouterListing(url);
      const written = await catalog.importModels(models, 'sync');
      await record(request, 'admin.model_sync', 'openrouter/*', { source: redactUrl(url), imported: models.length, written });
      return { imported: models.length, written, source: url };
    },
  });

  app.get('/models/*', {
    schema: { tags: ['admin'], summary: 'Read one catalog model', security, params: IdParams, response: { 200: ModelViewSchema } },
    handler: async (request) => {
      const id = decodeURIComponent(request.params['*']);
      const model = catalog.get(id);
      if (!model) throw notFound(`No catalog model "${id}".`, 'model_not_found', 'id');
      return toModelView(model);
    },
  });

  app.delete('/models/*', {
    schema: { tags: ['admin'], summary: 'Delete a catalog model', security, params: IdParams, response: { 200: z.object({ id: z.string(), deleted: z.literal(true) }) } },
    handler: async (request) => {
      const id = decodeURIComponent(request.params['*']);
      if (!(await catalog.remove(id))) throw notFound(`No catalog model "${id}".`, 'model_not_found', 'id');
      await record(request, 'admin.model_delete', id);
      return { id, deleted: true as const };
    },
  });
};

/** A listing URL for the audit log: credentials and query (which may carry a token) left out. */
function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '[unparsable url]';
  }
}
