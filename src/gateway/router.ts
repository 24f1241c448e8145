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
import { pricingFromJson, usdToMicro, ZERO_PRICING, type Pricing } from '../domain/pricing.ts';
import type { DeploymentStats } from './deployment-stats.ts';
import { AppError, notFound } from '../errors.ts';

export type ModelKind = 'chat' | 'embedding';

export interface Candidate {
  /** The public model id billed and reported (`provider/model`, or a config route's id). */
  modelId: string;
  entry: ProviderEntry;
  target: UpstreamTarget;
  pricing: Pricing;
  /** The model's own output limit (tokens) from the catalog, when known: admission reserves up to it. */
  maxOutputTokens?: number;
  /** Per-model timeouts from a config route (they override the provider's and the global ones). */
  timeouts?: { firstByteMs?: number; idleMs?: number; totalMs?: number; connectMs?: number };
}

const maxOutput = (m: CatalogModel | undefined): { maxOutputTokens?: number } => (m?.maxOutputTokens ? { maxOutputTokens: m.maxOutputTokens } : {});

export interface RoutePlan {
  requested: string;
  candidates: Candidate[];
}

export interface RouteExplanation {
  requested: string;
  /** Each name the alias chain passed through, in order (empty: no alias). */
  aliases: string[];
  /** The name after aliases. */
  resolved: string;
  route: ModelRouteInput | undefined;
  candidates: Candidate[];
  error: AppError | undefined;
}

const modelNotFound = (message: string) => notFound(message, 'model_not_found', 'model');

export type SortBy = 'price' | 'throughput' | 'latency';

/**
 * OpenRouter-style per-request provider preferences. Only the fields below are acted on; the other OpenRouter
 * fields (`require_parameters`, `data_collection`, `zdr`, `quantizations`, ...) are accepted and ignored.
 */
export interface ProviderPreferences {
  order?: string[];
  only?: string[];
  ignore?: string[];
  allow_fallbacks?: boolean;
  /** A string, or OpenRouter's object form: `partition: "model"` (default) sorts within each model, `"none"` across all. */
  sort?: SortBy | { by: SortBy; partition?: 'model' | 'none' | null };
  /** USD per million tokens (`request`, `image`, ... are accepted and ignored). */
  max_price?: { prompt?: number; completion?: number };
}

export interface RoutingPreferences {
  /** Ordered fallback models after the requested one. */
  models?: string[];
  provider?: ProviderPreferences;
}

/** The candidates of one model (its deployments, or the providers serving it), with the sort asked for it. */
interface Group {
  candidates: Candidate[];
  sort: SortBy | undefined;
}

/** `:nitro` (fastest throughput) and `:floor` (cheapest) model suffixes, OpenRouter style. */
function splitSuffix(id: string): { model: string; sort: SortBy | undefined } {
  if (id.endsWith(':nitro')) return { model: id.slice(0, -6), sort: 'throughput' };
  if (id.endsWith(':floor')) return { model: id.slice(0, -6), sort: 'price' };
  return { model: id, sort: undefined };
}

