/**
 * Task routers as model ids: `router:code[:balanced|price|quality|agentic]` and `router:auto`. A decision is
 * pure and in memory (classify the messages, pick a tier, pick the best enabled model of it); the chat
 * pipeline then plans the chosen model like any other, with the request's routing preferences, and adds
 * the decision to the response headers.
 */
import type { Config } from '../../config/schema.ts';
import type { ProviderRegistry } from '../../providers/registry.ts';
import type { Catalog } from '../../domain/catalog/catalog.ts';
import type { ChatMessage } from '../../providers/types.ts';
import { microToUsd, type Pricing } from '../../domain/pricing.ts';
import { AppError, badRequest, notFound } from '../../errors.ts';
import type { Candidate, Router, RoutingPreferences } from '../router.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import { CATEGORIES, CATEGORY_INFO, classify, COMPLEXITIES, COMPLEXITY_INFO, type Category, type Complexity } from './classify.ts';
import { checkStructure, CODE_MODES, loadRouterData, mergeRouterData, type CodeMode, type Problem, type RouterData, type RouterDataInput } from './data.ts';
import { estimateSavings, NoModelAvailable, selectAuto, selectCode, type FallbackKind, type ModelFacts, type SavingsEstimate, type SelectOptions } from './select.ts';

export { CODE_MODES, type CodeMode, type RouterData, type RouterDataInput, type Problem } from './data.ts';
export type { ModelFacts, SavingsEstimate } from './select.ts';

export const ROUTER_HEADERS = [
  'x-switchyard-router',
  'x-switchyard-router-category',
  'x-switchyard-router-complexity',
  'x-switchyard-router-tier',
  'x-switchyard-router-model',
  'x-switchyard-router-savings',
] as const;

export type RouterTarget = { router: 'code'; mode: CodeMode } | { router: 'auto'; mode: 'auto' };

/** `router:code`, `router:code:<mode>`, `router:auto`; undefined for any other model id. */
export function parseRouterModel(model: string): RouterTarget | undefined {
  if (!model.startsWith('router:')) return undefined;
  const parts = model.split(':');
  if (parts[1] === 'auto' && parts.length === 2) return { router: 'auto', mode: 'auto' };
  if (parts[1] === 'code' && parts.length <= 3) {
    const mode = (parts[2] ?? 'balanced') as CodeMode;
    if ((CODE_MODES as readonly string[]).includes(mode)) return { router: 'code', mode };
  }
  throw badRequest(`Unknown router "${model}". Use router:code, router:code:{${CODE_MODES.join('|')}} or router:auto.`, 'invalid_router', 'model');
}

export const modelIdOf = (mode: CodeMode | 'auto') => (mode === 'auto' ? 'router:auto' : mode === 'balanced' ? 'router:code' : `router:code:${mode}`);

export interface RouterInput {
  messages: ChatMessage[];
  tools?: readonly unknown[] | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
}

export interface RouterDecision {
  router: 'code' | 'auto';
  mode: CodeMode | 'auto';
  /** The `x-switchyard-router` value: `code:<mode>` or `auto`. */
  label: string;
  category: Category;
  complexity: Complexity;
  confidence: number;
  signals: string[];
  /** Where the model came from: a tier id, `cheap`/`strong` (auto), `fallback` or `any`. */
  tier: string;
  target_tier: string;
  model: string;
  provider: string | undefined;
  alternates: string[];
  fallback: FallbackKind;
  require_tools: boolean;
  reason: string;
  estimated_tokens: { input: number; output: number };
  savings: SavingsEstimate | undefined;
  /** Time the decision took, microseconds. */
  decision_us: number;
}

export interface RoutedRequest {
  decision: RouterDecision;
  /** The model to plan, and the preferences to plan it with (the decision's alternates become fallbacks). */
  model: string;
  prefs: RoutingPreferences;
  headers: Record<string, string>;
}

export function decisionHeaders(d: RouterDecision): Record<string, string> {
  const h: Record<string, string> = {
    'x-switchyard-router': d.label,
    'x-switchyard-router-category': d.category,
    'x-switchyard-router-complexity': d.complexity,
    'x-switchyard-router-tier': d.tier,
    'x-switchyard-router-model': d.model,
  };
  if (d.savings) h['x-switchyard-router-savings'] = String(d.savings.percent);
  return h;
}

