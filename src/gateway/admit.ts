/**
 * Admission: may this caller use this route at all? Model allowlists (key globs, the anonymous list),
 * the anonymous per-IP rate limit and trial expiry. Key callers are decided in memory with no I/O.
 */
import type { Config } from '../config/schema.ts';
import { AppError, forbidden } from '../errors.ts';
import { globToRegExp, matchesAny } from '../domain/keys/access.ts';
import { retryAfterSeconds, tooManyRequests } from '../domain/limits/limiter.ts';
import type { Tally } from '../domain/limits/tally.ts';
import type { RequestContext } from './context.ts';
import type { Candidate, RoutePlan } from './router.ts';
import { plansFor, type Plans } from '../domain/plans/plans.ts';

export class Admission {
  private readonly anonymousModels: RegExp[];
  private readonly plans: Plans;

  /** `tally`: the rate limits' counters (RateLimitGate's), which also hold the anonymous per-IP counts; clearing them clears both. */
  constructor(
    private readonly config: Config,
    private readonly tally: Tally,
  ) {
    this.plans = plansFor(config);
    this.anonymousModels = config.anonymous.models.map(globToRegExp);
  }

  /** The candidates this caller may use (allowlists can drop some fallbacks); throws when none remain. */
  admit(ctx: RequestContext, plan: RoutePlan): Candidate[] | Promise<Candidate[]> {
    const p = ctx.principal;
    if (p.kind === 'admin_key') return plan.candidates;
    if (p.kind === 'anonymous') return this.admitAnonymous(ctx, plan);
    const user = p.user;
    if (user.trialExpiresAt && !user.trialConvertedAt && user.trialExpiresAt.getTime() <= Date.now()) {
      throw new AppError(402, 'insufficient_quota', 'Your free trial has ended. Buy credits or upgrade your plan to continue.', 'trial_expired');
    }
    // The plan's provider allowlist, from the live user record (403 feature_not_in_plan naming the provider).
    const kept = this.plans.keepAllowedProviders(user.tier, plan.candidates, (c) => c.entry.provider.id);
    if (kept !== plan.candidates) plan = { ...plan, candidates: kept };
    const allowed = p.kind === 'api_key' ? p.key.allowedModels : null;
    if (!allowed) return plan.candidates;
    return allowedCandidates(plan, allowed, forbidden(`This API key may not use the model "${plan.requested}".`, 'model_not_allowed'));
  }

  private async admitAnonymous(ctx: RequestContext, plan: RoutePlan): Promise<Candidate[]> {
    const candidates = allowedCandidates(plan, this.anonymousModels, forbidden(`The model "${plan.requested}" is not available without an API key.`, 'model_not_allowed_anonymously'));
    const { enabled, rpm } = this.config.anonymous;
    if (!enabled) return candidates;
    const taken = await this.tally.take([{ key: `anon-ip:${ctx.clientIp}`, points: 1, limit: rpm, windowSeconds: 60 }], []);
    if (taken.refusedCounter !== undefined) {
      throw tooManyRequests('Too many requests without an API key from this address. Slow down or use a key.', 'anonymous_rate_limited', retryAfterSeconds(taken.msBeforeNext[0]));
    }
    return candidates;
  }
}

/** A candidate passes when the requested id or the id it resolved to matches the allowlist. */
function allowedCandidates(plan: RoutePlan, patterns: RegExp[], refusal: AppError): Candidate[] {
  if (matchesAny(patterns, plan.requested)) return plan.candidates;
  const kept = plan.candidates.filter((c) => matchesAny(patterns, c.modelId));
  if (!kept.length) throw refusal;
  return kept;
}
