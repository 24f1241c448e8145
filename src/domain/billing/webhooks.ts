/**
 * Stripe webhooks: signature verified over the raw body, then each event applied exactly once. The event id is
 * inserted into billing_events in the SAME transaction as the event's effects (ledger entries, subscription
 * rows, the user's tier, audit entries): a replay, or a second delivery racing the first, finds the id and
 * changes nothing. Effects that touch one user are serialized by locking the user's row; subscription rows
 * remember the creation time of the last event applied, so a late, older event never overwrites newer state.
 *
 * Handled: checkout.session.completed (and .async_payment_succeeded), customer.subscription.created/updated/
 * deleted, invoice.paid, invoice.payment_failed. Others are acknowledged and recorded, with no effect.
 */
import { sql, type Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Database, Tier } from '../../store/schema.ts';
import { AppError, badRequest } from '../../errors.ts';
import type { AuditActor, AuditLog } from '../audit/audit.ts';
import type { Ledger } from '../credits/ledger.ts';
import { picoToUsdNumber } from '../credits/units.ts';
import type { UserService } from '../users/users.ts';
import type { Plans } from '../plans/plans.ts';
import type { Logger } from '../../telemetry/logger.ts';
import {
  asTier,
  isStripeError,
  readCheckoutSession,
  readInvoice,
  readSubscription,
  str,
  stripeSdk,
  stripeFailure,
  type StripeClient,
  type CheckoutSnapshot,
  type InvoiceSnapshot,
  type SubscriptionSnapshot,
} from './stripe.ts';

/** Subscription statuses that keep the plan's tier (past_due: Stripe is still retrying the payment). */
export const ENTITLED_STATUSES = ['active', 'trialing', 'past_due'] as const;
const ENTITLED = new Set<string>(ENTITLED_STATUSES);

/** pico-USD per US cent. */
export const PICO_PER_CENT = 10_000_000_000n;

const STRIPE_ACTOR: AuditActor = { type: 'system', id: 'stripe' };

export interface WebhookResult {
  received: true;
  event_id: string;
  type: string;
  /** Seen before: acknowledged with no effect. */
  duplicate: boolean;
  /** The event changed something. */
  handled: boolean;
  /** Why a recognised event changed nothing (unknown user, stale, awaiting payment, ...). */
  note: string | null;
}

interface Effects {
  handled: boolean;
  note: string | null;
  accounts: string[];
  users: string[];
}

const none = (note: string | null): Effects => ({ handled: false, note, accounts: [], users: [] });

interface MinimalEvent {
  id: string;
  type: string;
  created: number;
  object: unknown;
}

type Trx = Transaction<Database>;

const eventTime = (event: MinimalEvent) => new Date(event.created * 1000);
/** last_event_at moved forward to `when` (never back). */
const laterOf = (when: Date) => sql<Date>`greatest(coalesce(last_event_at, ${when}), ${when})`;