const toUsd = (p: Pricing) => ({ input: microToUsd(p.input), output: microToUsd(p.output) });

export class Routers {
  readonly data: RouterData;
  /** Declared tool support per model (tier entries with `tools`). */
  private readonly declaredTools = new Map<string, boolean>();
  private factsCache = new Map<string, ModelFacts>();
  private anyCache: ModelFacts[] | undefined;
  private cacheVersion = -1;

  constructor(
    private readonly config: Config,
    private readonly registry: ProviderRegistry,
    private readonly catalog: Catalog,
    private readonly router: Router,
    data?: RouterData,
    private readonly metrics?: Metrics,
  ) {
    this.data = data ?? loadRouterData(config.routers);
    for (const t of this.data.tiers) for (const m of t.models) if (m.tools !== undefined) this.declaredTools.set(m.id, m.tools);
  }

  /** For the chat pipeline: undefined unless the model is a router id. */
  route(request: RouterInput & { model: string }, prefs: RoutingPreferences = {}): RoutedRequest | undefined {
    if (!request.model.startsWith('router:')) return undefined;
    const decision = this.decide(request.model, request, prefs);
    // Counted here, not in decide(): dry runs (/api/routers/code/test) have no metrics side effects.
    this.metrics?.routerDecisions.inc({ router: decision.label, category: decision.category, tier: decision.tier, fallback: decision.fallback });
    return {
      decision,
      model: decision.model,
      prefs: { ...prefs, models: [...(prefs.models ?? []), ...decision.alternates] },
      headers: decisionHeaders(decision),
    };
  }

  /** The decision for a router model id (pure: no upstream call, no metrics, no logs). */
  decide(model: string, input: RouterInput, prefs: RoutingPreferences = {}): RouterDecision {
    const t0 = performance.now();
    const target = parseRouterModel(model);
    if (!target) throw badRequest(`"${model}" is not a router model id.`, 'invalid_router', 'model');
    const c = classify({ messages: input.messages, tools: input.tools });
    const base: SelectOptions = { facts: (id) => this.facts(id), anyModels: () => this.anyModels() };
    const select = (opts: SelectOptions) => (target.router === 'code' ? selectCode(this.data, c, target.mode, opts) : selectAuto(this.data, c, opts));
    let sel;
    try {
      const eligible = this.eligibility(prefs);
      try {
        sel = select(eligible ? { ...base, eligible } : base);
      } catch (err) {
        // Nothing matches the provider preferences: decide without them; planning then reports the precise reason.
        if (!(err instanceof NoModelAvailable) || !eligible) throw err;
        sel = select(base);
      }
    } catch (err) {
      if (err instanceof NoModelAvailable) throw notFound(err.message, 'model_not_found', 'model');
      throw err;
    }
    const output = input.max_completion_tokens ?? input.max_tokens ?? this.data.default_output_tokens;
    const chosen = this.facts(sel.model);
    const savings = estimateSavings(this.data.baseline, this.priceOf(this.data.baseline), chosen.price, c.inputTokens, output);
    return {
      router: target.router,
      mode: target.mode,
      label: target.router === 'code' ? `code:${target.mode}` : 'auto',
      category: c.category,
      complexity: c.complexity,
      confidence: c.confidence,
      signals: c.signals,
      tier: sel.tier,
      target_tier: sel.target,
      model: sel.model,
      provider: chosen.provider,
      alternates: sel.alternates,
      fallback: sel.fallback,
      require_tools: sel.requireTools,
      reason: sel.reason,
      estimated_tokens: { input: c.inputTokens, output },
      savings,
      decision_us: Math.round((performance.now() - t0) * 1000),
    };
  }

  /** A filter for the request's provider preferences, when they restrict anything. */
  private eligibility(prefs: RoutingPreferences): ((id: string) => boolean) | undefined {
    const p = prefs.provider;
    if (!p || !(p.only?.length || p.ignore?.length || p.max_price || (p.allow_fallbacks === false && p.order?.length))) return undefined;
    const memo = new Map<string, boolean>();
    return (id) => {
      let ok = memo.get(id);
      if (ok === undefined) {
        try {
          this.router.plan(id, 'chat', { provider: p });
          ok = true;
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          ok = false;
        }
        memo.set(id, ok);
      }
      return ok;
    };
  }

