import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { pricingToJson } from '../../domain/pricing.ts';
import type { CatalogModel } from '../../domain/catalog/catalog.ts';
import { AppError, notFound } from '../../errors.ts';
import { CODE_MODES, modelIdOf } from '../../gateway/routers/index.ts';
import type { ModelKind } from '../../gateway/router.ts';

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
  /** Router ids and aliases: what they are. */
  description?: string;
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

const ROUTER_NAMES: Record<string, string> = { balanced: 'Code router', price: 'Code router (price)', quality: 'Code router (quality)', agentic: 'Code router (agentic)', auto: 'Auto router' };
const ROUTER_DESCRIPTIONS: Record<string, string> = {
  balanced: 'Code router: picks a model per request from the task (balanced quality and price)',
  price: 'Code router: picks a model per request from the task, leaning cheap',
  quality: 'Code router: picks a model per request from the task, one tier up',
  agentic: 'Code router: picks a tool-capable model per request from the task',
  auto: 'General router: a cheap model for simple prompts, a strong one for hard or code prompts',
};

const switchyardModel = (id: string, created: number, kind: string, extra: Partial<ModelObject> = {}): ModelObject => ({
  id,
  object: 'model',
  created,
  owned_by: 'switchyard',
  name: id,
  provider: 'switchyard',
  kind,
  context_length: null,
  pricing: null,
  capabilities: {},
  ...extra,
});

/**
 * The models this instance can serve right now: enabled catalog entries of enabled providers, config routes,
 * the router ids (`router:code[:mode]`, `router:auto`) and config aliases that resolve to something servable.
 */
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
  for (const mode of [...CODE_MODES, 'auto' as const]) {
    list.push(switchyardModel(modelIdOf(mode), created, 'chat', { name: ROUTER_NAMES[mode], description: ROUTER_DESCRIPTIONS[mode] }));
  }
  const byId = new Map(list.map((m) => [m.id, m]));
  // Aliases, priced like what they resolve to; one that resolves to nothing servable is left out.
  for (const alias of Object.keys(services.config.aliases)) {
    if (byId.has(alias)) continue;
    const resolved = resolveAlias(services, alias);
    if (!resolved) continue;
    const m = switchyardModel(alias, created, resolved.kind, { pricing: pricingToJson(resolved.pricing), description: `Alias of ${services.config.aliases[alias]}` });
    list.push(m);
    byId.set(alias, m);
  }
  return { list, byId };
}

function resolveAlias(services: Services, alias: string) {
  for (const kind of ['chat', 'embedding'] as ModelKind[]) {
    try {
      const [first] = services.gateway.router.plan(alias, kind).candidates;
      if (first) return { kind, pricing: first.pricing };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
  }
  return undefined;
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
