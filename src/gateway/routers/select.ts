/**
 * Model selection for the routers: pure functions over the router data, a classification and what is
 * available right now (`ModelFacts`). No I/O; the `Routers` class supplies the facts from the catalog, the
 * provider registry and the config.
 */
import type { Classification } from './classify.ts';
import { COMPLEXITIES } from './classify.ts';
import type { AutoPolicy, CodeMode, RouterData, TierModel } from './data.ts';

export interface ModelFacts {
  id: string;
  /** Servable now: an enabled provider and a catalog entry or config route. */
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  /** USD per million tokens (estimates only; billing uses exact prices). */
  price?: { input: number; output: number };
  tools: boolean;
  /** Served only by the offline mock provider: a last resort, never preferred over a real model. */
  offline: boolean;
  provider?: string;
}

export type FactsOf = (id: string) => ModelFacts;

export interface SelectOptions {
  facts: FactsOf;
  /** Extra per-request filter (e.g. the request's provider preferences). */
  eligible?: (id: string) => boolean;
  /** Enabled chat models outside the router data, cheapest first: the last fallback before offline models. */
  anyModels?: () => ModelFacts[];
}

export type FallbackKind = 'none' | 'tier' | 'fallback_model' | 'any_model' | 'offline';

export interface Selection {
  model: string;
  /** Where the model came from: a tier id, `cheap`/`strong` (auto), `fallback` or `any`. */
  tier: string;
  /** The tier (or auto list) the rules asked for. */
  target: string;
  fallback: FallbackKind;
  /** Next choices, in order (the pipeline fails over to them). */
  alternates: string[];
  requireTools: boolean;
  /** A human-readable account of the choice. */
  reason: string;
}

export class NoModelAvailable extends Error {
  override name = 'NoModelAvailable';
}

const blended = (p: ModelFacts['price']) => (p ? (3 * p.input + p.output) / 4 : 0);

/** Score plus a category bonus, minus a price penalty weighted by the mode. */
export function modelValue(m: TierModel, f: ModelFacts, category: string, priceWeight: number): number {
  return m.score + (m.strengths.includes(category) ? 5 : 0) - priceWeight * 10 * Math.log2(1 + blended(f.price));
}

/** Tier indexes to try (strongest first = 0): the target, then neighbours in the mode's direction. */
export function tierOrder(count: number, target: number, floor: number, mode: CodeMode): number[] {
  const stronger = Array.from({ length: target }, (_, i) => target - 1 - i);
  const cheaper = Array.from({ length: count - target - 1 }, (_, i) => target + 1 + i);
  let rest: number[];
  if (mode === 'price') rest = [...cheaper, ...stronger];
  else if (mode === 'quality' || mode === 'agentic') rest = [...stronger, ...cheaper];
  else {
    rest = [];
    for (let i = 0; i < Math.max(stronger.length, cheaper.length); i++) {
      if (i < stronger.length) rest.push(stronger[i]);
      if (i < cheaper.length) rest.push(cheaper[i]);
    }
  }
  // Tiers below the category's floor come last: a weaker model only when nothing at or above it is available.
  return [target, ...rest.filter((t) => t <= floor), ...rest.filter((t) => t > floor)];
}

function tierIndex(data: RouterData, id: string | undefined): number {
  const i = id === undefined ? -1 : data.tiers.findIndex((t) => t.id === id);
  return i;
}

/** The tier the rules ask for: the mode's tier for the complexity, raised to the category's floor. */
export function targetTier(data: RouterData, c: Classification, mode: CodeMode): { target: number; floor: number } {
  const last = data.tiers.length - 1;
  let target = tierIndex(data, data.modes[mode].tiers[c.complexity]);
  if (target < 0) target = Math.min(last, COMPLEXITIES.length - 1 - COMPLEXITIES.indexOf(c.complexity));
  const floorIdx = tierIndex(data, data.category_min_tier[c.category]);
  const floor = floorIdx < 0 ? last : floorIdx;
  return { target: Math.min(target, floor), floor };
}

export function selectCode(data: RouterData, c: Classification, mode: CodeMode, opts: SelectOptions): Selection {
  const rule = data.modes[mode];
  const { target, floor } = targetTier(data, c, mode);
  const wantTools = rule.require_tools || c.tools;
  const attempt = (requireTools: boolean): Selection | undefined => {
    const ok = (id: string, offline: boolean) => {
      const f = opts.facts(id);
      return f.available && f.offline === offline && (!requireTools || f.tools) && (opts.eligible?.(id) ?? true);
    };
    const picks: { id: string; tier: string; kind: FallbackKind }[] = [];
    const order = tierOrder(data.tiers.length, target, floor, mode);
    const rankTier = (t: number, offline: boolean) => {
      const tier = data.tiers[t];
      return tier.models
        .map((m, i) => ({ m, i }))
        .filter(({ m }) => ok(m.id, offline))
        .map(({ m, i }) => ({ id: m.id, i, v: modelValue(m, opts.facts(m.id), c.category, rule.price_weight) }))
        .sort((a, b) => b.v - a.v || a.i - b.i)
        .map((x) => ({ id: x.id, tier: tier.id, kind: (t === target ? 'none' : 'tier') as FallbackKind }));
    };
    for (const t of order) {
      picks.push(...rankTier(t, false));
      if (picks.length >= 3) break;
    }
    if (picks.length < 3 && ok(data.fallback, false) && !picks.some((p) => p.id === data.fallback)) picks.push({ id: data.fallback, tier: 'fallback', kind: 'fallback_model' });
    if (!picks.length && opts.anyModels) {
      for (const f of opts.anyModels()) {
        if (picks.length >= 3) break;
        if (ok(f.id, false)) picks.push({ id: f.id, tier: 'any', kind: 'any_model' });
      }
    }
    if (!picks.length) {
      for (const t of order) picks.push(...rankTier(t, true).map((p) => ({ ...p, kind: 'offline' as FallbackKind })));
      if (!picks.length && ok(data.fallback, true)) picks.push({ id: data.fallback, tier: 'fallback', kind: 'offline' });
    }
    if (!picks.length) return undefined;
    const first = picks[0];
    const want = data.tiers[target].id;
    const reason =
      first.kind === 'none'
        ? `tier "${want}" for ${c.complexity} ${c.category} in ${mode} mode`
        : first.kind === 'tier'
          ? `tier "${want}" has no available${requireTools ? ' tool-capable' : ''} model; used tier "${first.tier}"`
          : first.kind === 'fallback_model'
            ? `no tier has an available${requireTools ? ' tool-capable' : ''} model; used the fallback model`
            : first.kind === 'any_model'
              ? `no listed model is available; used an enabled catalog model`
              : `no real provider is available; used the offline mock provider`;
    return { model: first.id, tier: first.tier, target: want, fallback: first.kind, alternates: picks.slice(1, 3).map((p) => p.id), requireTools, reason };
  };
  const chosen = attempt(wantTools) ?? (wantTools ? attempt(false) : undefined);
  if (!chosen) throw new NoModelAvailable(`No model is available for router:code:${mode}: enable a provider listed in the router tiers.`);
  if (wantTools && !chosen.requireTools) chosen.reason += ' (no tool-capable model is available)';
  return chosen;
}

