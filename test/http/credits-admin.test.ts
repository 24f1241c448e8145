/**
 * Admin credit operations and their guard rails, through HTTP: positive adjustments and coupons count against
 * the per-grant and rolling 24-hour caps (each admin identity has its own); negative adjustments stay above
 * what in-flight requests hold and queued charges take; a refund and its audit entry commit together; reads of
 * one user's or org's ledger never create an account.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { Api, assertError, newPassword, uniqueEmail, type Account } from '../support/identity.ts';

let server: TestServer;
let upstream: FakeUpstream;
let api: Api;
let delayMs = 0;

// USD per million tokens: 1 in, 2 out.
const PRICES = { input: 1, output: 2 };
const MODEL = 'up/m';

before(async () => {
  upstream = await startFakeUpstream((req) => {
    const out = Math.min(Number(req.body?.max_tokens ?? 400), 400);
    const reply = scripted(fakeOpenAI, () => ({ text: 'an answer', usage: { input: 10, output: out } }))(req);
    return delayMs ? new Promise((resolve) => setTimeout(() => resolve(reply), delayMs)) : reply;
  });
  server = await startTestServer({
    // Charges stay queued until flushed (or a minute passes): the adjust tests rely on it.
    credits: { mode: 'prepaid', maxGrantUsd: 10, dailyGrantLimitUsd: 25, chargeFlushIntervalMs: 60_000 },
    providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }],
    prices: { [MODEL]: PRICES },
    upstream: { maxAttempts: 1, firstByteTimeoutMs: 5000, streamIdleTimeoutMs: 5000, totalTimeoutMs: 20_000 },
  });
  api = new Api(server.url);
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

/** A fresh admin identity: its own rolling 24-hour grant cap. */
async function newAdmin(): Promise<string> {
  const email = uniqueEmail('admin');
  const password = newPassword();
  await api.adminCreateUser({ email, password, role: 'admin' });
  const login = await api.login(email, password);
  assert.equal(login.status, 200, login.text);
  return login.body.access_token;
}

const as = (token: string) => ({ token });
const grant = (token: string, userId: string, usd: number) => api.post('/api/admin/credits/add', { user_id: userId, amount_usd: usd, reason: 'test credit grant' }, as(token));
const adjust = (token: string | undefined, userId: string, usd: number) =>
  api.post('/api/admin/credits/adjust', { user_id: userId, amount_usd: usd, reason: 'manual correction' }, token ? as(token) : { admin: true });
const coupon = (token: string, body: Record<string, unknown>) => api.post('/api/admin/coupons', { code: `CAP${Math.random().toString(36).slice(2, 10)}`, type: 'promotional', ...body }, as(token));

async function balancePico(user: Account): Promise<bigint> {
  await server.services.charges.flush();
  return BigInt((await api.get('/api/credits', as(user.access))).body.balance_pico);
}

async function keyFor(user: Account): Promise<string> {
  return (await api.createKey(user.access)).key;
}

function chat(key: string, body: Record<string, unknown> = {}) {
  return api.post('/v1/chat/completions', { model: MODEL, max_tokens: 400, messages: [{ role: 'user', content: 'hi' }], ...body }, { token: key });
}

describe('grant caps', () => {
  it('positive adjustments are capped per grant and count against the admin’s daily cap', async () => {
    const admin = await newAdmin();
    const user = await api.register();
    assertError(await adjust(admin, user.id, 10.5), 403, 'grant_cap_exceeded');
    assert.equal((await grant(admin, user.id, 10)).status, 201);
    assert.equal((await adjust(admin, user.id, 10)).status, 201);
    assertError(await adjust(admin, user.id, 10), 403, 'daily_grant_limit_exceeded');
    assertError(await grant(admin, user.id, 10), 403, 'daily_grant_limit_exceeded');
    assert.equal((await adjust(admin, user.id, 5)).status, 201, 'exactly up to the cap');
    assert.equal((await adjust(admin, user.id, -1)).status, 201, 'corrections downwards are not grants');
    assert.equal(await balancePico(user), 24_000_000_000_000n);
  });

  it('a coupon counts value x max_uses against its creator’s daily cap; unbounded coupons are refused', async () => {
    const admin = await newAdmin();
    const user = await api.register();
    assertError(await coupon(admin, { value_usd: 1 }), 400, 'max_uses_required');
    assertError(await coupon(admin, { value_usd: 11, max_uses: 1 }), 400, 'coupon_value_too_large');
    assert.equal((await coupon(admin, { value_usd: 1, max_uses: 20 })).status, 201);
    assertError(await grant(admin, user.id, 10), 403, 'daily_grant_limit_exceeded');
    assertError(await coupon(admin, { value_usd: 2, max_uses: 3 }), 403, 'daily_grant_limit_exceeded');
    // Assigned to one user, a coupon is bounded by its per-user limit.
    const assigned = await coupon(admin, { value_usd: 2, per_user_limit: 2, assigned_user_id: user.id });
    assert.equal(assigned.status, 201, assigned.text);
    assertError(await coupon(admin, { value_usd: 1, max_uses: 2 }), 403, 'daily_grant_limit_exceeded');
    assert.equal((await grant(admin, user.id, 1)).status, 201, 'exactly up to the cap: 20 + 4 + 1');
  });

  it('raising max_uses counts the extra uses; unbounding a public coupon is refused', async () => {
    const admin = await newAdmin();
    const c = (await coupon(admin, { value_usd: 5, max_uses: 2 })).body;
    assert.equal((await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 4 }, as(admin))).status, 200);
    assertError(await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 6 }, as(admin)), 403, 'daily_grant_limit_exceeded');
    assertError(await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: null }, as(admin)), 400, 'max_uses_required');
    assert.equal((await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 3 }, as(admin))).status, 200, 'lowering is always allowed');
    assert.equal((await api.get(`/api/admin/coupons/${c.id}`, { admin: true })).body.max_uses, 3);
  });

  it('concurrent coupon creations cannot together slip past the daily cap', async () => {
    const admin = await newAdmin();
    const results = await Promise.all(Array.from({ length: 8 }, () => coupon(admin, { value_usd: 1, max_uses: 5 }).then((r) => r.status)));
    assert.equal(results.filter((s) => s === 201).length, 5, `statuses ${results}`);
    assert.ok(results.every((s) => s === 201 || s === 403));
  });
});

