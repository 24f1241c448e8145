import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { pricingToJson } from '../../domain/pricing.ts';
import type { CatalogModel } from '../../domain/catalog/catalog.ts';
import { notFound } from '../../errors.ts';

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  name: string;
  provider: string;
  kind: string;
  context_length: number | null;
  /** USD per million tokens. */
  pricing: ReturnType<typeof pricingToJson> | null;
  capabilities: Record<string, boolean>;
}

function fromCatalog(m: CatalogModel): ModelObject {
  return {
    id: m.id,
    object: 'model',
    created: Math.floor(m.createdAt.getTime() / 1000),
    owned_by: m.provider,
    name: m.name,
    provider: m.provider,
    kind: m.kind,
    context_length: m.contextLength,
    pricing: pricingToJson(m.pricing),
    capabilities: m.capabilities,
  };
}

/** The models this instance can serve right now: enabled catalog entries of enabled providers, and config routes. */
function buildList(services: Services): { list: ModelObject[]; byId: Map<string, ModelObject> } {
  const list: ModelObject[] = [];
  for (const m of services.catalog.list()) {
    if (m.enabled && services.registry.get(m.provider)?.enabled) list.push(fromCatalog(m));
  }
  const created = Math.floor(services.startedAt.getTime() / 1000);
  for (const r of services.gateway.router.configRoutes()) {
    list.push({
      id: r.id,
      object: 'model',
      created,
      owned_by: 'switchyard',
      name: r.id,
      provider: 'switchyard',
      kind: 'chat',
      context_length: r.context_length ?? null,
      pricing: r.pricing ? { input: r.pricing.input, output: r.pricing.output, ...(r.pricing.cached_input !== undefined ? { cached_input: r.pricing.cached_input } : {}), ...(r.pricing.cache_write !== undefined ? { cache_write: r.pricing.cache_write } : {}) } : null,
      capabilities: {},
    });
  }
  return { list, byId: new Map(list.map((m) => [m.id, m])) };
}

export const modelsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  // Served from memory; rebuilt only when the catalog changes.
  let cache: { version: number; payload: string; byId: Map<string, ModelObject> } | undefined;
  const current = () => {
    if (!cache || cache.version !== services.catalog.version) {
      const { list, byId } = buildList(services);
      cache = { version: services.catalog.version, payload: JSON.stringify({ object: 'list', data: list }), byId };
    }
    return cache;
  };

  app.get('/models', {
    schema: { tags: ['inference'], summary: 'List available models (OpenAI-compatible, with prices per million tokens)', security: [{ bearerAuth: [] }] },
    handler: async (_request, reply) => reply.type('application/json; charset=utf-8').send(current().payload),
  });

  app.get('/models/*', {
    schema: {
      tags: ['inference'],
      summary: 'Retrieve one model; ids contain a slash (`provider/model`), plain or URL-encoded',
      security: [{ bearerAuth: [] }],
      params: z.object({ '*': z.string() }),
    },
    handler: async (request) => {
      const id = decodeURIComponent(request.params['*']);
      const model = current().byId.get(id);
      if (!model) throw notFound(`The model "${id}" does not exist or is not available.`, 'model_not_found', 'model');
      return model;
    },
  });
};