  private fresh(): void {
    if (this.cacheVersion !== this.catalog.version) {
      this.factsCache = new Map();
      this.anyCache = undefined;
      this.cacheVersion = this.catalog.version;
    }
  }

  /** What the routers know about a model now (cached until the catalog changes). */
  facts(id: string): ModelFacts {
    this.fresh();
    let f = this.factsCache.get(id);
    if (!f) {
      f = this.computeFacts(id);
      this.factsCache.set(id, f);
    }
    return f;
  }

  /** Facts without caching them (ids from a proposal need not stay in memory). */
  private peek(id: string): ModelFacts {
    this.fresh();
    return this.factsCache.get(id) ?? this.computeFacts(id);
  }

  private computeFacts(id: string): ModelFacts {
    let candidates: Candidate[];
    try {
      candidates = this.router.plan(id, 'chat').candidates;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      const price = this.priceOf(id);
      return { id, available: false, reason: err.message, price, tools: this.declaredTools.get(id) ?? this.catalog.get(id)?.capabilities.tools === true, offline: false };
    }
    const c = candidates[0];
    const entry = c.entry;
    const catalogEntry = this.catalog.get(id) ?? this.catalog.get(c.modelId) ?? this.catalog.get(`${entry.provider.preset ?? entry.provider.id}/${c.target.model}`);
    return {
      id,
      available: true,
      price: toUsd(c.pricing),
      tools: this.declaredTools.get(id) ?? catalogEntry?.capabilities.tools === true,
      offline: candidates.every((x) => x.entry.provider.type === 'mock'),
      provider: entry.provider.id,
    };
  }

  /** Price of a model whether or not it is available (config prices, then the catalog). */
  priceOf(id: string): ModelFacts['price'] {
    const configured = this.config.prices[id];
    if (configured) return { input: configured.input, output: configured.output };
    const m = this.catalog.get(id) ?? this.catalog.byBareName(id).find((x) => x.enabled && x.kind === 'chat');
    if (m) return toUsd(m.pricing);
    const route = this.config.models.find((r) => r.id === id);
    if (route?.pricing) return { input: route.pricing.input, output: route.pricing.output };
    try {
      return toUsd(this.router.plan(id, 'chat').candidates[0].pricing);
    } catch {
      return undefined;
    }
  }

  /** Enabled chat models of real providers, cheapest first: the fallback of last resort. */
  private anyModels(): ModelFacts[] {
    this.fresh();
    if (!this.anyCache) {
      const blended = (f: ModelFacts) => (f.price ? 3 * f.price.input + f.price.output : 0);
      this.anyCache = this.catalog
        .list()
        .filter((m) => m.enabled && m.kind === 'chat' && this.registry.get(m.provider)?.enabled && this.registry.get(m.provider)?.provider.type !== 'mock')
        .map((m) => this.facts(m.id))
        .filter((f) => f.available)
        .sort((a, b) => blended(a) - blended(b));
    }
    return this.anyCache;
  }

  /** Whether a model id names something this gateway knows: a config route or alias, a catalog model, or a model of a local provider. */
  private known(id: string): { known: boolean; message?: string } {
    let name = id;
    const seen = new Set<string>();
    while (this.config.aliases[name] && !seen.has(name)) {
      seen.add(name);
      name = this.config.aliases[name];
    }
    if (this.config.models.some((r) => r.id === name)) return { known: true };
    const slash = name.indexOf('/');
    const entry = slash > 0 ? this.registry.get(name.slice(0, slash)) : undefined;
    const preset = entry?.provider.preset;
    const m = this.catalog.get(name) ?? (entry && preset && preset !== entry.provider.id ? this.catalog.get(`${preset}/${name.slice(slash + 1)}`) : undefined);
    if (m) return m.kind === 'chat' ? { known: true } : { known: false, message: `"${id}" is an embedding model` };
    if (entry?.local) return { known: true };
    if (!entry && this.catalog.byBareName(name).some((x) => x.kind === 'chat')) return { known: true };
    return { known: false, message: `unknown model "${id}": not in the catalog, the config's models or a local provider` };
  }