describe('negative adjustments', () => {
  it('never go below what in-flight requests hold', async () => {
    const user = await api.register();
    assert.equal((await grant(await newAdmin(), user.id, 1)).status, 201);
    const key = await keyFor(user);
    delayMs = 1500;
    try {
      // Holds 200000 x 2 micro-USD = 0.4 USD while the upstream answers.
      const pending = chat(key, { max_tokens: 200_000 });
      let reserved = 0;
      for (let i = 0; i < 100 && !reserved; i++) {
        await new Promise((r) => setTimeout(r, 10));
        reserved = (await api.get('/api/credits', as(user.access))).body.reserved_usd;
      }
      assert.ok(reserved >= 0.4, `held ${reserved}`);
      assertError(await adjust(undefined, user.id, -0.75), 409, 'balance_would_be_negative');
      assert.equal((await adjust(undefined, user.id, -0.5)).status, 201, 'what is not held can be taken');
      assert.equal((await pending).status, 200);
    } finally {
      delayMs = 0;
    }
    assert.ok((await balancePico(user)) >= 0n);
  });

  it('count charges queued but not yet written', async () => {
    const user = await api.register();
    assert.equal((await grant(await newAdmin(), user.id, 0.001)).status, 201);
    // 10 in + 400 out = 810 micro-USD, queued (the writer flushes once a minute here).
    assert.equal((await chat(await keyFor(user))).status, 200);
    assertError(await adjust(undefined, user.id, -0.0005), 409, 'balance_would_be_negative');
    assert.equal(await balancePico(user), 190_000_000n);
    assert.equal((await adjust(undefined, user.id, -0.00019)).status, 201);
    assert.equal(await balancePico(user), 0n);
  });
});

describe('refunds', () => {
  it('a refund whose audit entry fails is rolled back with it', async () => {
    const user = await api.register();
    assert.equal((await grant(await newAdmin(), user.id, 1)).status, 201);
    assert.equal((await chat(await keyFor(user))).status, 200);
    await server.services.charges.flush();
    const acct = await server.services.ledger.account({ type: 'user', id: user.id });
    const db = server.services.database.db;
    const charge = await db.selectFrom('credit_transactions').selectAll().where('account_id', '=', acct.id).where('kind', '=', 'charge').executeTakeFirstOrThrow();
    const audit = server.services.audit;
    const record = audit.record.bind(audit);
    audit.record = async (e, trx) => {
      if (e.action === 'admin.credit_refund') throw new Error('audit store unavailable');
      return record(e, trx);
    };
    try {
      const res = await api.post('/api/admin/credits/refund', { transaction_id: String(charge.id), reason: 'refund for testing' }, { admin: true });
      assert.equal(res.status, 500);
    } finally {
      audit.record = record;
    }
    const refunds = await db.selectFrom('credit_transactions').selectAll().where('refund_of', '=', String(charge.id) as never).execute();
    assert.equal(refunds.length, 0, 'no refund without its audit entry');
    const ok = await api.post('/api/admin/credits/refund', { transaction_id: String(charge.id), reason: 'refund for testing' }, { admin: true });
    assert.equal(ok.status, 201, ok.text);
    const entries = await db.selectFrom('audit_log').selectAll().where('action', '=', 'admin.credit_refund').where('target_id', '=', String(charge.id)).execute();
    assert.equal(entries.length, 1);
    assert.equal((entries[0].changes as any).refund_id, ok.body.id);
    assert.ok((await server.services.ledger.verify(acct.id)).ok);
  });
});

describe('ledger reads', () => {
  const accounts = async () => Number((await server.services.database.db.selectFrom('credit_accounts').select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);

  it('never create accounts: unknown users and orgs are 404, a user without an account has no entries', async () => {
    const before = await accounts();
    for (const q of ['user_id=usr_nope', 'org_id=org_nope']) {
      assertError(await api.get(`/api/admin/credits/transactions?${q}`, { admin: true }), 404);
      assertError(await api.get(`/api/admin/credits/summary?${q}`, { admin: true }), 404);
    }
    const user = await api.register();
    const start = await accounts();
    const list = await api.get(`/api/admin/credits/transactions?user_id=${user.id}`, { admin: true });
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.total, 0);
    assert.deepEqual(list.body.data, []);
    const summary = await api.get(`/api/admin/credits/summary?user_id=${user.id}`, { admin: true });
    assert.equal(summary.status, 200, summary.text);
    assert.deepEqual(summary.body.by_kind, []);
    assert.equal(await accounts(), start, 'reads wrote nothing');
    assert.ok(start - before <= 1, 'only registration may have opened an account');
  });
});
