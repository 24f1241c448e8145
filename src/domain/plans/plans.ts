/**
 * Plans and tiers: free, pro, power and team, each with a display name, a monthly price, a request rate
 * (requests per minute), features and a monthly credit allowance. Defaults live here; the config file's
 * `plans:` key overrides any field, and STRIPE_PRICE_<TIER> sets the Stripe price ids.
 *
 * Gates are decided from the user's live record (the cached user view is invalidated on every change), so an
 * upgrade or downgrade takes effect on the next request. One Plans instance per Config (`plansFor`), shared by
 * the gateway's admission and the HTTP layer.
 */
import type { Config, PlansConfig } from '../../config/schema.ts';
import type { Tier } from '../../store/schema.ts';
import { AppError } from '../../errors.ts';
import { globToRegExp, matchesAny } from '../keys/access.ts';
import { picoToUsdNumber, usdToPico } from '../credits/units.ts';

export const TIERS: readonly Tier[] = ['free', 'pro', 'power', 'team'];

/** On/off features; `providers` is a list of provider id globs, checked with `allowsProvider`. */
export type BooleanFeature = 'agents' | 'batch' | 'sso';
export const BOOLEAN_FEATURES: readonly BooleanFeature[] = ['agents', 'batch', 'sso'];

export interface PlanFeatures {
  /** Server-side AI agents. */
  agents: boolean;
  /** Batch jobs. */
  batch: boolean;
  /** Provider ids this plan may use (globs: `*`, `openai`, `open*`). */
  providers: string[];
  /** Single sign-on for the team. */
  sso: boolean;
}

export interface Plan {
  tier: Tier;
  name: string;
  /** Monthly list price, USD (display; Stripe's price object is what is charged). */
  priceUsd: number;
  /** Requests per minute a user of this plan may make (rate limiting reads this). */
  rpm: number;
  features: PlanFeatures;
  /** Credit granted on every paid subscription invoice (creation and renewal), pico-USD. */
  monthlyCreditPico: bigint;
  /** The Stripe price a checkout for this tier subscribes to; null: not purchasable. */
  stripePriceId: string | null;
}

interface PlanDefaults {
  name: string;
  price_usd: number;
  rpm: number;
  monthly_credit_usd: number;
  features: PlanFeatures;
}

export const DEFAULT_PLANS: Record<Tier, PlanDefaults> = {
  free: { name: 'Free', price_usd: 0, rpm: 20, monthly_credit_usd: 0, features: { agents: false, batch: false, providers: ['*'], sso: false } },
  pro: { name: 'Pro', price_usd: 20, rpm: 60, monthly_credit_usd: 15, features: { agents: true, batch: false, providers: ['*'], sso: false } },
  power: { name: 'Power', price_usd: 50, rpm: 120, monthly_credit_usd: 40, features: { agents: true, batch: true, providers: ['*'], sso: false } },
  team: { name: 'Team', price_usd: 100, rpm: 200, monthly_credit_usd: 80, features: { agents: true, batch: true, providers: ['*'], sso: true } },
};

const FEATURE_LABEL: Record<BooleanFeature, string> = { agents: 'AI agents', batch: 'batch jobs', sso: 'single sign-on' };

/** 403 `feature_not_in_plan`, naming the feature (and the plans that include it). */
export function featureNotInPlan(message: string, param: string): AppError {
  return new AppError(403, 'permission_error', message, 'feature_not_in_plan', param);
}

export class Plans {
  private readonly plans: Record<Tier, Plan>;
  private readonly providerPatterns: Record<Tier, RegExp[] | 'all'>;
  private readonly byPrice = new Map<string, Tier>();

  constructor(overrides: PlansConfig = {}, billing: Partial<Config['billing']> = {}) {
    const envPrice: Partial<Record<Tier, string | undefined>> = { pro: billing.stripePricePro, power: billing.stripePricePower, team: billing.stripePriceTeam };
    const plans = {} as Record<Tier, Plan>;
    const patterns = {} as Record<Tier, RegExp[] | 'all'>;
    for (const tier of TIERS) {
      const d = DEFAULT_PLANS[tier];
      const o = overrides[tier] ?? {};
      const features: PlanFeatures = { ...d.features, ...o.features, providers: [...(o.features?.providers ?? d.features.providers)] };
      const plan: Plan = {
        tier,
        name: o.name ?? d.name,
        priceUsd: o.price_usd ?? d.price_usd,
        rpm: o.rpm ?? d.rpm,
        features,
        monthlyCreditPico: usdToPico(o.monthly_credit_usd ?? d.monthly_credit_usd, `plans.${tier}.monthly_credit_usd`),
        // The environment wins over the file (precedence: env > file > defaults).
        stripePriceId: envPrice[tier] ?? o.stripe_price_id ?? null,
      };
      plans[tier] = plan;
      patterns[tier] = features.providers.includes('*') ? 'all' : features.providers.map(globToRegExp);
      if (plan.stripePriceId) {
        const other = this.byPrice.get(plan.stripePriceId);
        if (other) throw new Error(`plans: the ${other} and ${tier} plans share the Stripe price "${plan.stripePriceId}"`);
        this.byPrice.set(plan.stripePriceId, tier);
      }
    }
    this.plans = plans;
    this.providerPatterns = patterns;
  }

