/**
 * A fake Stripe API on loopback for the real `stripe` SDK (pointed at it with STRIPE_API_BASE). It speaks Stripe's
 * wire format for the few endpoints Switchyard calls: form-encoded requests (bracket notation), JSON responses with
 * `object` fields, `request-id` headers, idempotency-key replay, and error bodies `{error:{type,message,code,param}}`.
 *
 * Endpoints: POST/GET /v1/customers[/id], POST/GET /v1/checkout/sessions[/id], GET/POST /v1/subscriptions/id.
 * Helpers do what Stripe does behind the scenes (a customer paying a checkout, an invoice being issued) and build
 * the webhook events Stripe would send, signed by the SDK's own test helper.
 */
import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import { startFakeUpstream, type FakeReply, type FakeRequest, type FakeUpstream } from './fake-upstream.ts';

export const API_VERSION = '2026-10-28.endive';

type Obj = Record<string, any>;

export interface FakeStripeOptions {
  secretKey?: string;
  /** Recurring monthly prices: id -> unit amount in cents. */
  prices?: Record<string, number>;
}

export interface FakeStripe {
  url: string;
  secretKey: string;
  /** Every API request, with its form body decoded. */
  calls: { method: string; path: string; form: Obj; headers: FakeRequest['headers'] }[];
  customers: Map<string, Obj>;
  sessions: Map<string, Obj>;
  subscriptions: Map<string, Obj>;
  /** The customer pays a checkout session: it completes, and a subscription is created for subscription mode. */
  completeCheckout(sessionId: string, opts?: { paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required' }): Obj;
  /** Changes a subscription as Stripe would (plan change, cancellation, status); returns the new object. */
  updateSubscription(id: string, patch: { status?: string; cancel_at_period_end?: boolean; price?: string; current_period_end?: number; canceled_at?: number | null }): Obj;
  /** An invoice for a subscription (paid unless `status` says otherwise). */
  invoice(subscriptionId: string, opts?: { billingReason?: string; status?: 'paid' | 'open'; attemptCount?: number }): Obj;
  /** A webhook event in Stripe's envelope; `payload` is the exact JSON to sign and send. */
  event(type: string, object: Obj, opts?: { created?: number; previous?: Obj; id?: string }): { id: string; payload: string };
  /** The next matching request fails with this Stripe error. */
  failNext(method: string, pathPrefix: string, status: number, error: { type: string; message: string; code?: string; param?: string }): void;
  close(): Promise<void>;
}

const rid = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const now = () => Math.floor(Date.now() / 1000);

/** Decodes Stripe's form encoding: `a[b][0][c]=v` -> { a: { b: [ { c: 'v' } ] } }. */
export function decodeForm(body: string): Obj {
  const out: Obj = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.replace(/\]/g, '').split('[');
    let node: any = out;
    for (let i = 0; i < parts.length; i++) {
      const key: string | number = /^\d+$/.test(parts[i]) ? Number(parts[i]) : parts[i];
      if (i === parts.length - 1) {
        node[key] = value;
      } else {
        node[key] ??= /^\d+$/.test(parts[i + 1]) ? [] : {};
        node = node[key];
      }
    }
  }
  return out;
}

const stripeError = (status: number, type: string, message: string, extra: Obj = {}): FakeReply => ({
  status,
  headers: { 'request-id': rid('req') },
  json: { error: { type, message, ...extra } },
});
const missing = (what: string, id: string, param = 'id') => stripeError(404, 'invalid_request_error', `No such ${what}: '${id}'`, { code: 'resource_missing', param });
const invalid = (message: string, param: string) => stripeError(400, 'invalid_request_error', message, { param });