export class WebhookProcessor {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly users: UserService,
    private readonly audit: AuditLog,
    private readonly plans: Plans,
    private readonly stripe: StripeClient | undefined,
    private readonly secret: string | undefined,
    private readonly log: Logger,
    /** Seconds a signature's timestamp may be off (Stripe's default 300). */
    private readonly toleranceSeconds = 300,
  ) {}

  get configured(): boolean {
    return this.secret !== undefined;
  }

  /** Verifies the signature over the raw bytes and parses the event; 400 on any mismatch. */
  verify(raw: Buffer, signature: string | undefined): MinimalEvent {
    if (!this.secret) throw new AppError(503, 'service_unavailable', 'Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET is unset).', 'webhook_not_configured');
    if (!signature) throw badRequest('Missing the Stripe-Signature header.', 'missing_signature');
    let event: unknown;
    try {
      event = stripeSdk().webhooks.constructEvent(raw, signature, this.secret, this.toleranceSeconds);
    } catch (err) {
      if (err instanceof stripeSdk().errors.StripeSignatureVerificationError) throw badRequest(`Invalid Stripe signature: ${err.message.split('\n')[0]}`, 'invalid_signature');
      throw badRequest('The webhook body is not a valid Stripe event.', 'invalid_payload');
    }
    const e = event as Record<string, unknown>;
    const id = str(e?.id);
    const type = str(e?.type);
    const data = e?.data as Record<string, unknown> | undefined;
    if (!id || id.length > 255 || !type || !data || typeof data !== 'object') throw badRequest('The webhook body is not a valid Stripe event (id, type and data are required).', 'invalid_payload');
    return { id, type, created: typeof e.created === 'number' ? e.created : Math.floor(Date.now() / 1000), object: data.object };
  }

  async handle(raw: Buffer, signature: string | undefined): Promise<WebhookResult> {
    const event = this.verify(raw, signature);
    const base = { received: true as const, event_id: event.id, type: event.type };
    // Cheap early answer for replays; the transaction below is what guarantees exactly-once.
    if (await this.db.selectFrom('billing_events').select('id').where('id', '=', event.id).executeTakeFirst()) {
      return { ...base, duplicate: true, handled: false, note: null };
    }
    const prepared = await this.prepare(event);
    const outcome = await this.db.transaction().execute(async (trx) => {
      const inserted = await trx.insertInto('billing_events').values({ id: event.id, type: event.type }).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst();
      if (!inserted) return undefined;
      return this.apply(trx, event, prepared);
    });
    if (!outcome) return { ...base, duplicate: true, handled: false, note: null };
    // Committed: a failed cache reload must not fail the webhook (the event is recorded), nor go unhandled.
    for (const a of outcome.accounts) await this.ledger.changed(a).catch((err) => this.log.error({ err, account_id: a }, 'credit book reload after webhook failed'));
    if (outcome.users.length) this.users.invalidate(outcome.users);
    if (outcome.note && !outcome.handled) this.log.warn({ event_id: event.id, type: event.type, note: outcome.note }, 'stripe event changed nothing');
    return { ...base, duplicate: false, handled: outcome.handled, note: outcome.note };
  }

  /**
   * Network work done before the transaction (never hold a database transaction across a Stripe call): a
   * completed subscription checkout carries only the subscription's id, so its current state is fetched.
   */
  private async prepare(event: MinimalEvent): Promise<SubscriptionSnapshot | undefined> {
    if (event.type !== 'checkout.session.completed' && event.type !== 'checkout.session.async_payment_succeeded') return undefined;
    const session = readCheckoutSession(event.object);
    if (!session || session.mode !== 'subscription' || !session.subscriptionId) return undefined;
    if (session.subscription) return session.subscription;
    if (!this.stripe) return undefined;
    try {
      return readSubscription(await this.stripe.subscriptions.retrieve(session.subscriptionId));
    } catch (err) {
      // A subscription Stripe no longer knows: record what the session says. Anything else: fail, Stripe retries.
      if (isStripeError(err) && err.statusCode === 404) return undefined;
      throw stripeFailure(err);
    }
  }

  private async apply(trx: Trx, event: MinimalEvent, prepared: SubscriptionSnapshot | undefined): Promise<Effects> {
    const when = eventTime(event);
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = readCheckoutSession(event.object);
        if (!session) return none('malformed_object');
        return session.mode === 'subscription' || session.metadata.kind === 'subscription'
          ? this.subscriptionCheckout(trx, event, session, prepared, when)
          : this.creditPurchase(trx, event, session);
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const sub = readSubscription(event.object);
        if (!sub) return none('malformed_object');
        if (event.type === 'customer.subscription.deleted' && sub.status !== 'canceled') sub.status = 'canceled';
        return this.subscriptionChanged(trx, event, sub, when);
      }
      case 'invoice.paid':
        return this.invoicePaid(trx, event, readInvoice(event.object));
      case 'invoice.payment_failed':
        return this.paymentFailed(trx, event, readInvoice(event.object));
      default:
        return none('unhandled_event_type');
    }
  }

  // ---- users ----

  /** Finds the user an event is about (metadata, then the customer mapping) and locks their row. */
  private async lockUser(trx: Trx, candidates: (string | undefined)[], customerId: string | undefined): Promise<{ id: string; tier: Tier; trial_converted_at: Date | null } | undefined> {
    let ids = candidates.filter((c): c is string => !!c);
    if (customerId) {
      const mapped = await trx.selectFrom('billing_customers').select('user_id').where('customer_id', '=', customerId).executeTakeFirst();
      if (mapped) ids = [mapped.user_id, ...ids];
    }
    for (const id of ids) {
      const row = await trx.selectFrom('users').select(['id', 'tier', 'status', 'trial_converted_at']).where('id', '=', id).forUpdate().executeTakeFirst();
      if (row && row.status !== 'deleted') {
        if (customerId) await trx.insertInto('billing_customers').values({ user_id: row.id, customer_id: customerId }).onConflict((oc) => oc.doNothing()).execute();
        return row;
      }
    }
    return undefined;
  }

  /** A purchase ends a trial. */
  private async convertTrial(trx: Trx, user: { id: string; trial_converted_at: Date | null }): Promise<boolean> {
    if (user.trial_converted_at) return false;
    await trx.updateTable('users').set({ trial_converted_at: new Date(), updated_at: new Date() }).where('id', '=', user.id).execute();
    return true;
  }

  /** The user's tier follows their subscriptions: the highest tier among entitled ones, else free. */
  private async syncTier(trx: Trx, user: { id: string; tier: Tier }, eventId: string): Promise<boolean> {
    const subs = await trx.selectFrom('subscriptions').select(['tier', 'status']).where('user_id', '=', user.id).execute();
    let tier: Tier = 'free';
    for (const s of subs) if (ENTITLED.has(s.status) && this.plans.rank(s.tier) > this.plans.rank(tier)) tier = s.tier;
    if (tier === user.tier) return false;
    await trx.updateTable('users').set({ tier, updated_at: new Date() }).where('id', '=', user.id).execute();
    await this.audit.record({ actor: STRIPE_ACTOR, action: 'billing.tier_change', targetType: 'user', targetId: user.id, changes: { tier: { from: user.tier, to: tier }, event_id: eventId } }, trx);
    return true;
  }

  // ---- credits ----

  private async creditPurchase(trx: Trx, event: MinimalEvent, s: CheckoutSnapshot): Promise<Effects> {
    if (s.metadata.kind !== 'credits') return none('not_a_switchyard_checkout');
    if (s.paymentStatus !== 'paid' && s.paymentStatus !== 'no_payment_required') return none('awaiting_payment');
    const cents = /^\d{1,9}$/.test(s.metadata.credits_cents ?? '') ? BigInt(s.metadata.credits_cents) : undefined;
    if (cents === undefined || cents <= 0n) return none('missing_credit_amount');
    if (s.currency && s.currency !== 'usd') return none('unsupported_currency');
    // Never credit more than was actually paid (amount_total is in cents).
    const paid = s.amountTotal !== undefined && BigInt(s.amountTotal) < cents ? BigInt(s.amountTotal) : cents;
    const user = await this.lockUser(trx, [s.metadata.user_id, s.clientReferenceId], s.customerId);
    if (!user) return none('unknown_user');
    const acct = await this.ledger.account({ type: 'user', id: user.id }, trx);
    const existing = await trx
      .selectFrom('credit_transactions')
      .select('id')
      .where('kind', '=', 'purchase')
      .where('reference_type', '=', 'stripe_checkout_session')
      .where('reference_id', '=', s.id)
      .executeTakeFirst();
    if (existing) return none('already_credited');
    const amount = paid * PICO_PER_CENT;
    const row = await this.ledger.post(trx, acct.id, {
      kind: 'purchase',
      amount,
      actor: STRIPE_ACTOR,
      reason: 'credit purchase (Stripe Checkout)',
      referenceType: 'stripe_checkout_session',
      referenceId: s.id,
      metadata: { event_id: event.id, amount_total_cents: s.amountTotal ?? null, currency: s.currency ?? 'usd' },
    });
    const converted = await this.convertTrial(trx, user);
    await this.audit.record(
      { actor: STRIPE_ACTOR, action: 'billing.credits_purchased', targetType: 'user', targetId: user.id, changes: { amount_usd: picoToUsdNumber(amount), session_id: s.id, transaction_id: String(row.id), event_id: event.id } },
      trx,
    );
    return { handled: true, note: null, accounts: [acct.id], users: converted ? [user.id] : [] };
  }

  // ---- subscriptions ----

  private tierOf(sub: SubscriptionSnapshot, fallback?: Tier): Tier {
    return this.plans.tierForPrice(sub.priceId) ?? asTier(sub.metadata.tier) ?? fallback ?? 'free';
  }

  /**
   * Inserts or updates a subscription row. Returns false (changing nothing) for stale events: one older than the
   * last applied, or one that would bring a canceled subscription back (cancellation is final at Stripe).
   */
  private async upsertSubscription(trx: Trx, userId: string, sub: SubscriptionSnapshot, tier: Tier, at: Date): Promise<{ applied: boolean; before: { tier: Tier; status: string; cancel_at_period_end: boolean } | undefined }> {
    const existing = await trx.selectFrom('subscriptions').selectAll().where('id', '=', sub.id).forUpdate().executeTakeFirst();
    const values = {
      user_id: userId,
      tier,
      status: sub.status,
      current_period_end: sub.currentPeriodEnd,
      cancel_at_period_end: sub.cancelAtPeriodEnd,
      canceled_at: sub.canceledAt,
      customer_id: sub.customerId ?? null,
      price_id: sub.priceId ?? null,
      last_event_at: at,
      updated_at: new Date(),
    };
    if (!existing) {
      await trx.insertInto('subscriptions').values({ id: sub.id, ...values }).execute();
      return { applied: true, before: undefined };
    }
    const before = { tier: existing.tier, status: existing.status, cancel_at_period_end: existing.cancel_at_period_end };
    if (existing.last_event_at && new Date(existing.last_event_at) > at) return { applied: false, before };
    if (existing.status === 'canceled' && sub.status !== 'canceled') return { applied: false, before };
    await trx.updateTable('subscriptions').set({ ...values, user_id: existing.user_id, customer_id: values.customer_id ?? existing.customer_id }).where('id', '=', sub.id).execute();
    return { applied: true, before };
  }

  private async subscriptionCheckout(trx: Trx, event: MinimalEvent, s: CheckoutSnapshot, prepared: SubscriptionSnapshot | undefined, at: Date): Promise<Effects> {
    if (!s.subscriptionId) return none('missing_subscription');
    const user = await this.lockUser(trx, [s.metadata.user_id, s.clientReferenceId, prepared?.metadata.user_id], s.customerId);
    if (!user) return none('unknown_user');
    const sub: SubscriptionSnapshot = prepared ?? {
      id: s.subscriptionId,
      customerId: s.customerId,
      status: s.paymentStatus === 'unpaid' ? 'incomplete' : 'active',
      priceId: undefined,
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
      canceledAt: null,
      metadata: s.metadata,
    };
    const tier = this.tierOf(sub, asTier(s.metadata.tier));
    const { applied } = await this.upsertSubscription(trx, user.id, sub, tier, at);
    const tierChanged = await this.syncTier(trx, user, event.id);
    const converted = s.paymentStatus === 'paid' || s.paymentStatus === 'no_payment_required' ? await this.convertTrial(trx, user) : false;
    await this.audit.record(
      { actor: STRIPE_ACTOR, action: 'billing.subscription_started', targetType: 'user', targetId: user.id, changes: { subscription_id: sub.id, tier, status: sub.status, session_id: s.id, event_id: event.id } },
      trx,
    );
    return { handled: applied || tierChanged || converted, note: applied ? null : 'stale_event', accounts: [], users: tierChanged || converted ? [user.id] : [] };
  }

  private async subscriptionChanged(trx: Trx, event: MinimalEvent, sub: SubscriptionSnapshot, at: Date): Promise<Effects> {
    const known = await trx.selectFrom('subscriptions').select(['user_id', 'tier']).where('id', '=', sub.id).executeTakeFirst();
    const user = await this.lockUser(trx, [known?.user_id, sub.metadata.user_id], sub.customerId);
    if (!user) return none('unknown_user');
    const tier = this.tierOf(sub, known?.tier);
    const { applied, before } = await this.upsertSubscription(trx, user.id, sub, tier, at);
    if (!applied) return none('stale_event');
    const tierChanged = await this.syncTier(trx, user, event.id);
    const action = event.type === 'customer.subscription.deleted' ? 'billing.subscription_ended' : 'billing.subscription_updated';
    await this.audit.record(
      {
        actor: STRIPE_ACTOR,
        action,
        targetType: 'user',
        targetId: user.id,
        changes: { subscription_id: sub.id, before: before ?? null, after: { tier, status: sub.status, cancel_at_period_end: sub.cancelAtPeriodEnd }, event_id: event.id },
      },
      trx,
    );
    return { handled: true, note: null, accounts: [], users: tierChanged ? [user.id] : [] };
  }

  // ---- invoices ----

  private async invoicePaid(trx: Trx, event: MinimalEvent, inv: InvoiceSnapshot | undefined): Promise<Effects> {
    if (!inv) return none('malformed_object');
    if (!inv.subscriptionId) return none('not_a_subscription_invoice');
    // Allowance on the first invoice and each renewal; not on proration invoices of mid-period plan changes.
    if (inv.billingReason && inv.billingReason !== 'subscription_create' && inv.billingReason !== 'subscription_cycle') return none('no_allowance_for_billing_reason');
    const row = await trx.selectFrom('subscriptions').select(['user_id', 'tier', 'status']).where('id', '=', inv.subscriptionId).executeTakeFirst();
    const user = await this.lockUser(trx, [row?.user_id, inv.subscriptionMetadata.user_id], inv.customerId);
    if (!user) return none('unknown_user');
    const tier = this.plans.tierForPrice(inv.priceId) ?? row?.tier ?? asTier(inv.subscriptionMetadata.tier) ?? 'free';
    const allowance = this.plans.forTier(tier).monthlyCreditPico;
    const accounts: string[] = [];
    let handled = false;
    if (row?.status === 'past_due') {
      await trx.updateTable('subscriptions').set({ status: 'active', last_event_at: laterOf(eventTime(event)), updated_at: new Date() }).where('id', '=', inv.subscriptionId).execute();
      handled = true;
    }
    if (allowance > 0n) {
      const existing = await trx
        .selectFrom('credit_transactions')
        .select('id')
        .where('kind', '=', 'subscription_allowance')
        .where('reference_type', '=', 'stripe_invoice')
        .where('reference_id', '=', inv.id)
        .executeTakeFirst();
      if (!existing) {
        const acct = await this.ledger.account({ type: 'user', id: user.id }, trx);
        await this.ledger.post(trx, acct.id, {
          kind: 'subscription_allowance',
          amount: allowance,
          actor: STRIPE_ACTOR,
          reason: `monthly ${this.plans.forTier(tier).name} plan allowance`,
          referenceType: 'stripe_invoice',
          referenceId: inv.id,
          metadata: { event_id: event.id, subscription_id: inv.subscriptionId, tier, billing_reason: inv.billingReason ?? null },
        });
        accounts.push(acct.id);
        handled = true;
      }
    }
    const converted = await this.convertTrial(trx, user);
    return { handled: handled || converted, note: handled || converted ? null : 'no_allowance', accounts, users: converted ? [user.id] : [] };
  }

  private async paymentFailed(trx: Trx, event: MinimalEvent, inv: InvoiceSnapshot | undefined): Promise<Effects> {
    if (!inv) return none('malformed_object');
    const row = inv.subscriptionId ? await trx.selectFrom('subscriptions').select(['user_id', 'status']).where('id', '=', inv.subscriptionId).executeTakeFirst() : undefined;
    const user = await this.lockUser(trx, [row?.user_id, inv.subscriptionMetadata.user_id], inv.customerId);
    if (!user) return none('unknown_user');
    if (inv.subscriptionId && row && row.status !== 'canceled') {
      await trx.updateTable('subscriptions').set({ status: 'past_due', last_event_at: laterOf(eventTime(event)), updated_at: new Date() }).where('id', '=', inv.subscriptionId).execute();
    }
    await this.audit.record(
      {
        actor: STRIPE_ACTOR,
        action: 'billing.payment_failed',
        targetType: 'user',
        targetId: user.id,
        changes: { invoice_id: inv.id, subscription_id: inv.subscriptionId ?? null, amount_due_cents: inv.amountDue ?? null, attempt_count: inv.attemptCount ?? null, event_id: event.id },
      },
      trx,
    );
    return { handled: true, note: null, accounts: [], users: [] };
  }
}
