/**
 * Billing: Stripe Checkout for plan subscriptions and one-time credit purchases, the caller's subscription,
 * and cancellation at period end. Webhooks (./webhooks.ts) apply what Stripe reports. Without
 * STRIPE_SECRET_KEY the service runs in stub mode: every response says `"mode": "stub"`, checkout returns a
 * local URL that explains itself, no payment is taken and nothing is credited.
 */
import { randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Config } from '../../config/schema.ts';
import type { Db } from '../../store/db.ts';
import type { SubscriptionsTable, Tier } from '../../store/schema.ts';
import { AppError, badRequest, conflict, notFound } from '../../errors.ts';
import type { AuditActor, AuditLog } from '../audit/audit.ts';
import type { Ledger } from '../credits/ledger.ts';
import type { UserRecord } from '../users/records.ts';
import type { UserService } from '../users/users.ts';
import { planView, type Plans } from '../plans/plans.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { callStripe, createStripeClient, type StripeClient } from './stripe.ts';
import { ENTITLED_STATUSES, WebhookProcessor } from './webhooks.ts';

export type BillingMode = 'stripe' | 'stub';

/** Credit purchases: whole cents, within these bounds (Stripe's minimum charge is 0.50 USD). */
export const MIN_CREDITS_USD = 1;
export const MAX_CREDITS_USD = 10_000;

export interface CheckoutRequest {
  tier?: Tier;
  credits_usd?: number;
}

export interface RequestMeta {
  ip?: string;
  requestId?: string;
  /** scheme://host of the request, for URLs when PUBLIC_URL / BILLING_*_URL are unset. */
  origin: string;
}

export interface BillingDeps {
  db: Db;
  ledger: Ledger;
  users: UserService;
  audit: AuditLog;
  plans: Plans;
  config: Config;
  log: Logger;
}

const ENTITLED = new Set<string>(ENTITLED_STATUSES);

export function subscriptionView(s: Selectable<SubscriptionsTable>) {
  return {
    id: s.id,
    tier: s.tier,
    status: s.status,
    current_period_end: s.current_period_end ? new Date(s.current_period_end).toISOString() : null,
    cancel_at_period_end: s.cancel_at_period_end,
    canceled_at: s.canceled_at ? new Date(s.canceled_at).toISOString() : null,
    entitled: ENTITLED.has(s.status),
  };
}

/** USD with at most 2 decimals -> cents; 400 otherwise. */
export function usdToCents(usd: number, field = 'credits_usd'): bigint {
  const cents = Math.round(usd * 100);
  if (!Number.isFinite(usd) || !Number.isSafeInteger(cents) || cents / 100 !== usd) throw badRequest(`${field} must be an amount in USD with at most 2 decimals (whole cents).`, 'invalid_amount', field);
  if (usd < MIN_CREDITS_USD || usd > MAX_CREDITS_USD) throw badRequest(`${field} must be between ${MIN_CREDITS_USD} and ${MAX_CREDITS_USD} USD.`, 'invalid_amount', field);
  return BigInt(cents);
}

export class BillingService {
  readonly mode: BillingMode;
  readonly webhooks: WebhookProcessor;
  private readonly stripe: StripeClient | undefined;

  constructor(private readonly deps: BillingDeps) {
    this.stripe = createStripeClient(deps.config.billing);
    this.mode = this.stripe ? 'stripe' : 'stub';
    this.webhooks = new WebhookProcessor(deps.db, deps.ledger, deps.users, deps.audit, deps.plans, this.stripe, deps.config.billing.stripeWebhookSecret, deps.log);
  }