export async function startFakeStripe(opts: FakeStripeOptions = {}): Promise<FakeStripe> {
  const secretKey = opts.secretKey ?? 'sk_test_fake_0123456789';
  const prices = new Map(Object.entries(opts.prices ?? {}));
  const customers = new Map<string, Obj>();
  const sessions = new Map<string, Obj>();
  const subscriptions = new Map<string, Obj>();
  const idempotent = new Map<string, FakeReply>();
  const failures: { method: string; prefix: string; reply: FakeReply }[] = [];
  const calls: FakeStripe['calls'] = [];

  const priceObject = (id: string) => ({
    id,
    object: 'price',
    active: true,
    currency: 'usd',
    unit_amount: prices.get(id) ?? 0,
    unit_amount_decimal: String(prices.get(id) ?? 0),
    recurring: { interval: 'month', interval_count: 1, usage_type: 'licensed' },
    type: 'recurring',
    product: `prod_${id}`,
    livemode: false,
  });

  function handle(req: FakeRequest): FakeReply {
    const auth = req.headers.authorization;
    if (auth !== `Bearer ${secretKey}`) {
      return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${String(auth ?? '').replace(/^Bearer /, '').slice(0, 8)}****`);
    }
    const form = decodeForm(req.rawBody.toString('utf8'));
    calls.push({ method: req.method, path: req.path, form, headers: req.headers });
    const f = failures.findIndex((x) => x.method === req.method && req.path.startsWith(x.prefix));
    if (f >= 0) return failures.splice(f, 1)[0].reply;
    const key = req.method === 'POST' ? req.headers['idempotency-key'] : undefined;
    if (typeof key === 'string' && idempotent.has(key)) return idempotent.get(key)!;
    const reply = route(req, form);
    if (typeof key === 'string') idempotent.set(key, reply);
    return reply;
  }

  const ok = (json: Obj): FakeReply => ({ json, headers: { 'request-id': rid('req'), 'stripe-version': API_VERSION } });

  function route(req: FakeRequest, form: Obj): FakeReply {
    const p = req.path;
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && p === '/v1/customers') {
      const c = { id: rid('cus'), object: 'customer', created: now(), email: form.email ?? null, name: form.name ?? null, metadata: form.metadata ?? {}, livemode: false };
      customers.set(c.id, c);
      return ok(c);
    }
    if ((m = /^\/v1\/customers\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      return customers.has(m[1]) ? ok(customers.get(m[1])!) : missing('customer', m[1]);
    }
    if (req.method === 'POST' && p === '/v1/checkout/sessions') return createSession(form);
    if ((m = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(p)) && req.method === 'GET') {
      return sessions.has(m[1]) ? ok(publicSession(sessions.get(m[1])!)) : missing('checkout.session', m[1]);
    }
    if ((m = /^\/v1\/subscriptions\/([^/]+)$/.exec(p))) {
      const sub = subscriptions.get(m[1]);
      if (!sub) return missing('subscription', m[1]);
      if (req.method === 'GET') return ok(sub);
      if (req.method === 'POST') {
        if (form.cancel_at_period_end !== undefined) {
          if (!['true', 'false'].includes(form.cancel_at_period_end)) return invalid('Invalid boolean: cancel_at_period_end', 'cancel_at_period_end');
          if (sub.status === 'canceled') return invalid('A canceled subscription can only update its cancellation_details and metadata.', 'cancel_at_period_end');
          sub.cancel_at_period_end = form.cancel_at_period_end === 'true';
          sub.cancel_at = sub.cancel_at_period_end ? sub.items.data[0].current_period_end : null;
        }
        if (form.metadata) Object.assign(sub.metadata, form.metadata);
        return ok(sub);
      }
    }
    return stripeError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${p}).`);
  }

  function createSession(form: Obj): FakeReply {
    if (!['payment', 'subscription', 'setup'].includes(form.mode)) return invalid('Invalid mode: must be one of payment, setup, or subscription', 'mode');
    if (form.customer && !customers.has(form.customer)) return missing('customer', form.customer, 'customer');
    const items: Obj[] = form.line_items ?? [];
    if (!items.length) return invalid('line_items is required in payment and subscription mode.', 'line_items');
    let total = 0;
    for (const [i, li] of items.entries()) {
      const qty = Number(li.quantity ?? 1);
      if (li.price) {
        if (!prices.has(li.price)) return missing('price', li.price, `line_items[${i}][price]`);
        if (form.mode === 'payment') return invalid('You specified `payment` mode but passed a recurring price.', `line_items[${i}][price]`);
        total += prices.get(li.price)! * qty;
      } else if (li.price_data) {
        const amount = Number(li.price_data.unit_amount);
        if (!Number.isInteger(amount) || amount < 50) return invalid('The Checkout Session\'s total amount due must add up to at least $0.50 usd', `line_items[${i}][price_data][unit_amount]`);
        if (!li.price_data.currency) return invalid('Missing required param: line_items[0][price_data][currency].', `line_items[${i}][price_data][currency]`);
        total += amount * qty;
      } else {
        return invalid('You must specify either `price` or `price_data` in each line item.', `line_items[${i}]`);
      }
    }
    const id = `cs_test_${randomBytes(20).toString('hex')}`;
    const session = {
      id,
      object: 'checkout.session',
      mode: form.mode,
      status: 'open',
      payment_status: 'unpaid',
      url: `https://checkout.stripe.test/c/pay/${id}`,
      customer: form.customer ?? null,
      client_reference_id: form.client_reference_id ?? null,
      metadata: form.metadata ?? {},
      amount_subtotal: total,
      amount_total: total,
      currency: 'usd',
      success_url: form.success_url ?? null,
      cancel_url: form.cancel_url ?? null,
      subscription: null as string | null,
      payment_intent: null as string | null,
      created: now(),
      expires_at: now() + 86_400,
      livemode: false,
      // Kept for completeCheckout; not part of Stripe's session object.
      _line_items: items,
      _subscription_metadata: form.subscription_data?.metadata ?? {},
    };
    sessions.set(id, session);
    return ok(publicSession(session));
  }

  const publicSession = (s: Obj) => Object.fromEntries(Object.entries(s).filter(([k]) => !k.startsWith('_')));

  function newSubscription(customer: string, price: string, metadata: Obj): Obj {
    const id = rid('sub');
    const start = now();
    const sub = {
      id,
      object: 'subscription',
      customer,
      status: 'active',
      cancel_at_period_end: false,
      cancel_at: null,
      canceled_at: null,
      ended_at: null,
      created: start,
      start_date: start,
      currency: 'usd',
      collection_method: 'charge_automatically',
      metadata: { ...metadata },
      items: {
        object: 'list',
        data: [{ id: rid('si'), object: 'subscription_item', price: priceObject(price), quantity: 1, current_period_start: start, current_period_end: start + 30 * 86_400, subscription: id, created: start }],
        has_more: false,
        url: `/v1/subscription_items?subscription=${id}`,
      },
      latest_invoice: null,
      livemode: false,
    };
    subscriptions.set(id, sub);
    return sub;
  }

  const upstream: FakeUpstream = await startFakeUpstream(handle);

  return {
    url: upstream.url,
    secretKey,
    calls,
    customers,
    sessions,
    subscriptions,
    completeCheckout(sessionId, o = {}) {
      const s = sessions.get(sessionId);
      if (!s) throw new Error(`fake-stripe: no session ${sessionId}`);
      s.status = 'complete';
      s.payment_status = o.paymentStatus ?? 'paid';
      if (s.mode === 'payment') s.payment_intent = rid('pi');
      if (s.mode === 'subscription' && !s.subscription) s.subscription = newSubscription(s.customer, s._line_items[0].price, s._subscription_metadata).id;
      return publicSession(s);
    },
    updateSubscription(id, patch) {
      const sub = subscriptions.get(id);
      if (!sub) throw new Error(`fake-stripe: no subscription ${id}`);
      if (patch.status !== undefined) sub.status = patch.status;
      if (patch.cancel_at_period_end !== undefined) sub.cancel_at_period_end = patch.cancel_at_period_end;
      if (patch.price !== undefined) sub.items.data[0].price = priceObject(patch.price);
      if (patch.current_period_end !== undefined) sub.items.data[0].current_period_end = patch.current_period_end;
      if (patch.canceled_at !== undefined) sub.canceled_at = patch.canceled_at;
      if (sub.status === 'canceled') sub.ended_at ??= now();
      return structuredClone(sub);
    },
    invoice(subscriptionId, o = {}) {
      const sub = subscriptions.get(subscriptionId);
      if (!sub) throw new Error(`fake-stripe: no subscription ${subscriptionId}`);
      const item = sub.items.data[0];
      const amount = item.price.unit_amount;
      const paid = (o.status ?? 'paid') === 'paid';
      const inv = {
        id: rid('in'),
        object: 'invoice',
        customer: sub.customer,
        status: o.status ?? 'paid',
        billing_reason: o.billingReason ?? 'subscription_cycle',
        collection_method: 'charge_automatically',
        currency: 'usd',
        amount_due: amount,
        amount_paid: paid ? amount : 0,
        amount_remaining: paid ? 0 : amount,
        attempt_count: o.attemptCount ?? 1,
        attempted: true,
        parent: { type: 'subscription_details', quote_details: null, subscription_details: { metadata: { ...sub.metadata }, subscription: sub.id } },
        lines: {
          object: 'list',
          data: [
            {
              id: rid('il'),
              object: 'line_item',
              amount,
              currency: 'usd',
              pricing: { type: 'price_details', price_details: { price: item.price.id, product: item.price.product }, unit_amount_decimal: String(amount) },
              period: { start: item.current_period_start, end: item.current_period_end },
              quantity: 1,
            },
          ],
          has_more: false,
        },
        period_start: item.current_period_start,
        period_end: item.current_period_end,
        created: now(),
        livemode: false,
      };
      sub.latest_invoice = inv.id;
      return inv;
    },
    event(type, object, o = {}) {
      const id = o.id ?? rid('evt');
      const payload = JSON.stringify(
        {
          id,
          object: 'event',
          api_version: API_VERSION,
          created: o.created ?? now(),
          data: { object, ...(o.previous ? { previous_attributes: o.previous } : {}) },
          livemode: false,
          pending_webhooks: 1,
          request: { id: null, idempotency_key: null },
          type,
        },
        null,
        2,
      );
      return { id, payload };
    },
    failNext(method, pathPrefix, status, error) {
      failures.push({ method, prefix: pathPrefix, reply: stripeError(status, error.type, error.message, { ...(error.code ? { code: error.code } : {}), ...(error.param ? { param: error.param } : {}) }) });
    },
    close: () => upstream.close(),
  };
}

/** The `Stripe-Signature` header Stripe would send with `payload`, made by the SDK's own helper. */
export function signWebhook(payload: string, secret: string, timestamp?: number): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp !== undefined ? { timestamp } : {}) });
}
