/**
 * The Stripe SDK client (absent in stub mode), its error mapping, and tolerant readers for the Stripe objects
 * webhooks carry. Readers accept both the current API shape (period end on subscription items, an invoice's
 * subscription under `parent.subscription_details`) and the older one (top-level fields).
 */
import { createRequire } from 'node:module';
import type Stripe from 'stripe';
import type { Config } from '../../config/schema.ts';
import type { Tier } from '../../store/schema.ts';
import { AppError } from '../../errors.ts';
import { VERSION } from '../../version.ts';

export type StripeClient = Stripe;

let sdk: typeof Stripe | undefined;
/** The SDK, loaded on first use: it weighs about 20 MB, and most servers run without Stripe. */
export function stripeSdk(): typeof Stripe {
  sdk ??= createRequire(import.meta.url)('stripe') as typeof Stripe;
  return sdk;
}

/** A Stripe client for the configured key, or undefined (stub mode). STRIPE_API_BASE redirects it (tests, proxies). */
export function createStripeClient(billing: Config['billing']): Stripe | undefined {
  if (!billing.stripeSecretKey) return undefined;
  const opts: Stripe.StripeConfig = { maxNetworkRetries: 2, timeout: 20_000, telemetry: false, appInfo: { name: 'switchyard', version: VERSION } };
  if (billing.stripeApiBase) {
    const u = new URL(billing.stripeApiBase);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`STRIPE_API_BASE must be an http(s) origin, got "${billing.stripeApiBase}"`);
    if (u.pathname !== '/' || u.search) throw new Error(`STRIPE_API_BASE must be an origin without a path (the SDK adds /v1/...), got "${billing.stripeApiBase}"`);
    opts.protocol = u.protocol === 'http:' ? 'http' : 'https';
    opts.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    opts.port = u.port || (u.protocol === 'http:' ? 80 : 443);
  }
  return new (stripeSdk())(billing.stripeSecretKey, opts);
}

/** Only a loaded SDK can have thrown a Stripe error. */
export const isStripeError = (err: unknown): err is InstanceType<typeof Stripe.errors.StripeError> => !!sdk && err instanceof sdk.errors.StripeError;

/** A failed Stripe API call as a 502 (the payment provider refused or could not be reached); never a 500. */
export function stripeFailure(err: unknown): unknown {
  if (!isStripeError(err)) return err;
  if (err instanceof stripeSdk().errors.StripeConnectionError) {
    return new AppError(502, 'api_error', 'The payment provider could not be reached. Try again shortly.', 'stripe_unavailable');
  }
  return new AppError(502, 'api_error', `The payment provider refused the request: ${err.message}`, 'stripe_error');
}

/** Runs a Stripe call, mapping its failures (see stripeFailure). */
export async function callStripe<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw stripeFailure(err);
  }
}

// ---- readers for webhook payloads (signature-verified, but shaped by the account's API version) ----

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 500 ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
/** An id field that may be a string or an expanded object. */
export const idOf = (v: unknown): string | undefined => str(v) ?? str(obj(v)?.id);
const date = (seconds: unknown): Date | null => {
  const s = num(seconds);
  return s === undefined ? null : new Date(s * 1000);
};
const metadataOf = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(obj(v) ?? {})) if (typeof val === 'string') out[k] = val;
  return out;
};

const TIER_VALUES = new Set<string>(['free', 'pro', 'power', 'team']);
export const asTier = (v: unknown): Tier | undefined => (typeof v === 'string' && TIER_VALUES.has(v) ? (v as Tier) : undefined);

export interface SubscriptionSnapshot {
  id: string;
  customerId: string | undefined;
  status: string;
  priceId: string | undefined;
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: Date | null;
  metadata: Record<string, string>;
}

export function readSubscription(v: unknown): SubscriptionSnapshot | undefined {
  const s = obj(v);
  const id = str(s?.id);
  if (!s || !id) return undefined;
  const item = obj((obj(s.items)?.data as unknown[] | undefined)?.[0]);
  const price = obj(item?.price) ?? obj(s.plan);
  return {
    id,
    customerId: idOf(s.customer),
    status: str(s.status) ?? 'active',
    priceId: str(price?.id) ?? str(item?.price),
    currentPeriodEnd: date(item?.current_period_end ?? s.current_period_end),
    cancelAtPeriodEnd: s.cancel_at_period_end === true,
    canceledAt: date(s.canceled_at),
    metadata: metadataOf(s.metadata),
  };
}

export interface CheckoutSnapshot {
  id: string;
  mode: string | undefined;
  customerId: string | undefined;
  subscriptionId: string | undefined;
  /** The subscription when the event carries it expanded. */
  subscription: SubscriptionSnapshot | undefined;
  paymentStatus: string | undefined;
  amountTotal: number | undefined;
  currency: string | undefined;
  clientReferenceId: string | undefined;
  metadata: Record<string, string>;
}

export function readCheckoutSession(v: unknown): CheckoutSnapshot | undefined {
  const s = obj(v);
  const id = str(s?.id);
  if (!s || !id) return undefined;
  return {
    id,
    mode: str(s.mode),
    customerId: idOf(s.customer),
    subscriptionId: idOf(s.subscription),
    subscription: obj(s.subscription) ? readSubscription(s.subscription) : undefined,
    paymentStatus: str(s.payment_status),
    amountTotal: num(s.amount_total),
    currency: str(s.currency)?.toLowerCase(),
    clientReferenceId: str(s.client_reference_id),
    metadata: metadataOf(s.metadata),
  };
}

export interface InvoiceSnapshot {
  id: string;
  customerId: string | undefined;
  subscriptionId: string | undefined;
  /** Subscription metadata as of the invoice (set at checkout: user_id, tier). */
  subscriptionMetadata: Record<string, string>;
  billingReason: string | undefined;
  priceId: string | undefined;
  amountPaid: number | undefined;
  amountDue: number | undefined;
  attemptCount: number | undefined;
  currency: string | undefined;
}

export function readInvoice(v: unknown): InvoiceSnapshot | undefined {
  const s = obj(v);
  const id = str(s?.id);
  if (!s || !id) return undefined;
  const details = obj(obj(s.parent)?.subscription_details);
  const line = obj((obj(s.lines)?.data as unknown[] | undefined)?.[0]);
  const linePrice = str(obj(obj(line?.pricing)?.price_details)?.price) ?? idOf(line?.price);
  return {
    id,
    customerId: idOf(s.customer),
    subscriptionId: idOf(details?.subscription) ?? idOf(s.subscription),
    subscriptionMetadata: metadataOf(details?.metadata ?? obj(s.subscription_details)?.metadata),
    billingReason: str(s.billing_reason),
    priceId: linePrice,
    amountPaid: num(s.amount_paid),
    amountDue: num(s.amount_due),
    attemptCount: num(s.attempt_count),
    currency: str(s.currency)?.toLowerCase(),
  };
}