  private urls(origin: string): { success: string; cancel: string } {
    const base = (this.deps.config.publicUrl ?? origin).replace(/\/+$/, '');
    return {
      success: this.deps.config.billing.successUrl ?? `${base}/billing/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel: this.deps.config.billing.cancelUrl ?? `${base}/billing/cancel`,
    };
  }

  /** The user's subscriptions, the one that sets their plan first (entitled, highest tier, newest). */
  private async subscriptionsOf(userId: string): Promise<Selectable<SubscriptionsTable>[]> {
    const rows = await this.deps.db.selectFrom('subscriptions').selectAll().where('user_id', '=', userId).orderBy('updated_at', 'desc').execute();
    const { plans } = this.deps;
    return rows.sort((a, b) => Number(ENTITLED.has(b.status)) - Number(ENTITLED.has(a.status)) || plans.rank(b.tier) - plans.rank(a.tier));
  }

  /** The Stripe customer of a user, created on first checkout (idempotent under concurrent checkouts). */
  private async customerFor(user: UserRecord): Promise<string> {
    const { db } = this.deps;
    const known = await db.selectFrom('billing_customers').select('customer_id').where('user_id', '=', user.id).executeTakeFirst();
    if (known) return known.customer_id;
    const customer = await callStripe(() =>
      this.stripe!.customers.create({ email: user.email, ...(user.name ? { name: user.name } : {}), metadata: { user_id: user.id } }, { idempotencyKey: `switchyard-customer-${user.id}` }),
    );
    await db.insertInto('billing_customers').values({ user_id: user.id, customer_id: customer.id }).onConflict((oc) => oc.doNothing()).execute();
    const row = await db.selectFrom('billing_customers').select('customer_id').where('user_id', '=', user.id).executeTakeFirstOrThrow();
    return row.customer_id;
  }

  async checkout(user: UserRecord, actor: AuditActor, req: CheckoutRequest, meta: RequestMeta) {
    const { plans, audit } = this.deps;
    const hasTier = req.tier !== undefined;
    if (hasTier === (req.credits_usd !== undefined)) throw badRequest('Give exactly one of tier (a subscription) or credits_usd (a one-time credit purchase).', 'invalid_request', 'tier');
    let line: { kind: 'subscription'; tier: Tier; priceId: string | null } | { kind: 'credits'; cents: bigint; usd: number };
    if (req.tier !== undefined) {
      if (req.tier === 'free') throw badRequest('The free plan needs no checkout; cancel your subscription to return to it.', 'invalid_tier', 'tier');
      const plan = plans.forTier(req.tier);
      if (this.mode === 'stripe' && !plan.stripePriceId) {
        throw badRequest(`The ${plan.name} plan is not for sale on this server (no Stripe price: set STRIPE_PRICE_${req.tier.toUpperCase()}).`, 'plan_not_purchasable', 'tier');
      }
      const current = (await this.subscriptionsOf(user.id)).find((s) => ENTITLED.has(s.status) && !s.cancel_at_period_end);
      if (current) {
        throw conflict(
          `You already have an active ${plans.forTier(current.tier).name} subscription (${current.id}). Cancel it (DELETE /api/billing/subscription) before subscribing to another plan.`,
          'already_subscribed',
        );
      }
      line = { kind: 'subscription', tier: req.tier, priceId: plan.stripePriceId };
    } else {
      const cents = usdToCents(req.credits_usd!);
      line = { kind: 'credits', cents, usd: Number(cents) / 100 };
    }
    const summary = line.kind === 'subscription' ? { kind: line.kind, tier: line.tier, credits_usd: null } : { kind: line.kind, tier: null, credits_usd: line.usd };

    if (!this.stripe) {
      const sessionId = `cs_stub_${randomBytes(12).toString('base64url')}`;
      const base = (this.deps.config.publicUrl ?? meta.origin).replace(/\/+$/, '');
      return { mode: this.mode, session_id: sessionId, checkout_url: `${base}/api/billing/stub/checkout/${sessionId}`, ...summary };
    }

    const customer = await this.customerFor(user);
    const urls = this.urls(meta.origin);
    const common = { customer, client_reference_id: user.id, success_url: urls.success, cancel_url: urls.cancel };
    const session =
      line.kind === 'subscription'
        ? await callStripe(() =>
            this.stripe!.checkout.sessions.create({
              ...common,
              mode: 'subscription',
              line_items: [{ price: line.priceId!, quantity: 1 }],
              metadata: { user_id: user.id, kind: 'subscription', tier: line.tier },
              subscription_data: { metadata: { user_id: user.id, tier: line.tier } },
            }),
          )
        : await callStripe(() =>
            this.stripe!.checkout.sessions.create({
              ...common,
              mode: 'payment',
              line_items: [{ price_data: { currency: 'usd', unit_amount: Number(line.cents), product_data: { name: `Switchyard credits (${line.usd.toFixed(2)} USD)` } }, quantity: 1 }],
              metadata: { user_id: user.id, kind: 'credits', credits_usd: line.usd.toFixed(2), credits_cents: line.cents.toString() },
            }),
          );
    if (!session.url) throw new AppError(502, 'api_error', 'The payment provider returned a checkout session without a URL.', 'stripe_error');
    await audit.record({ actor, action: 'billing.checkout', targetType: 'user', targetId: user.id, changes: { ...summary, session_id: session.id }, ip: meta.ip, requestId: meta.requestId });
    return { mode: this.mode, session_id: session.id, checkout_url: session.url, ...summary };
  }

  /** The caller's plan and the subscription that sets it (or their latest one, or null). */
  async subscription(user: UserRecord) {
    const { plans, db } = this.deps;
    const [subs, customer] = await Promise.all([this.subscriptionsOf(user.id), db.selectFrom('billing_customers').select('customer_id').where('user_id', '=', user.id).executeTakeFirst()]);
    return {
      mode: this.mode,
      tier: user.tier,
      plan: planView(plans.forTier(user.tier)),
      subscription: subs[0] ? subscriptionView(subs[0]) : null,
      customer_id: customer?.customer_id ?? null,
    };
  }

  /**
   * Cancels the caller's active subscription(s) at the end of the paid period: the plan stays until then, and
   * Stripe's `customer.subscription.deleted` brings the user back to free. Repeating it is harmless.
   */
  async cancel(user: UserRecord, actor: AuditActor, meta: Omit<RequestMeta, 'origin'>) {
    const { db, audit } = this.deps;
    const active = (await this.subscriptionsOf(user.id)).filter((s) => ENTITLED.has(s.status));
    if (!active.length) throw notFound('You have no active subscription.', 'no_subscription');
    for (const s of active.filter((x) => !x.cancel_at_period_end)) {
      if (this.stripe) await callStripe(() => this.stripe!.subscriptions.update(s.id, { cancel_at_period_end: true }));
      await db.updateTable('subscriptions').set({ cancel_at_period_end: true, updated_at: new Date() }).where('id', '=', s.id).execute();
      await audit.record({ actor, action: 'billing.subscription_cancel', targetType: 'user', targetId: user.id, changes: { subscription_id: s.id, tier: s.tier, at_period_end: true }, ...meta });
    }
    return this.subscription(user);
  }
}