/** The same deployment reached twice (a fallback listing the primary) is tried once, at its first place. */
function dedupe(groups: Group[]): Group[] {
  const seen = new Set<string>();
  const out: Group[] = [];
  for (const g of groups) {
    const candidates = g.candidates.filter((c) => {
      const id = `${c.modelId}|${c.entry.provider.id}/${c.target.model}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    if (candidates.length) out.push({ candidates, sort: g.sort });
  }
  return out;
}
const PRESET_ORDER = new Map(PRESETS.map((p, i) => [p.id, i]));

export class Router {
  private readonly routes: Map<string, ModelRouteInput>;
  private readonly prices: Map<string, Pricing>;

  constructor(
    private readonly config: Config,
    private readonly registry: ProviderRegistry,
    private readonly catalog: Catalog,
    private readonly stats?: DeploymentStats,
  ) {
    this.routes = new Map(config.models.map((m) => [m.id, m]));
    this.prices = new Map(Object.entries(config.prices).map(([id, p]) => [id, pricingFromJson(p)]));
  }

  /** Config routes, for /v1/models. */
  configRoutes(): ModelRouteInput[] {
    return this.config.models;
  }

  /**
   * Candidates for a request, in the order to try them, model by model: the requested model, then the request's
   * `models` fallbacks in order, then the config routes' `fallbacks`. Within each model, candidates are
   * filtered and ordered by the `provider` preferences (OpenRouter's `order`, `only`, `ignore`,
   * `allow_fallbacks`, `sort`, `max_price`); sorting never moves a fallback model ahead of the requested one
   * (unless `sort: {by, partition: "none"}` asks for one sort across all models). A `:nitro` suffix sorts that
   * model's candidates by throughput, `:floor` by price; an explicit `provider.sort` wins over suffixes.
   */
  plan(requested: string, kind: ModelKind, prefs?: RoutingPreferences): RoutePlan {
    const p = prefs?.provider;
    const explicit = typeof p?.sort === 'string' ? p.sort : p?.sort?.by;
    const primary = splitSuffix(requested);
    const groups: Group[] = [];
    const visiting = new Set<string>();
    // Route fallbacks come after the request's own `models`: the client's explicit list is tried first.
    const deferred: { id: string; sort: SortBy | undefined }[] = [];
    this.collect(primary.model, kind, explicit ?? primary.sort, groups, visiting, true, deferred);
    for (const id of prefs?.models ?? []) {
      const f = splitSuffix(id);
      if (f.model === primary.model) continue;
      this.tryCollect(f.model, kind, explicit ?? f.sort, groups, visiting, deferred);
    }
    for (const d of deferred) this.tryCollect(d.id, kind, d.sort, groups, visiting);
    if (!groups.length) throw modelNotFound(`The model "${requested}" has no available deployment.`);
    let ordered = dedupe(groups);
    if (explicit && typeof p?.sort === 'object' && p.sort.partition === 'none') ordered = [{ candidates: ordered.flatMap((g) => g.candidates), sort: explicit }];
    const candidates = ordered.flatMap((g) => this.applyPreferences(g.candidates, p, g.sort));
    if (!candidates.length) throw notFound(`No deployment of "${requested}" matches the request's provider preferences.`, 'no_eligible_deployment', 'provider');
    return { requested, candidates };
  }

  /** Filters and orders one model's candidates. */
  private applyPreferences(candidates: Candidate[], p: ProviderPreferences | undefined, sort: SortBy | undefined): Candidate[] {
    let out = candidates;
    if (p?.only?.length) out = out.filter((c) => p.only!.includes(c.entry.provider.id));
    if (p?.ignore?.length) out = out.filter((c) => !p.ignore!.includes(c.entry.provider.id));
    const max = p?.max_price;
    if (max && (max.prompt !== undefined || max.completion !== undefined)) {
      const prompt = max.prompt === undefined ? undefined : usdToMicro(max.prompt, 'provider.max_price.prompt');
      const completion = max.completion === undefined ? undefined : usdToMicro(max.completion, 'provider.max_price.completion');
      out = out.filter((c) => (prompt === undefined || c.pricing.input <= prompt) && (completion === undefined || c.pricing.output <= completion));
    }
    if (sort && out.length > 1) out = this.sortBy(out, sort);
    if (p?.order?.length) {
      const rank = new Map(p.order.map((id, i) => [id, i]));
      const preferred = out.filter((c) => rank.has(c.entry.provider.id)).sort((a, b) => rank.get(a.entry.provider.id)! - rank.get(b.entry.provider.id)!);
      out = p.allow_fallbacks === false ? preferred : [...preferred, ...out.filter((c) => !rank.has(c.entry.provider.id))];
    } else if (p?.allow_fallbacks === false && out.length > 1) {
      out = [out[0]];
    }
    return out;
  }

  /** Stable sorts: cheapest (input + output price), fastest (tokens/s) or quickest (latency) first. */
  private sortBy(candidates: Candidate[], sort: SortBy): Candidate[] {
    const key = (c: Candidate): number => {
      const id = `${c.entry.provider.id}/${c.target.model}`;
      if (sort === 'price') return Number(c.pricing.input + c.pricing.output);
      if (sort === 'throughput') return -(this.stats?.throughputOf(id) ?? 0);
      return this.stats?.latencyOf(id) ?? 0;
    };
    return candidates
      .map((c, i) => ({ c, i, k: key(c) }))
      .sort((a, b) => a.k - b.k || a.i - b.i)
      .map((x) => x.c);
  }

  /**
   * Read-only account of how `requested` resolves, for the admin resolve endpoint: the alias chain, the config
   * route (if any) and the candidates plan() would try, in order. Reuses plan(), so it cannot drift from it;
   * an unresolvable model comes back with its error instead of throwing.
   */
  explain(requested: string, kind: ModelKind): RouteExplanation {
    const aliases: string[] = [];
    const seen = new Set<string>();
    let name = requested;
    while (this.config.aliases[name] && !seen.has(name)) {
      seen.add(name);
      name = this.config.aliases[name];
      aliases.push(name);
    }
    const route = this.routes.get(name);
    try {
      return { requested, aliases, resolved: name, route, candidates: this.plan(requested, kind).candidates, error: undefined };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return { requested, aliases, resolved: name, route, candidates: [], error: err };
    }
  }

  private dealias(name: string): string {
    const seen = new Set<string>();
    while (this.config.aliases[name] && !seen.has(name)) {
      seen.add(name);
      name = this.config.aliases[name];
    }
    return name;
  }

  /**
   * Adds the groups of one model: a config route's deployments (then its fallbacks, at once or into `deferred`),
   * or the catalog candidates of `provider/model` or a bare name. `sort` applies to everything it adds.
   */
  private collect(
    requested: string,
    kind: ModelKind,
    sort: SortBy | undefined,
    out: Group[],
    visiting: Set<string>,
    primary: boolean,
    deferred?: { id: string; sort: SortBy | undefined }[],
  ): void {
    const name = this.dealias(requested);
    if (visiting.has(name)) return;
    visiting.add(name);
    const route = this.routes.get(name);
    if (route) {
      const candidates: Candidate[] = [];
      for (const d of this.orderDeployments(route)) {
        const entry = this.registry.get(d.provider);
        if (!entry?.enabled) continue;
        const t = route.timeouts;
        candidates.push({
          modelId: route.id,
          entry,
          target: { provider: entry.provider, model: d.model },
          pricing: this.deploymentPricing(route, d.provider, d.model),
          ...maxOutput(this.catalog.get(`${d.provider}/${d.model}`)),
          ...(t ? { timeouts: { firstByteMs: t.first_byte_ms, idleMs: t.stream_idle_ms, totalMs: t.total_ms, connectMs: t.connect_ms } } : {}),
        });
      }
      if (candidates.length) out.push({ candidates, sort });
      for (const fallback of route.fallbacks) {
        const f = splitSuffix(fallback);
        if (deferred) deferred.push({ id: f.model, sort: f.sort ?? sort });
        else this.tryCollect(f.model, kind, f.sort ?? sort, out, visiting);
      }
      return;
    }
    const candidates = this.resolveModel(name, kind, primary);
    if (candidates.length) out.push({ candidates, sort });
  }

  /** collect() for a fallback: an unavailable one is skipped, not fatal. */
  private tryCollect(id: string, kind: ModelKind, sort: SortBy | undefined, out: Group[], visiting: Set<string>, deferred?: { id: string; sort: SortBy | undefined }[]): void {
    try {
      this.collect(id, kind, sort, out, visiting, false, deferred);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
    }
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
    if (route.strategy === 'least-latency' && deps.length > 1 && this.stats) {
      const stats = this.stats;
      return deps
        .map((d, i) => ({ d, i, k: stats.latencyOf(`${d.provider}/${d.model}`) }))
        .sort((a, b) => a.k - b.k || a.i - b.i)
        .map((x) => x.d);
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
    return { modelId: m.id, entry, target: { provider: entry.provider, model: m.upstreamId }, pricing: this.prices.get(m.id) ?? m.pricing, ...maxOutput(m) };
  }

  /** Resolves `provider/model` or a bare name; throws a precise 404 when the primary model cannot be served. */
  private resolveModel(name: string, kind: ModelKind, primary: boolean): Candidate[] {
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
          return [{ ...this.fromCatalog(m, entry), modelId: name, pricing: this.prices.get(name) ?? this.prices.get(m.id) ?? m.pricing }];
        }
        // Local and declared endpoints serve whatever they host; cloud providers need a catalog entry for its price.
        if (entry.local) {
          return [{ modelId: name, entry, target: { provider: entry.provider, model: name.slice(slash + 1) }, pricing: this.prices.get(name) ?? ZERO_PRICING }];
        }
        throw modelNotFound(`The model "${name}" is not in the catalog; an admin can add it with POST /api/admin/models.`);
      }
    }
    const matches = this.catalog
      .byBareName(name)
      .filter((m) => m.enabled && m.kind === kind && this.registry.get(m.provider)?.enabled)
      .sort((a, b) => (PRESET_ORDER.get(a.provider) ?? 99) - (PRESET_ORDER.get(b.provider) ?? 99));
    // A bare name served by several enabled providers fails over across them, built-in provider order first.
    if (matches.length) return matches.map((m) => this.fromCatalog(m, this.registry.get(m.provider)!));
    if (!primary) return [];
    throw modelNotFound(`The model "${name}" does not exist or is not available. Use "provider/model" ids from GET /v1/models.`);
  }
}