/** `router:auto`: the strong list for hard, long or coding prompts; the cheap list otherwise. */
export function wantsStrong(policy: AutoPolicy, c: Classification): { strong: boolean; why: string } {
  if (COMPLEXITIES.indexOf(c.complexity) >= COMPLEXITIES.indexOf(policy.strong_complexity)) return { strong: true, why: `${c.complexity} complexity` };
  if (policy.code_is_strong && c.code && c.category !== 'simple_question') return { strong: true, why: `coding task (${c.category})` };
  if (c.inputTokens >= policy.strong_min_tokens) return { strong: true, why: `long prompt (~${c.inputTokens} tokens)` };
  return { strong: false, why: `${c.complexity} complexity ${c.category.replace('_', ' ')}` };
}

export function selectAuto(data: RouterData, c: Classification, opts: SelectOptions): Selection {
  const policy = data.auto;
  const { strong, why } = wantsStrong(policy, c);
  const target = strong ? 'strong' : 'cheap';
  const lists: [string, string[]][] = strong ? [['strong', policy.strong], ['cheap', policy.cheap]] : [['cheap', policy.cheap], ['strong', policy.strong]];
  const attempt = (requireTools: boolean): Selection | undefined => {
    const ok = (id: string, offline: boolean) => {
      const f = opts.facts(id);
      return f.available && f.offline === offline && (!requireTools || f.tools) && (opts.eligible?.(id) ?? true);
    };
    const picks: { id: string; tier: string; kind: FallbackKind }[] = [];
    const push = (id: string, tier: string, kind: FallbackKind) => {
      if (picks.length < 3 && !picks.some((p) => p.id === id)) picks.push({ id, tier, kind });
    };
    for (const [name, list] of lists) for (const id of list) if (ok(id, false)) push(id, name, name === target ? 'none' : 'tier');
    if (picks.length < 3 && ok(data.fallback, false)) push(data.fallback, 'fallback', 'fallback_model');
    if (!picks.length && opts.anyModels) for (const f of opts.anyModels()) if (ok(f.id, false)) push(f.id, 'any', 'any_model');
    if (!picks.length) for (const [name, list] of lists) for (const id of list) if (ok(id, true)) push(id, name, 'offline');
    if (!picks.length) return undefined;
    const first = picks[0];
    const reason =
      first.kind === 'none'
        ? `${target} model: ${why}`
        : first.kind === 'offline'
          ? `${target} model wanted (${why}); no real provider is available, used the offline mock provider`
          : `${target} model wanted (${why}); none available, used ${first.tier === 'any' ? 'an enabled catalog model' : first.tier === 'fallback' ? 'the fallback model' : `the ${first.tier} list`}`;
    return { model: first.id, tier: first.tier, target, fallback: first.kind, alternates: picks.slice(1).map((p) => p.id), requireTools, reason };
  };
  const chosen = attempt(c.tools) ?? (c.tools ? attempt(false) : undefined);
  if (!chosen) throw new NoModelAvailable('No model is available for router:auto: enable a provider listed in the auto policy.');
  if (c.tools && !chosen.requireTools) chosen.reason += ' (no tool-capable model is available)';
  return chosen;
}

export interface SavingsEstimate {
  baseline: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  baseline_cost_usd: number;
  /** Percent saved against the baseline (negative: dearer than the baseline). */
  percent: number;
}

/** Estimated cost of the chosen model against the baseline's for the same tokens. */
export function estimateSavings(baseline: string, basePrice: ModelFacts['price'], price: ModelFacts['price'], inputTokens: number, outputTokens: number): SavingsEstimate | undefined {
  if (!basePrice || !price) return undefined;
  const cost = (p: { input: number; output: number }) => (inputTokens * p.input + outputTokens * p.output) / 1e6;
  const base = cost(basePrice);
  const mine = cost(price);
  if (base <= 0) return undefined;
  const round = (n: number, d: number) => Math.round(n * 10 ** d) / 10 ** d;
  return { baseline, input_tokens: inputTokens, output_tokens: outputTokens, cost_usd: round(mine, 8), baseline_cost_usd: round(base, 8), percent: round(((base - mine) / base) * 100, 1) };
}