  /** Tiers with their models and what is available now. */
  tiersView() {
    const d = this.data;
    const model = (id: string) => {
      const f = this.facts(id);
      return { available: f.available, ...(f.reason ? { reason: f.reason } : {}), provider: f.provider ?? (id.includes('/') ? id.slice(0, id.indexOf('/')) : null), tools: f.tools, offline: f.offline, price: f.price ?? null };
    };
    const tiers = d.tiers.map((t, i) => {
      const models = t.models.map((m) => ({ id: m.id, score: m.score, strengths: m.strengths, ...model(m.id) }));
      return { id: t.id, rank: i + 1, description: t.description ?? null, available: models.filter((m) => m.available && !m.offline).length, models };
    });
    return {
      tiers,
      baseline: { id: d.baseline, price: this.priceOf(d.baseline) ?? null },
      fallback: { id: d.fallback, ...model(d.fallback) },
      default_output_tokens: d.default_output_tokens,
    };
  }

  /** Modes, categories, complexity levels and the auto policy. */
  optionsView() {
    const d = this.data;
    return {
      modes: CODE_MODES.map((m) => ({ id: m, model: modelIdOf(m), description: d.modes[m].description, tiers: d.modes[m].tiers, price_weight: d.modes[m].price_weight, require_tools: d.modes[m].require_tools })),
      categories: CATEGORIES.map((c) => ({ id: c, description: CATEGORY_INFO[c], min_tier: d.category_min_tier[c] ?? null })),
      complexity: COMPLEXITIES.map((c) => ({ id: c, description: COMPLEXITY_INFO[c] })),
      auto: { model: 'router:auto', ...d.auto },
      baseline: d.baseline,
      headers: [...ROUTER_HEADERS],
    };
  }

  /**
   * Checks a proposed router configuration (merged over the one in effect, as the config file's `routers:`
   * would be): structure and values, unknown models (errors), models not available now (warnings).
   */
  validate(proposal: RouterDataInput): { valid: boolean; errors: Problem[]; warnings: Problem[]; summary: { tiers: number; models: number; available: number } } {
    const merged = mergeRouterData(this.data, proposal);
    const { errors, warnings } = checkStructure(merged);
    let models = 0;
    let available = 0;
    const checkModel = (path: string, id: string) => {
      if (!id) return;
      const k = this.known(id);
      if (!k.known) {
        errors.push({ path, message: k.message! });
        return;
      }
      const f = this.peek(id);
      if (!f.available) warnings.push({ path, message: `"${id}" is not available now: ${f.reason}` });
    };
    (merged.tiers ?? []).forEach((t, i) => {
      let usable = 0;
      t.models.forEach((m, j) => {
        models++;
        checkModel(`tiers.${i}.models.${j}.id`, m.id);
        const f = m.id ? this.peek(m.id) : undefined;
        if (f?.available) {
          available++;
          if (!f.offline) usable++;
        }
      });
      if (t.models.length && !usable) warnings.push({ path: `tiers.${i}`, message: `tier "${t.id}" has no model available now (requests fall back to other tiers)` });
    });
    if (merged.baseline) {
      checkModel('baseline', merged.baseline);
      if (!this.priceOf(merged.baseline)) errors.push({ path: 'baseline', message: `the baseline "${merged.baseline}" has no known price` });
    }
    if (merged.fallback) checkModel('fallback', merged.fallback);
    for (const list of ['cheap', 'strong'] as const) (merged.auto?.[list] ?? []).forEach((id, i) => checkModel(`auto.${list}.${i}`, id));
    for (const mode of CODE_MODES) {
      if (!merged.modes?.[mode]?.require_tools) continue;
      const anyTools = (merged.tiers ?? []).some((t) => t.models.some((m) => m.tools ?? this.peek(m.id).tools));
      if (!anyTools) warnings.push({ path: `modes.${mode}.require_tools`, message: `mode "${mode}" requires tools but no listed model supports them` });
    }
    return { valid: errors.length === 0, errors, warnings, summary: { tiers: merged.tiers?.length ?? 0, models, available } };
  }
}