  /** The plan of a tier (unknown tiers read as free: a stale value never grants more). */
  forTier(tier: Tier | string): Plan {
    return this.plans[tier as Tier] ?? this.plans.free;
  }

  all(): Plan[] {
    return TIERS.map((t) => this.plans[t]);
  }

  /** Requests per minute for a tier: the rate limiter's default for users of that plan. */
  rpm(tier: Tier | string): number {
    return this.forTier(tier).rpm;
  }

  /** Ordering of tiers, free lowest: a user with several subscriptions gets the highest. */
  rank(tier: Tier | string): number {
    const i = TIERS.indexOf(tier as Tier);
    return i < 0 ? 0 : i;
  }

  /** The tier whose Stripe price this is, if any. */
  tierForPrice(priceId: string | null | undefined): Tier | undefined {
    return priceId ? this.byPrice.get(priceId) : undefined;
  }

  has(tier: Tier | string, feature: BooleanFeature): boolean {
    return this.forTier(tier).features[feature];
  }

  /** Throws 403 `feature_not_in_plan` unless the user's current plan includes the feature. */
  requireFeature(user: { tier: Tier | string }, feature: BooleanFeature): void {
    if (this.has(user.tier, feature)) return;
    const plan = this.forTier(user.tier);
    const with_ = this.all().filter((p) => p.features[feature]).map((p) => p.name);
    throw featureNotInPlan(
      `Your ${plan.name} plan does not include ${FEATURE_LABEL[feature]} (feature "${feature}").${with_.length ? ` Upgrade to ${with_.join(', ')} to use it.` : ''}`,
      feature,
    );
  }

  allowsAllProviders(tier: Tier | string): boolean {
    return this.providerPatterns[this.forTier(tier).tier] === 'all';
  }

  allowsProvider(tier: Tier | string, providerId: string): boolean {
    const p = this.providerPatterns[this.forTier(tier).tier];
    return p === 'all' || matchesAny(p, providerId);
  }

  /** Throws 403 `feature_not_in_plan` naming the provider unless the user's plan allows it. */
  requireProvider(user: { tier: Tier | string }, providerId: string): void {
    if (!this.allowsProvider(user.tier, providerId)) throw this.providerRefusal(user.tier, providerId);
  }

  /**
   * The items (route candidates) whose provider the tier allows, in order; throws 403 naming the first refused
   * provider when none remain. Free of regex work for plans that allow every provider.
   */
  keepAllowedProviders<T>(tier: Tier | string, items: T[], providerOf: (item: T) => string): T[] {
    if (this.allowsAllProviders(tier)) return items;
    const kept = items.filter((i) => this.allowsProvider(tier, providerOf(i)));
    if (!kept.length) throw this.providerRefusal(tier, items.length ? providerOf(items[0]) : 'unknown');
    return kept;
  }

  private providerRefusal(tier: Tier | string, providerId: string): AppError {
    const plan = this.forTier(tier);
    const with_ = this.all().filter((p) => this.allowsProvider(p.tier, providerId)).map((p) => p.name);
    return featureNotInPlan(
      `Your ${plan.name} plan does not include the provider "${providerId}" (feature "providers").${with_.length ? ` Upgrade to ${with_.join(', ')} to use it.` : ''}`,
      'model',
    );
  }
}

const shared = new WeakMap<object, Plans>();

/** The one Plans instance of a Config (admission and the HTTP layer share it). Throws on an invalid plan table. */
export function plansFor(config: Pick<Config, 'plans' | 'billing'>): Plans {
  let plans = shared.get(config);
  if (!plans) {
    plans = new Plans(config.plans, config.billing);
    shared.set(config, plans);
  }
  return plans;
}

/** The public JSON view of a plan (GET /api/plans, GET /api/billing/subscription). */
export function planView(p: Plan) {
  return {
    id: p.tier,
    name: p.name,
    price_usd: p.priceUsd,
    currency: 'USD' as const,
    interval: 'month' as const,
    rpm: p.rpm,
    features: { agents: p.features.agents, batch: p.features.batch, providers: [...p.features.providers], sso: p.features.sso },
    monthly_credit_usd: picoToUsdNumber(p.monthlyCreditPico),
    stripe_price_id: p.stripePriceId,
  };
}
export type PlanView = ReturnType<typeof planView>;
