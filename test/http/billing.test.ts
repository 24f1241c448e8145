/**
 * Stripe billing through HTTP, with the real `stripe` SDK talking to a fake Stripe API on loopback and webhooks
 * signed by the SDK's test helper: checkout for a plan and for credits, signature checks, every handled event's
 * effect, exactly-once processing (replays and concurrent deliveries), tier changes on the next request,
 * cancellation at period end, stub mode, bad input and auth.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeStripe, signWebhook, type FakeStripe } from '../support/fake-stripe.ts';
import { Api, assertBadRequest, assertError, type Account } from '../support/identity.ts';

const WHSEC = 'whsec_test_0123456789abcdef';
const PICO = 1_000_000_000_000n;

let fake: FakeStripe;
let server: TestServer;
let api: Api;

before(async () => {
  fake = await startFakeStripe({ prices: { price_pro: 2000, price_power: 5000 } });
  server = await startTestServer(
    {
      trial: { days: 7 },
      // Free users may use only `openai`; paid plans keep ['*'] (so mock/echo tells which tier is in force).
      plans: { free: { features: { providers: ['openai'] } } },
    },
    {
      STRIPE_SECRET_KEY: fake.secretKey,
      STRIPE_WEBHOOK_SECRET: WHSEC,
      STRIPE_API_BASE: fake.url,
      STRIPE_PRICE_PRO: 'price_pro',
      STRIPE_PRICE_POWER: 'price_power',
      // A price the fake Stripe does not know: checkout for team fails upstream.
      STRIPE_PRICE_TEAM: 'price_team_missing',
      PUBLIC_URL: 'https://console.example.com',
    },
  );
  api = new Api(server.url);
});
after(async () => {
  await server?.stop();
  await fake?.close();
});

const db = () => server.services.database.db;

function deliver(payload: string, opts: { signature?: string | null; contentType?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json; charset=utf-8' };
  const sig = opts.signature === undefined ? signWebhook(payload, WHSEC) : opts.signature;
  if (sig !== null) headers['stripe-signature'] = sig;
  return api.call('/api/billing/webhook', { method: 'POST', body: payload, headers });
}

async function send(type: string, object: object, opts: { created?: number; id?: string } = {}) {
  const ev = fake.event(type, object as Record<string, unknown>, opts);
  const res = await deliver(ev.payload);
  assert.equal(res.status, 200, `${type}: ${res.text}`);
  assert.equal(res.body.received, true);
  assert.equal(res.body.event_id, ev.id);
  return { ...res.body, payload: ev.payload };
}

async function accountOf(userId: string) {
  return server.services.ledger.account({ type: 'user', id: userId });
}

async function entries(userId: string, kind?: string) {
  const acct = await accountOf(userId);
  let q = db().selectFrom('credit_transactions').selectAll().where('account_id', '=', acct.id);
  if (kind) q = q.where('kind', '=', kind as never);
  return q.orderBy('id').execute();
}

async function ledgerSum(userId: string): Promise<bigint> {
  return (await entries(userId)).reduce((s, r) => s + BigInt(r.amount), 0n);
}

async function userRow(id: string) {
  return db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function auditActions(userId: string): Promise<string[]> {
  const rows = await db().selectFrom('audit_log').select('action').where('target_id', '=', userId).orderBy('id').execute();
  return rows.map((r) => r.action);
}

const checkout = (token: string, body: unknown) => api.post('/api/billing/checkout', body, { token });

async function paidCheckout(user: Account, body: object) {
  const res = await checkout(user.access, body);
  assert.equal(res.status, 200, res.text);
  return fake.completeCheckout(res.body.session_id);
}

describe('checkout', () => {
  it('starts a subscription checkout: Stripe customer created once and reused, user/kind/tier in metadata', async () => {
    const user = await api.register();
    const before = fake.calls.length;
    const res = await checkout(user.access, { tier: 'pro' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.mode, 'stripe');
    assert.equal(res.body.kind, 'subscription');
    assert.equal(res.body.tier, 'pro');
    assert.equal(res.body.credits_usd, null);
    assert.match(res.body.session_id, /^cs_test_/);
    assert.equal(res.body.checkout_url, `https://checkout.stripe.test/c/pay/${res.body.session_id}`);

    const calls = fake.calls.slice(before);
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ['POST /v1/customers', 'POST /v1/checkout/sessions']);
    assert.equal(calls[0].form.email, user.email);
    assert.equal(calls[0].form.metadata.user_id, user.id);
    assert.match(String(calls[0].headers['idempotency-key']), new RegExp(user.id));
    const form = calls[1].form;
    assert.equal(form.mode, 'subscription');
    assert.deepEqual(form.line_items, [{ price: 'price_pro', quantity: '1' }]);
    assert.deepEqual(form.metadata, { user_id: user.id, kind: 'subscription', tier: 'pro' });
    assert.deepEqual(form.subscription_data.metadata, { user_id: user.id, tier: 'pro' });
    assert.equal(form.client_reference_id, user.id);
    assert.equal(form.success_url, 'https://console.example.com/billing/success?session_id={CHECKOUT_SESSION_ID}');
    assert.equal(form.cancel_url, 'https://console.example.com/billing/cancel');
    const customer = await db().selectFrom('billing_customers').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    assert.equal(form.customer, customer.customer_id);

    // A second checkout (credits this time) reuses the customer.
    const again = await checkout(user.access, { credits_usd: 10 });
    assert.equal(again.status, 200, again.text);
    const later = fake.calls.slice(before + 2);
    assert.deepEqual(later.map((c) => `${c.method} ${c.path}`), ['POST /v1/checkout/sessions']);
    assert.equal(later[0].form.customer, customer.customer_id);
  });

  it('starts a one-time credit purchase in whole cents', async () => {
    const user = await api.register();
    const res = await checkout(user.access, { credits_usd: 25.5 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.kind, 'credits');
    assert.equal(res.body.credits_usd, 25.5);
    assert.equal(res.body.tier, null);
    const form = fake.calls.at(-1)!.form;
    assert.equal(form.mode, 'payment');
    assert.equal(form.line_items[0].price_data.currency, 'usd');
    assert.equal(form.line_items[0].price_data.unit_amount, '2550');
    assert.equal(form.line_items[0].quantity, '1');
    assert.deepEqual(form.metadata, { user_id: user.id, kind: 'credits', credits_usd: '25.50', credits_cents: '2550' });
    assert.equal(fake.sessions.get(res.body.session_id)!.amount_total, 2550);
  });

  it('concurrent first checkouts of one user create one Stripe customer', async () => {
    const user = await api.register();
    const results = await Promise.all(Array.from({ length: 5 }, () => checkout(user.access, { credits_usd: 5 })));
    for (const r of results) assert.equal(r.status, 200, r.text);
    const customers = new Set(results.map((r) => fake.sessions.get(r.body.session_id)!.customer));
    assert.equal(customers.size, 1);
    const rows = await db().selectFrom('billing_customers').selectAll().where('user_id', '=', user.id).execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].customer_id, [...customers][0]);
  });

  it('rejects bad input with a precise 400 and calls Stripe for none of it', async () => {
    const user = await api.register();
    const before = fake.calls.length;
    for (const body of [
      {},
      { tier: 'pro', credits_usd: 10 },
      { tier: 'gold' },
      { tier: 7 },
      { credits_usd: 'ten' },
      { credits_usd: -5 },
      { credits_usd: 0 },
      { credits_usd: 1e9 },
      { credits_usd: 10, extra: true },
      [],
      'pro',
      null,
    ]) {
      assertBadRequest(await checkout(user.access, body));
    }
    assertBadRequest(await checkout(user.access, { tier: 'free' }), 'invalid_tier');
    assertBadRequest(await checkout(user.access, { credits_usd: 10.005 }), 'invalid_amount');
    assertBadRequest(await checkout(user.access, { credits_usd: 0.5 }), 'invalid_amount');
    assertBadRequest(await api.call('/api/billing/checkout', { method: 'POST', body: '{"tier": "pro"', token: user.access }), 'invalid_json');
    assert.equal(fake.calls.length, before);
    assert.equal((await db().selectFrom('billing_customers').select('user_id').where('user_id', '=', user.id).execute()).length, 0);
  });

  it('maps a Stripe refusal to 502 stripe_error (never a 500)', async () => {
    const user = await api.register();
    const res = await checkout(user.access, { tier: 'team' });
    assertError(res, 502, 'stripe_error');
    assert.match(res.body.error.message, /price_team_missing/);
  });

  it('requires a signed-in user: 401 without credentials, 403 for the operator key and keys without the account scope', async () => {
    assertError(await api.post('/api/billing/checkout', { tier: 'pro' }), 401, 'missing_api_key');
    assertError(await api.post('/api/billing/checkout', { tier: 'pro' }, { token: 'sk-not-a-key' }), 401);
    assertError(await api.get('/api/billing/subscription'), 401);
    assertError(await api.del('/api/billing/subscription'), 401);
    assertError(await api.post('/api/billing/checkout', { tier: 'pro' }, { admin: true }), 403, 'user_required');
    const user = await api.register();
    const { key } = await api.createKey(user.access, { scopes: ['inference'] });
    assertError(await api.get('/api/billing/subscription', { token: key }), 403, 'scope_required');
    const { key: accountKey } = await api.createKey(user.access, { scopes: ['account'] });
    assert.equal((await api.get('/api/billing/subscription', { token: accountKey })).status, 200);
  });
});

describe('webhook signatures', () => {
  it('rejects missing, wrong, tampered and stale signatures with 400 and records nothing', async () => {
    const ev = fake.event('invoice.payment_failed', { id: 'in_sig', object: 'invoice' });
    assertBadRequest(await deliver(ev.payload, { signature: null }), 'missing_signature');
    assertBadRequest(await deliver(ev.payload, { signature: signWebhook(ev.payload, 'whsec_wrong') }), 'invalid_signature');
    assertBadRequest(await deliver(ev.payload.replace('in_sig', 'in_sih'), { signature: signWebhook(ev.payload, WHSEC) }), 'invalid_signature');
    assertBadRequest(await deliver(ev.payload, { signature: signWebhook(ev.payload, WHSEC, Math.floor(Date.now() / 1000) - 3600) }), 'invalid_signature');
    assertBadRequest(await deliver(ev.payload, { signature: 't=1,v1=deadbeef' }), 'invalid_signature');
    assertBadRequest(await deliver(ev.payload, { signature: 'garbage' }), 'invalid_signature');
    // Re-serialized JSON is not the signed body: the raw bytes are what count.
    assertBadRequest(await deliver(JSON.stringify(JSON.parse(ev.payload)), { signature: signWebhook(ev.payload, WHSEC) }), 'invalid_signature');
    const stored = await db().selectFrom('billing_events').select('id').where('id', '=', ev.id).execute();
    assert.equal(stored.length, 0);
  });

  it('rejects a signed body that is not a Stripe event with 400', async () => {
    assertBadRequest(await deliver('not json at all'), 'invalid_payload');
    assertBadRequest(await deliver('{"hello": "world"}'), 'invalid_payload');
    assertBadRequest(await deliver(''), /missing_signature|invalid_payload|invalid_signature/);
  });

  it('takes the raw body whatever the content type, and refuses huge bodies', async () => {
    const ev = fake.event('ping.unknown', { id: 'x', object: 'thing' });
    const res = await deliver(ev.payload, { contentType: 'text/plain' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.handled, false);
    assert.equal(res.body.note, 'unhandled_event_type');
    const big = await deliver('x'.repeat(2 * 1024 * 1024));
    assertError(big, 413);
  });
});

describe('credit purchases', () => {
  it('credits a paid checkout once: purchase entry referenced by the session, trial converted; replays change nothing', async () => {
    const user = await api.register();
    assert.ok((await userRow(user.id)).trial_expires_at, 'registered with a trial');
    const session = await paidCheckout(user, { credits_usd: 25.5 });
    const sumBefore = await ledgerSum(user.id);
    const first = await send('checkout.session.completed', session);
    assert.equal(first.duplicate, false);
    assert.equal(first.handled, true);
    assert.equal(first.mode, 'stripe');

    const purchases = await entries(user.id, 'purchase');
    assert.equal(purchases.length, 1);
    assert.equal(BigInt(purchases[0].amount), 2550n * 10_000_000_000n);
    assert.equal(purchases[0].reference_type, 'stripe_checkout_session');
    assert.equal(purchases[0].reference_id, session.id);
    assert.equal(await ledgerSum(user.id), sumBefore + 25_500_000_000_000n);
    assert.ok((await userRow(user.id)).trial_converted_at, 'a purchase ends the trial');
    assert.ok((await auditActions(user.id)).includes('billing.credits_purchased'));
    const credits = await api.get('/api/credits', { token: user.access });
    assert.equal(credits.body.balance_usd, 25.5);

    // The same event again: 200, no effect.
    const replay = await deliver(first.payload);
    assert.equal(replay.status, 200);
    assert.equal(replay.body.duplicate, true);
    assert.equal(replay.body.handled, false);
    // A different event about the same session (e.g. async_payment_succeeded): no second credit.
    const other = await send('checkout.session.async_payment_succeeded', session);
    assert.equal(other.duplicate, false);
    assert.equal(other.handled, false);
    assert.equal(other.note, 'already_credited');
    assert.equal((await entries(user.id, 'purchase')).length, 1);
    assert.equal(await ledgerSum(user.id), sumBefore + 25_500_000_000_000n);
    const acct = await accountOf(user.id);
    assert.equal((await server.services.ledger.verify(acct.id)).ok, true);
  });

  it('a credit-book reload failing after the commit neither fails the webhook nor goes unhandled', async () => {
    const user = await api.register();
    const session = await paidCheckout(user, { credits_usd: 3 });
    const ledger = server.services.ledger;
    const onChange = ledger.onChange;
    const unhandled: unknown[] = [];
    const catcher = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', catcher);
    ledger.onChange = async () => {
      throw new Error('credit book unavailable');
    };
    try {
      const res = await send('checkout.session.completed', session);
      assert.equal(res.handled, true);
      // Give a stray rejection time to surface.
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      ledger.onChange = onChange;
      process.off('unhandledRejection', catcher);
    }
    assert.deepEqual(unhandled, []);
    assert.equal((await entries(user.id, 'purchase')).length, 1, 'the purchase is committed');
  });

  it('applies one event delivered many times concurrently exactly once', async () => {
    const user = await api.register();
    const session = await paidCheckout(user, { credits_usd: 12.34 });
    const ev = fake.event('checkout.session.completed', session);
    const results = await Promise.all(Array.from({ length: 12 }, () => deliver(ev.payload)));
    for (const r of results) assert.equal(r.status, 200, r.text);
    assert.equal(results.filter((r) => r.body.handled).length, 1);
    assert.equal(results.filter((r) => r.body.duplicate).length, 11);
    const purchases = await entries(user.id, 'purchase');
    assert.equal(purchases.length, 1);
    assert.equal(await ledgerSum(user.id), 1234n * 10_000_000_000n);
    const acct = await accountOf(user.id);
    const check = await server.services.ledger.verify(acct.id);
    assert.equal(check.ok, true);
    assert.equal(check.balance, 1234n * 10_000_000_000n);
    const stored = await db().selectFrom('billing_events').selectAll().where('id', '=', ev.id).execute();
    assert.equal(stored.length, 1);
    assert.equal(stored[0].type, 'checkout.session.completed');
  });

  it('waits for payment of an asynchronous checkout, then credits on async_payment_succeeded', async () => {
    const user = await api.register();
    const res = await checkout(user.access, { credits_usd: 7 });
    const pending = fake.completeCheckout(res.body.session_id, { paymentStatus: 'unpaid' });
    const first = await send('checkout.session.completed', pending);
    assert.equal(first.handled, false);
    assert.equal(first.note, 'awaiting_payment');
    assert.equal((await entries(user.id, 'purchase')).length, 0);
    const paid = fake.completeCheckout(res.body.session_id, { paymentStatus: 'paid' });
    const second = await send('checkout.session.async_payment_succeeded', paid);
    assert.equal(second.handled, true);
    assert.equal(await ledgerSum(user.id), 7n * PICO);
  });
});

describe('subscription lifecycle', () => {
  let user: Account;
  let key: string;
  let subId: string;
  const chat = () => api.chat(key, 'mock/echo');
  const chatOk = async (why: string) => {
    const res = await chat();
    assert.equal(res.status, 200, `${why}: ${res.text}`);
  };

  before(async () => {
    user = await api.register();
    key = (await api.createKey(user.access)).key;
  });

  it('a free user is refused a provider outside the free plan', async () => {
    const res = await chat();
    assertError(res, 403, 'feature_not_in_plan');
    assert.match(res.body.error.message, /"mock"/);
    const sub = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(sub.status, 200);
    assert.equal(sub.body.mode, 'stripe');
    assert.equal(sub.body.tier, 'free');
    assert.equal(sub.body.subscription, null);
    assertError(await api.del('/api/billing/subscription', { token: user.access }), 404, 'no_subscription');
  });

  it('checkout.session.completed records the subscription and upgrades the tier for the next request', async () => {
    const session = await paidCheckout(user, { tier: 'pro' });
    subId = session.subscription;
    assert.match(subId, /^sub_/);
    const before = fake.calls.length;
    const res = await send('checkout.session.completed', session);
    assert.equal(res.handled, true);
    // The session carries only the subscription id: its state was fetched from Stripe.
    assert.deepEqual(fake.calls.slice(before).map((c) => `${c.method} ${c.path}`), [`GET /v1/subscriptions/${subId}`]);

    await chatOk('pro allows every provider');
    const view = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(view.body.tier, 'pro');
    assert.equal(view.body.plan.id, 'pro');
    assert.equal(view.body.subscription.id, subId);
    assert.equal(view.body.subscription.tier, 'pro');
    assert.equal(view.body.subscription.status, 'active');
    assert.equal(view.body.subscription.cancel_at_period_end, false);
    assert.equal(view.body.subscription.entitled, true);
    const periodEnd = fake.subscriptions.get(subId)!.items.data[0].current_period_end;
    assert.equal(view.body.subscription.current_period_end, new Date(periodEnd * 1000).toISOString());
    assert.equal(view.body.customer_id, session.customer);
    assert.ok((await userRow(user.id)).trial_converted_at);
    const actions = await auditActions(user.id);
    assert.ok(actions.includes('billing.subscription_started'));
    assert.ok(actions.includes('billing.tier_change'));

    // Replayed: nothing more.
    const replay = await deliver(res.payload);
    assert.equal(replay.body.duplicate, true);
  });

  it('a second checkout for a plan while subscribed is refused with 409', async () => {
    assertError(await checkout(user.access, { tier: 'power' }), 409, 'already_subscribed');
  });

  it('invoice.paid grants the monthly allowance once per invoice, also under concurrent delivery', async () => {
    const sumBefore = await ledgerSum(user.id);
    const inv = fake.invoice(subId, { billingReason: 'subscription_create' });
    const res = await send('invoice.paid', inv);
    assert.equal(res.handled, true);
    const allowance = await entries(user.id, 'subscription_allowance');
    assert.equal(allowance.length, 1);
    assert.equal(BigInt(allowance[0].amount), 15n * PICO, 'the pro plan allowance');
    assert.equal(allowance[0].reference_type, 'stripe_invoice');
    assert.equal(allowance[0].reference_id, inv.id);
    assert.equal(await ledgerSum(user.id), sumBefore + 15n * PICO);
    assert.equal((await deliver(res.payload)).body.duplicate, true);
    assert.equal(await ledgerSum(user.id), sumBefore + 15n * PICO);

    const renewal = fake.invoice(subId, { billingReason: 'subscription_cycle' });
    const ev = fake.event('invoice.paid', renewal);
    const results = await Promise.all([deliver(ev.payload), deliver(ev.payload), deliver(ev.payload)]);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
    assert.equal(results.filter((r) => r.body.handled).length, 1);
    assert.equal((await entries(user.id, 'subscription_allowance')).length, 2);
    assert.equal(await ledgerSum(user.id), sumBefore + 30n * PICO);

    // Proration invoices of mid-period changes grant nothing.
    const proration = await send('invoice.paid', fake.invoice(subId, { billingReason: 'subscription_update' }));
    assert.equal(proration.handled, false);
    assert.equal((await entries(user.id, 'subscription_allowance')).length, 2);
    const acct = await accountOf(user.id);
    assert.equal((await server.services.ledger.verify(acct.id)).ok, true);
  });

  it('invoice.payment_failed marks the subscription past_due and audits it; the plan stays while Stripe retries', async () => {
    const res = await send('invoice.payment_failed', fake.invoice(subId, { status: 'open', attemptCount: 2 }));
    assert.equal(res.handled, true);
    const view = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(view.body.subscription.status, 'past_due');
    assert.equal(view.body.tier, 'pro');
    const audit = await db().selectFrom('audit_log').selectAll().where('target_id', '=', user.id).where('action', '=', 'billing.payment_failed').execute();
    assert.equal(audit.length, 1);
    assert.equal((audit[0].changes as any).attempt_count, 2);
    await chatOk('past_due keeps the plan');
  });

  it('customer.subscription.updated applies plan, status, period end and cancel flag; older events are ignored', async () => {
    const staleCreated = Math.floor(Date.now() / 1000) - 60;
    const stale = fake.updateSubscription(subId, {});
    const newEnd = Math.floor(Date.now() / 1000) + 40 * 86_400;
    const updated = fake.updateSubscription(subId, { status: 'active', price: 'price_power', current_period_end: newEnd });
    const res = await send('customer.subscription.updated', updated, { created: Math.floor(Date.now() / 1000) + 1 });
    assert.equal(res.handled, true);
    let view = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(view.body.tier, 'power');
    assert.equal(view.body.subscription.tier, 'power');
    assert.equal(view.body.subscription.status, 'active');
    assert.equal(view.body.subscription.current_period_end, new Date(newEnd * 1000).toISOString());
    assert.equal(view.body.plan.rpm, 120);

    // An older snapshot (pro, past_due) delivered late changes nothing.
    const late = await send('customer.subscription.updated', stale, { created: staleCreated });
    assert.equal(late.handled, false);
    assert.equal(late.note, 'stale_event');
    view = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(view.body.tier, 'power');
  });

  it('DELETE cancels at period end at Stripe; the plan stays until customer.subscription.deleted, then back to free', async () => {
    const before = fake.calls.length;
    const res = await api.del('/api/billing/subscription', { token: user.access });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.mode, 'stripe');
    assert.equal(res.body.subscription.cancel_at_period_end, true);
    assert.equal(res.body.tier, 'power');
    const calls = fake.calls.slice(before);
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), [`POST /v1/subscriptions/${subId}`]);
    assert.equal(calls[0].form.cancel_at_period_end, 'true');
    assert.equal(fake.subscriptions.get(subId)!.cancel_at_period_end, true);
    assert.ok((await auditActions(user.id)).includes('billing.subscription_cancel'));
    // Repeating it is harmless and calls Stripe no more.
    assert.equal((await api.del('/api/billing/subscription', { token: user.access })).status, 200);
    assert.equal(fake.calls.length, before + 1);
    await chatOk('the plan lasts until the period ends');
    // While canceling, a new plan may be bought.
    const next = await checkout(user.access, { tier: 'pro' });
    assert.equal(next.status, 200, next.text);

    // Stripe confirms the flag, then ends the subscription at period end.
    assert.equal((await send('customer.subscription.updated', fake.updateSubscription(subId, {}), { created: Math.floor(Date.now() / 1000) + 2 })).handled, true);
    const ended = fake.updateSubscription(subId, { status: 'canceled', canceled_at: Math.floor(Date.now() / 1000) });
    const del = await send('customer.subscription.deleted', ended, { created: Math.floor(Date.now() / 1000) + 3 });
    assert.equal(del.handled, true);
    const refused = await chat();
    assertError(refused, 403, 'feature_not_in_plan');
    const view = await api.get('/api/billing/subscription', { token: user.access });
    assert.equal(view.body.tier, 'free');
    assert.equal(view.body.subscription.status, 'canceled');
    assert.equal(view.body.subscription.entitled, false);
    assert.equal((await userRow(user.id)).tier, 'free');
    assert.ok((await auditActions(user.id)).includes('billing.subscription_ended'));

    // A late update cannot bring a canceled subscription back.
    const zombie = await send('customer.subscription.updated', { ...ended, status: 'active' }, { created: Math.floor(Date.now() / 1000) + 10 });
    assert.equal(zombie.handled, false);
    assert.equal((await userRow(user.id)).tier, 'free');
    assertError(await api.del('/api/billing/subscription', { token: user.access }), 404, 'no_subscription');
    const acct = await accountOf(user.id);
    assert.equal((await server.services.ledger.verify(acct.id)).ok, true);
  });

  it('handles Stripe delivering invoice.paid before checkout.session.completed', async () => {
    const other = await api.register();
    const session = await paidCheckout(other, { tier: 'power' });
    const inv = fake.invoice(session.subscription, { billingReason: 'subscription_create' });
    const paid = await send('invoice.paid', inv);
    assert.equal(paid.handled, true);
    assert.equal(await ledgerSum(other.id), 40n * PICO, 'the power allowance, found through the invoice');
    assert.equal((await userRow(other.id)).tier, 'free', 'the tier follows the subscription, not the invoice');
    assert.equal((await send('checkout.session.completed', session)).handled, true);
    assert.equal((await userRow(other.id)).tier, 'power');
    assert.equal(await ledgerSum(other.id), 40n * PICO);
  });

  it('finds the user through the customer when metadata is missing', async () => {
    const other = await api.register();
    const session = await paidCheckout(other, { tier: 'pro' });
    const sub = fake.subscriptions.get(session.subscription)!;
    sub.metadata = {};
    const res = await send('customer.subscription.updated', { ...fake.updateSubscription(sub.id, { price: 'price_power' }) });
    assert.equal(res.handled, true);
    assert.equal((await userRow(other.id)).tier, 'power');
  });
});

describe('events that change nothing', () => {
  it('acknowledges unknown users, unknown subscriptions and unhandled types with 200', async () => {
    const unknownUser = await send('checkout.session.completed', {
      id: 'cs_test_nobody',
      object: 'checkout.session',
      mode: 'payment',
      payment_status: 'paid',
      amount_total: 500,
      currency: 'usd',
      customer: null,
      metadata: { user_id: 'usr_does_not_exist', kind: 'credits', credits_cents: '500' },
    });
    assert.equal(unknownUser.handled, false);
    assert.equal(unknownUser.note, 'unknown_user');
    const noSub = await send('invoice.paid', { id: 'in_orphan', object: 'invoice', customer: 'cus_unknown', billing_reason: 'subscription_cycle', parent: null });
    assert.equal(noSub.handled, false);
    assert.equal(noSub.note, 'not_a_subscription_invoice');
    const other = await send('customer.created', { id: 'cus_x', object: 'customer' });
    assert.equal(other.handled, false);
    assert.equal(other.note, 'unhandled_event_type');
    const notOurs = await send('checkout.session.completed', { id: 'cs_test_foreign', object: 'checkout.session', mode: 'payment', payment_status: 'paid', metadata: {} });
    assert.equal(notOurs.note, 'not_a_switchyard_checkout');
    const bad = await send('customer.subscription.updated', { object: 'subscription' });
    assert.equal(bad.note, 'malformed_object');
  });
});

describe('stub mode (no STRIPE_SECRET_KEY)', () => {
  let stub: TestServer;
  let sapi: Api;
  before(async () => {
    stub = await startTestServer();
    sapi = new Api(stub.url);
  });
  after(async () => stub?.stop());

  it('labels every response "stub", returns a local checkout URL and takes no payment', async () => {
    const plans = await sapi.get('/api/plans');
    assert.equal(plans.body.billing_mode, 'stub');
    const user = await sapi.register();
    const res = await sapi.post('/api/billing/checkout', { tier: 'pro' }, { token: user.access });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.mode, 'stub');
    assert.match(res.body.session_id, /^cs_stub_/);
    assert.equal(res.body.checkout_url, `${stub.url}/api/billing/stub/checkout/${res.body.session_id}`);
    const page = await sapi.get(new URL(res.body.checkout_url).pathname);
    assert.equal(page.status, 200);
    assert.equal(page.body.mode, 'stub');
    assert.match(page.body.message, /STRIPE_SECRET_KEY/);
    const credits = await sapi.post('/api/billing/checkout', { credits_usd: 10 }, { token: user.access });
    assert.equal(credits.status, 200);
    assert.equal(credits.body.mode, 'stub');
    assert.equal(credits.body.kind, 'credits');
    assertBadRequest(await sapi.post('/api/billing/checkout', { credits_usd: 10.001 }, { token: user.access }), 'invalid_amount');
    assertBadRequest(await sapi.post('/api/billing/checkout', {}, { token: user.access }));

    const sub = await sapi.get('/api/billing/subscription', { token: user.access });
    assert.equal(sub.status, 200);
    assert.equal(sub.body.mode, 'stub');
    assert.equal(sub.body.tier, 'free');
    assertError(await sapi.del('/api/billing/subscription', { token: user.access }), 404, 'no_subscription');
    const stubDb = stub.services.database.db;
    assert.equal((await stubDb.selectFrom('billing_customers').select('user_id').execute()).length, 0);
    assert.equal(Number((await sql<{ n: string }>`select count(*) as n from credit_transactions where kind = 'purchase'`.execute(stubDb)).rows[0].n), 0);
  });

  it('answers webhooks with 503 when no webhook secret is configured', async () => {
    const ev = fake.event('invoice.paid', { id: 'in_1', object: 'invoice' });
    const res = await sapi.call('/api/billing/webhook', { method: 'POST', body: ev.payload, headers: { 'stripe-signature': signWebhook(ev.payload, WHSEC) } });
    assertError(res, 503, 'webhook_not_configured');
  });

  it('serves the stub checkout page only in stub mode', async () => {
    assertError(await api.get('/api/billing/stub/checkout/cs_stub_x'), 404);
  });
});
