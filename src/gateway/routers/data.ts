/**
 * Router data: tiers with model scores, mode rules, category floors, the savings baseline and the
 * `router:auto` policy. Shipped in code-tiers.json; the config file's `routers:` replaces parts of it
 * (`tiers` and the auto lists as a whole, modes field by field).
 */
import { readFileSync } from 'node:fs';
import { RoutersConfigSchema, type RoutersConfig } from '../../config/schema.ts';
import { describeIssues } from '../../config/load.ts';
import { CATEGORIES, COMPLEXITIES, type Complexity } from './classify.ts';

export const CODE_MODES = ['balanced', 'price', 'quality', 'agentic'] as const;
export type CodeMode = (typeof CODE_MODES)[number];

export interface TierModel {
  id: string;
  score: number;
  strengths: string[];
  /** Declared tool support (else the catalog's `tools` capability). */
  tools?: boolean;
}

export interface Tier {
  id: string;
  description?: string;
  models: TierModel[];
}

export interface ModeRule {
  description: string;
  tiers: Record<Complexity, string>;
  /** How much price counts against score when ranking models of a tier (0: score only). */
  price_weight: number;
  require_tools: boolean;
}

export interface AutoPolicy {
  cheap: string[];
  strong: string[];
  /** Complexity from which prompts go to the strong list. */
  strong_complexity: 'medium' | 'high';
  /** Coding tasks (other than simple questions) go to the strong list. */
  code_is_strong: boolean;
  /** Prompts at least this long (estimated tokens) go to the strong list. */
  strong_min_tokens: number;
}

export interface RouterData {
  /** Strongest first. */
  tiers: Tier[];
  modes: Record<CodeMode, ModeRule>;
  category_min_tier: Record<string, string>;
  baseline: string;
  fallback: string;
  default_output_tokens: number;
  auto: AutoPolicy;
}

export interface Problem {
  path: string;
  message: string;
}

let shipped: RoutersConfig | undefined;

/** The data file, parsed once. */
export function shippedRouterData(): RoutersConfig {
  if (!shipped) {
    const raw: unknown = JSON.parse(readFileSync(new URL('./code-tiers.json', import.meta.url), 'utf8'));
    const parsed = RoutersConfigSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`src/gateway/routers/code-tiers.json: ${describeIssues(parsed.error)}`);
    shipped = parsed.data;
  }
  return shipped;
}

/** Loosely typed parts, as the validate endpoint receives them (ranges are checked by checkStructure). */
export type RouterDataInput = {
  tiers?: { id: string; description?: string; models: { id: string; score: number; strengths?: string[]; tools?: boolean }[] }[];
  modes?: Partial<Record<CodeMode, Partial<ModeRule>>>;
  category_min_tier?: Record<string, string>;
  baseline?: string;
  fallback?: string;
  default_output_tokens?: number;
  auto?: Partial<AutoPolicy>;
};

/** `over` on top of `base`: tiers and lists replace, modes and the auto policy merge field by field. */
export function mergeRouterData(base: RouterDataInput, over: RouterDataInput): RouterDataInput {
  const modes: Partial<Record<CodeMode, Partial<ModeRule>>> = { ...base.modes };
  for (const mode of CODE_MODES) {
    const o = over.modes?.[mode];
    if (o) modes[mode] = { ...modes[mode], ...o, tiers: o.tiers ? ({ ...modes[mode]?.tiers, ...o.tiers } as ModeRule['tiers']) : modes[mode]?.tiers };
  }
  return {
    tiers: over.tiers ?? base.tiers,
    modes,
    category_min_tier: over.category_min_tier ? { ...base.category_min_tier, ...over.category_min_tier } : base.category_min_tier,
    baseline: over.baseline ?? base.baseline,
    fallback: over.fallback ?? base.fallback,
    default_output_tokens: over.default_output_tokens ?? base.default_output_tokens,
    auto: { ...base.auto, ...over.auto },
  };
}

/**
 * Structure and value checks that need no catalog: every part present, tiers non-empty with unique ids and
 * models, scores within 0..100, references to tiers and categories that exist.
 */
