/**
 * Plans a route: turns the model a client asked for into an ordered list of candidate deployments.
 * Order of resolution: config aliases -> config model routes (deployments + fallbacks) -> `provider/model`
 * through the catalog -> bare names through the catalog. Everything is in memory.
 */
import type { Config, ModelRouteInput } from '../config/schema.ts';
import type { ProviderEntry, ProviderRegistry } from '../providers/registry.ts';
import type { UpstreamTarget } from '../providers/types.ts';
import { PRESETS } from '../providers/presets.ts';
import type { Catalog, CatalogModel } from '../domain/catalog/catalog.ts';
import { pricingFromJson, ZERO_PRICING, type Pricing } from '../domain/pricing.ts';
import { AppError, notFound } from '../errors.ts';

export type ModelKind = 'chat' | 'embedding';

export interface Candidate {
  /** The public model id billed and reported (`provider/model`, or a config route's id). */
  modelId: string;
  entry: ProviderEntry;
  target: UpstreamTarget;
  pricing: Pricing;
}

export interface RoutePlan {
  requested: string;
  candidates: Candidate[];
}

const modelNotFound = (message: string) => notFound(message, 'model_not_found', 'model');
const PRESET_ORDER = new Map(PRESETS.map((p, i) => [p.id, i]));

export class Router {
  private readonly routes: Map<string, ModelRouteInput>;
  private readonly prices: Map<string, Pricing>;

  constructor(
    private readonly config: Config,
    private readonly registry: ProviderRegistry,
    private readonly catalog: Catalog,
  ) {
    this.routes = new Map(config.models.map((m) => [m.id, m]));
    this.prices = new Map(Object.entries(config.prices).map(([id, p]) => [id, pricingFromJson(p)]));
  }

  /** Config routes, for /v1/models. */
  configRoutes(): ModelRouteInput[] {
    return this.config.models;
  }

  plan(requested: string, kind: ModelKind): RoutePlan {
    const candidates: Candidate[] = [];
    this.collect(requested, kind, candidates, new Set(), true);
    if (!candidates.length) throw modelNotFound(`The model "${requested}" has no available deployment.`);
    return { requested, candidates };
  }

  private dealias(name: string): string {
    const seen = new Set<string>();
    while (this.config.aliases[name] && !seen.has(name)) {
      seen.add(name);
      name = this.config.aliases[name];
    }
    return name;
  }

  private collect(requested: string, kind: ModelKind, out: Candidate[], visiting: Set<string>, primary: boolean): void {
    const name = this.dealias(requested);
    if (visiting.has(name)) return;
    visiting.add(name);
    const route = this.routes.get(name);
    if (route) {
      for (const d of this.orderDeployments(route)) {
        const entry = this.registry.get(d.provider);
        if (!entry?.enabled) continue;
        out.push({ modelId: route.id, entry, target: { provider: entry.provider, model: d.model }, pricing: this.deploymentPricing(route, d.provider, d.model) });
      }
      for (const fallback of route.fallbacks) {
        try {
          this.collect(fallback, kind, out, visiting, false);
        } catch (err) {
          if (!(err instanceof AppError)) throw err; // an unavailable fallback is skipped, not fatal
        }
      }
      return;
    }
    const model = this.resolveModel(name, kind, primary);
    if (model) out.push(model);
  }

  private orderDeployments(route: ModelRouteInput) {
    const deps = route.deployments;
    if (route.strategy === 'weighted' && deps.length > 1) {
      // Weighted random order without replacement: the first pick follows the weights, the rest are failover.
      const pool = [...deps];
      const ordered: typeof deps = [];
      while (pool.length) {
        const total = pool.reduce((s, d) => s + d.weight, 0);
        let r = Math.random() * total;
        let i = 0;
        while (i < pool.length - 1 && (r -= pool[i].weight) >= 0) i++;
        ordered.push(pool.splice(i, 1)[0]);
      }
      return ordered;
    }
    if (route.strategy === 'lowest-price' && deps.length > 1) {
      const price = (d: (typeof deps)[number]) => {
        const p = this.deploymentPricing(route, d.provider, d.model);
        return p.input + p.output;
      };
      return [...deps].sort((a, b) => (price(a) < price(b) ? -1 : price(a) > price(b) ? 1 : 0));
    }
    return deps;
  }

  private deploymentPricing(route: ModelRouteInput, provider: string, model: string): Pricing {
    const id = `${provider}/${model}`;
    return (
      this.prices.get(id) ??
      this.catalog.get(id)?.pricing ??
      this.prices.get(route.id) ??
      (route.pricing ? pricingFromJson(route.pricing) : undefined) ??
      this.catalog.byBareName(model).find((m) => m.enabled)?.pricing ??
      ZERO_PRICING
    );
  }

  private fromCatalog(m: CatalogModel, entry: ProviderEntry): Candidate {
    return { modelId: m.id, entry, target: { provider: entry.provider, model: m.upstreamId }, pricing: this.prices.get(m.id) ?? m.pricing };
  }

  /** Resolves `provider/model` or a bare name; throws a precise 404 when the primary model cannot be served. */
  private resolveModel(name: string, kind: ModelKind, primary: boolean): Candidate | undefined {
    const slash = name.indexOf('/');
    if (slash > 0) {
      const providerId = name.slice(0, slash);
      const entry = this.registry.get(providerId);
      if (entry) {
        if (!entry.enabled) throw modelNotFound(`The provider "${providerId}" is not enabled: ${entry.disabledReason}.`);
        // A provider derived from a preset (e.g. a second OpenAI account) shares the preset's catalog entries.
        const preset = entry.provider.preset;
        const m = this.catalog.get(name) ?? (preset && preset !== providerId ? this.catalog.get(`${preset}/${name.slice(slash + 1)}`) : undefined);
        if (m) {
          if (!m.enabled) throw modelNotFound(`The model "${name}" is disabled.`);
          if (m.kind !== kind) throw modelNotFound(`The model "${name}" is ${m.kind === 'embedding' ? 'an embedding' : 'a chat'} model.`);
          return { ...this.fromCatalog(m, entry), modelId: name, pricing: this.prices.get(name) ?? this.prices.get(m.id) ?? m.pricing };
        }
        // Local and declared endpoints serve whatever they host; cloud providers need a catalog entry for its price.
        if (entry.local) {
          return { modelId: name, entry, target: { provider: entry.provider, model: name.slice(slash + 1) }, pricing: this.prices.get(name) ?? ZERO_PRICING };
        }
        throw modelNotFound(`The model "${name}" is not in the catalog; an admin can add it with POST /api/admin/models.`);
      }
    }
    const matches = this.catalog
      .byBareName(name)
      .filter((m) => m.enabled && m.kind === kind && this.registry.get(m.provider)?.enabled)
      .sort((a, b) => (PRESET_ORDER.get(a.provider) ?? 99) - (PRESET_ORDER.get(b.provider) ?? 99));
    if (matches.length) return this.fromCatalog(matches[0], this.registry.get(matches[0].provider)!);
    if (!primary) return undefined;
    throw modelNotFound(`The model "${name}" does not exist or is not available. Use "provider/model" ids from GET /v1/models.`);
  }
}