export function checkStructure(d: RouterDataInput, opts: { emptyTiers?: 'error' | 'warning' } = {}): { errors: Problem[]; warnings: Problem[] } {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const tierIds = new Set<string>();
  if (!d.tiers?.length) errors.push({ path: 'tiers', message: 'at least one tier is required' });
  const seenModels = new Map<string, string>();
  (d.tiers ?? []).forEach((tier, i) => {
    const path = `tiers.${i}`;
    if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(tier.id)) errors.push({ path: `${path}.id`, message: `invalid tier id "${tier.id}": lowercase letters, digits, "-" and "_" only` });
    if (tierIds.has(tier.id)) errors.push({ path: `${path}.id`, message: `duplicate tier id "${tier.id}"` });
    tierIds.add(tier.id);
    if (!tier.models.length) (opts.emptyTiers === 'warning' ? warnings : errors).push({ path: `${path}.models`, message: `tier "${tier.id}" has no models` });
    tier.models.forEach((m, j) => {
      const mp = `${path}.models.${j}`;
      if (!m.id) errors.push({ path: `${mp}.id`, message: 'model id is empty' });
      if (!Number.isFinite(m.score) || m.score < 0 || m.score > 100) errors.push({ path: `${mp}.score`, message: `score ${m.score} of "${m.id}" must be between 0 and 100` });
      const other = seenModels.get(m.id);
      if (other !== undefined) errors.push({ path: `${mp}.id`, message: `"${m.id}" is listed twice (also in tier "${other}")` });
      else seenModels.set(m.id, tier.id);
      for (const s of m.strengths ?? []) {
        if (!(CATEGORIES as readonly string[]).includes(s)) warnings.push({ path: `${mp}.strengths`, message: `unknown category "${s}" (known: ${CATEGORIES.join(', ')})` });
      }
    });
  });
  const tierRef = (path: string, id: string | undefined) => {
    if (id === undefined) errors.push({ path, message: 'missing' });
    else if (tierIds.size && !tierIds.has(id)) errors.push({ path, message: `unknown tier "${id}" (tiers: ${[...tierIds].join(', ')})` });
  };
  for (const mode of CODE_MODES) {
    const rule = d.modes?.[mode];
    if (!rule) {
      errors.push({ path: `modes.${mode}`, message: 'missing' });
      continue;
    }
    for (const c of COMPLEXITIES) tierRef(`modes.${mode}.tiers.${c}`, rule.tiers?.[c]);
    const w = rule.price_weight;
    if (w === undefined || !Number.isFinite(w) || w < 0 || w > 10) errors.push({ path: `modes.${mode}.price_weight`, message: `price_weight must be between 0 and 10, got ${w}` });
  }
  for (const [cat, tier] of Object.entries(d.category_min_tier ?? {})) {
    if (!(CATEGORIES as readonly string[]).includes(cat)) errors.push({ path: `category_min_tier.${cat}`, message: `unknown category "${cat}" (known: ${CATEGORIES.join(', ')})` });
    tierRef(`category_min_tier.${cat}`, tier);
  }
  if (!d.baseline) errors.push({ path: 'baseline', message: 'missing' });
  if (!d.fallback) errors.push({ path: 'fallback', message: 'missing' });
  const out = d.default_output_tokens;
  if (out === undefined || !Number.isInteger(out) || out <= 0) errors.push({ path: 'default_output_tokens', message: `must be a positive integer, got ${out}` });
  const auto = d.auto ?? {};
  if (!auto.cheap?.length) errors.push({ path: 'auto.cheap', message: 'at least one model is required' });
  if (!auto.strong?.length) errors.push({ path: 'auto.strong', message: 'at least one model is required' });
  if (auto.strong_complexity !== 'medium' && auto.strong_complexity !== 'high') errors.push({ path: 'auto.strong_complexity', message: `must be "medium" or "high", got ${JSON.stringify(auto.strong_complexity)}` });
  if (typeof auto.code_is_strong !== 'boolean') errors.push({ path: 'auto.code_is_strong', message: 'must be true or false' });
  if (!Number.isInteger(auto.strong_min_tokens) || auto.strong_min_tokens! <= 0) errors.push({ path: 'auto.strong_min_tokens', message: `must be a positive integer, got ${auto.strong_min_tokens}` });
  return { errors, warnings };
}

/** The data in effect: the shipped file with the config's `routers:` on top. Throws on a broken result. */
export function loadRouterData(override: RoutersConfig = {}): RouterData {
  const merged = mergeRouterData(shippedRouterData() as RouterDataInput, override as RouterDataInput);
  // An empty tier is allowed here (requests fall back to its neighbours); the validate endpoint reports it.
  const { errors } = checkStructure(merged, { emptyTiers: 'warning' });
  if (errors.length) throw new Error(`routers: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return {
    ...(merged as RouterData),
    tiers: merged.tiers!.map((t) => ({ ...t, models: t.models.map((m) => ({ ...m, strengths: m.strengths ?? [] })) })),
  };
}
