/**
 * Coupons through HTTP: admin creation and validation, listing with filters and paging, updates and
 * deactivation (audited), stats and analytics; user redemption as one transaction, exactly once per user under
 * parallel requests, max_uses holding across users, validity windows, assigned coupons, org targets, and the
 * ledger invariant (balance == sum of entries) after all of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, type Account } from '../support/identity.ts';

let server: TestServer;
let api: Api;

before(async () => {
  // Every coupon counts value x max_uses against the creating admin's 24-hour cap: room for all of this file's.
  server = await startTestServer({ credits: { mode: 'prepaid', dailyGrantLimitUsd: 1_000_000 } });
  // No `services`: new users start with no credit, so balances below are exactly what coupons gave.
  api = new Api(server.url);
});
after(async () => server?.stop());

const rand = (n = 4) => randomBytes(n).toString('hex').toUpperCase();
const uniqueCode = (tag = 'C') => `${tag}${rand()}`;
const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();

async function createCoupon(body: Record<string, unknown> = {}) {
  const res = await api.post('/api/admin/coupons', { code: uniqueCode(), value_usd: 5, type: 'promotional', max_uses: 100, ...body }, { admin: true });
  assert.equal(res.status, 201, res.text);
  return res.body;
}

const redeem = (who: Account, code: string, extra: Record<string, unknown> = {}) => api.post('/api/coupons/redeem', { code, ...extra }, { token: who.access });

async function accountOf(owner: { type: 'user' | 'org'; id: string }) {
  return server.services.ledger.account(owner);
}

async function auditFor(targetId: string, action: string) {
  const res = await api.get(`/api/admin/audit?target_id=${encodeURIComponent(targetId)}&action=${encodeURIComponent(action)}`, { admin: true });
  assert.equal(res.status, 200, res.text);
  return res.body.data as any[];
}

async function couponCount(): Promise<number> {
  const row = await server.services.database.db.selectFrom('coupons').select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('admin: create', () => {
  it('stores the code upper-cased with an exact value, defaults, and an audit entry', async () => {
    const code = `welcome-${rand()}`.toLowerCase();
    const res = await api.post(
      '/api/admin/coupons',
      { code: `  ${code}  `, value_usd: 0.123456, type: 'referral', max_uses: 5, description: 'Spring promo', valid_until: inHours(24) },
      { admin: true },
    );
    assert.equal(res.status, 201, res.text);
    const c = res.body;
    assert.match(c.id, /^cpn_/);
    assert.equal(c.code, code.toUpperCase());
    assert.equal(c.value_usd, 0.123456);
    assert.equal(c.value_pico, '123456000000');
    assert.equal(c.type, 'referral');
    assert.equal(c.max_uses, 5);
    assert.equal(c.per_user_limit, 1);
    assert.equal(c.uses, 0);
    assert.equal(c.remaining_uses, 5);
    assert.equal(c.active, true);
    assert.equal(c.status, 'active');
    assert.equal(c.valid_from, null);
    assert.equal(c.description, 'Spring promo');
    assert.equal(c.created_by, 'bootstrap');
    const got = await api.get(`/api/admin/coupons/${c.id}`, { admin: true });
    assert.deepEqual(got.body, c);
    const audit = await auditFor(c.id, 'admin.coupon_create');
    assert.equal(audit.length, 1);
    assert.equal(audit[0].changes.code, c.code);
  });

  it('duplicate codes are 409 whatever their case, also when created in parallel', async () => {
    const code = uniqueCode('DUP');
    await createCoupon({ code });
    const again = await api.post('/api/admin/coupons', { code: code.toLowerCase(), value_usd: 1, type: 'promotional', max_uses: 10 }, { admin: true });
    assertError(again, 409, 'coupon_code_exists');
    const fresh = uniqueCode('PAR');
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => api.post('/api/admin/coupons', { code: i % 2 ? fresh : fresh.toLowerCase(), value_usd: 1, type: 'promotional', max_uses: 10 }, { admin: true })));
    assert.equal(results.filter((r) => r.status === 201).length, 1, results.map((r) => r.status).join(','));
    for (const r of results.filter((r) => r.status !== 201)) assertError(r, 409, 'coupon_code_exists');
  });

  it('rejects bad input precisely and writes nothing', async () => {
    const before = await couponCount();
    const base = { code: uniqueCode(), value_usd: 5, type: 'promotional' };
    const cases: [Record<string, unknown>, string | RegExp][] = [
      [{ ...base, value_usd: 0 }, 'invalid_request'],
      [{ ...base, value_usd: -1 }, 'invalid_request'],
      [{ ...base, value_usd: 0.1234567 }, 'invalid_amount'],
      [{ ...base, value_usd: 2000 }, 'coupon_value_too_large'],
      [{ ...base, value_usd: '5' }, 'invalid_request'],
      [{ ...base, value_usd: 1e300 }, 'invalid_request'],
      [{ ...base, type: 'gift' }, 'invalid_request'],
      [{ code: base.code, value_usd: 5 }, 'invalid_request'],
      [{ ...base, code: undefined }, 'invalid_request'],
      [{ ...base, code: 'ab' }, 'invalid_request'],
      [{ ...base, code: 'has space' }, 'invalid_request'],
      [{ ...base, code: 'X'.repeat(65) }, 'invalid_request'],
      [{ ...base, code: 42 }, 'invalid_request'],
      [{ ...base, description: 'd'.repeat(501) }, 'invalid_request'],
      [base, 'max_uses_required'],
      [{ ...base, max_uses: null }, 'max_uses_required'],
      [{ ...base, max_uses: 0 }, 'invalid_request'],
      [{ ...base, max_uses: 2.5 }, 'invalid_request'],
      [{ ...base, per_user_limit: 0 }, 'invalid_request'],
      [{ ...base, per_user_limit: '1' }, 'invalid_request'],
      [{ ...base, valid_from: 'yesterday' }, 'invalid_request'],
      [{ ...base, valid_from: inHours(2), valid_until: inHours(1) }, 'invalid_range'],
      [{ ...base, valid_from: inHours(1), valid_until: inHours(1) }, 'invalid_range'],
      [{ ...base, valid_until: inHours(-1) }, 'invalid_range'],
      [{ ...base, assigned_user_id: 'x'.repeat(65) }, 'invalid_request'],
      [{ ...base, surprise: true }, 'invalid_request'],
    ];
    for (const [body, code] of cases) {
      const res = await api.post('/api/admin/coupons', body, { admin: true });
      assertBadRequest(res, code);
    }
    assertBadRequest(await api.call('/api/admin/coupons', { method: 'POST', body: '{"code": "ABC", ', admin: true }), 'invalid_json');
    assertBadRequest(await api.call('/api/admin/coupons', { method: 'POST', body: '[]', admin: true }));
    assertBadRequest(await api.call('/api/admin/coupons', { method: 'POST', body: 'null', admin: true }));
    assertError(await api.post('/api/admin/coupons', { ...base, assigned_user_id: 'usr_nobody' }, { admin: true }), 404, 'user_not_found');
    assert.equal(await couponCount(), before, 'no coupon was written');
  });
});

describe('redeem', () => {
  it('credits the user once, in one ledger entry; the code is case-insensitive; history and credits follow', async () => {
    const user = await api.register();
    const c = await createCoupon({ value_usd: 2.5, type: 'compensation' });
    const res = await redeem(user, `  ${c.code.toLowerCase()} `);
    assert.equal(res.status, 200, res.text);
    assert.match(res.body.id, /^rdm_/);
    assert.equal(res.body.coupon_id, c.id);
    assert.equal(res.body.code, c.code);
    assert.equal(res.body.value_usd, 2.5);
    assert.equal(res.body.balance_usd, 2.5);
    assert.equal(res.body.balance_pico, '2500000000000');
    const acct = await accountOf({ type: 'user', id: user.id });
    assert.equal(res.body.account_id, acct.id);

    const credits = await api.get('/api/credits', { token: user.access });
    assert.equal(credits.body.balance_usd, 2.5);
    const txs = await api.get('/api/credits/transactions', { token: user.access });
    assert.equal(txs.body.total, 1);
    const tx = txs.body.data[0];
    assert.equal(tx.id, res.body.transaction_id);
    assert.equal(tx.kind, 'coupon');
    assert.equal(tx.amount_pico, '2500000000000');
    assert.equal(tx.reference_type, 'coupon');
    assert.equal(tx.reference_id, c.id);
    assert.equal(tx.actor_id, user.id);

    assertError(await redeem(user, c.code), 409, 'coupon_already_redeemed');
    const hist = await api.get('/api/coupons/history', { token: user.access });
    assert.equal(hist.body.total, 1);
    assert.equal(hist.body.total_value_usd, 2.5);
    assert.deepEqual(hist.body.data[0], { id: res.body.id, coupon_id: c.id, code: c.code, type: 'compensation', value_usd: 2.5, value_pico: '2500000000000', account_id: acct.id, transaction_id: tx.id, created_at: res.body.created_at });
    const coupon = await api.get(`/api/admin/coupons/${c.id}`, { admin: true });
    assert.equal(coupon.body.uses, 1);
    assert.ok((await server.services.ledger.verify(acct.id)).ok);
    assert.equal((await auditFor(c.id, 'coupon.redeem')).length, 1);
  });

  it('the credit pays for inference: 402 before, 200 after redeeming', async () => {
    const user = await api.register();
    const key = await api.createKey(user.access);
    assertError(await api.chat(key.key), 402, 'insufficient_credits');
    const c = await createCoupon({ value_usd: 1 });
    assert.equal((await redeem(user, c.code)).status, 200);
    const chat = await api.chat(key.key);
    assert.equal(chat.status, 200, chat.text);
  });

  it('20 parallel redemptions by one user: exactly one 200, the rest 409 coupon_already_redeemed', async () => {
    const user = await api.register();
    const c = await createCoupon({ value_usd: 3 });
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(user, c.code)));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => r.status).join(','));
    for (const r of results.filter((r) => r.status !== 200)) assertError(r, 409, 'coupon_already_redeemed');
    const acct = await accountOf({ type: 'user', id: user.id });
    const check = await server.services.ledger.verify(acct.id);
    assert.ok(check.ok, `balance ${check.balance} != sum ${check.sum}`);
    assert.equal(check.balance, 3_000_000_000_000n);
    const coupon = await api.get(`/api/admin/coupons/${c.id}`, { admin: true });
    assert.equal(coupon.body.uses, 1);
    const rows = await server.services.database.db.selectFrom('coupon_redemptions').select('id').where('coupon_id', '=', c.id).execute();
    assert.equal(rows.length, 1);
  });

  it('30 users in parallel on a max_uses 10 coupon: exactly 10 succeed, the rest 409 coupon_exhausted', async () => {
    const users = await Promise.all(Array.from({ length: 30 }, () => api.register()));
    const c = await createCoupon({ value_usd: 0.5, max_uses: 10, type: 'partnership' });
    const results = await Promise.all(users.map((u) => redeem(u, c.code)));
    const winners = users.filter((_, i) => results[i].status === 200);
    assert.equal(winners.length, 10, results.map((r) => r.status).join(','));
    for (const r of results.filter((r) => r.status !== 200)) assertError(r, 409, 'coupon_exhausted');
    const coupon = await api.get(`/api/admin/coupons/${c.id}`, { admin: true });
    assert.equal(coupon.body.uses, 10);
    assert.equal(coupon.body.remaining_uses, 0);
    assert.equal(coupon.body.status, 'exhausted');
    for (const [i, u] of users.entries()) {
      const acct = await accountOf({ type: 'user', id: u.id });
      const check = await server.services.ledger.verify(acct.id);
      assert.ok(check.ok, `invariant for ${u.id}`);
      assert.equal(check.balance, results[i].status === 200 ? 500_000_000_000n : 0n);
    }
    const analytics = await api.get(`/api/admin/coupons/${c.id}/analytics`, { admin: true });
    assert.equal(analytics.status, 200, analytics.text);
    assert.equal(analytics.body.redemptions, 10);
    assert.equal(analytics.body.unique_users, 10);
    assert.equal(analytics.body.accounts_credited, 10);
    assert.equal(analytics.body.value_redeemed_usd, 5);
    assert.equal(analytics.body.value_redeemed_pico, '5000000000000');
    assert.equal(analytics.body.remaining_uses, 0);
    assert.equal(analytics.body.by_day.length, 1);
    assert.deepEqual(analytics.body.by_day[0], { date: new Date().toISOString().slice(0, 10), redemptions: 10, unique_users: 10, value_usd: 5 });
    // A loser sees nothing to redeem; a winner sees it in their history.
    const avail = await api.get('/api/coupons/available?limit=200', { token: users[results.findIndex((r) => r.status !== 200)].access });
    assert.ok(!avail.body.data.some((x: any) => x.id === c.id));
  });

  it('per_user_limit 3: ten parallel redemptions by one user give exactly three credits', async () => {
    const user = await api.register();
    const c = await createCoupon({ value_usd: 1, per_user_limit: 3 });
    const results = await Promise.all(Array.from({ length: 10 }, () => redeem(user, c.code)));
    assert.equal(results.filter((r) => r.status === 200).length, 3, results.map((r) => r.status).join(','));
    for (const r of results.filter((r) => r.status !== 200)) assertError(r, 409, 'coupon_already_redeemed');
    const acct = await accountOf({ type: 'user', id: user.id });
    const check = await server.services.ledger.verify(acct.id);
    assert.ok(check.ok);
    assert.equal(check.balance, 3_000_000_000_000n);
    const hist = await api.get('/api/coupons/history?limit=2', { token: user.access });
    assert.equal(hist.body.total, 3);
    assert.equal(hist.body.data.length, 2);
    const rest = await api.get(`/api/coupons/history?limit=2&cursor=${hist.body.next_cursor}`, { token: user.access });
    assert.equal(rest.body.data.length, 1);
    assert.equal(rest.body.next_cursor, null);
    assert.equal(new Set([...hist.body.data, ...rest.body.data].map((r: any) => r.id)).size, 3);
  });

  it('validity windows and deactivation: precise 400s, nothing written', async () => {
    const user = await api.register();
    const scheduled = await createCoupon({ valid_from: inHours(1), valid_until: inHours(2) });
    assert.equal(scheduled.status, 'scheduled');
    assertError(await redeem(user, scheduled.code), 400, 'coupon_not_yet_valid', 'invalid_request_error');

    const ending = await createCoupon({ valid_from: inHours(-2), valid_until: inHours(1) });
    const ended = await api.patch(`/api/admin/coupons/${ending.id}`, { valid_until: inHours(-1) }, { admin: true });
    assert.equal(ended.status, 200, ended.text);
    assert.equal(ended.body.status, 'expired');
    assertError(await redeem(user, ending.code), 400, 'coupon_expired');

    const stopped = await createCoupon();
    const del = await api.del(`/api/admin/coupons/${stopped.id}`, { admin: true });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.body.active, false);
    assert.equal(del.body.status, 'inactive');
    assert.equal((await api.del(`/api/admin/coupons/${stopped.id}`, { admin: true })).status, 200, 'idempotent');
    assert.equal((await auditFor(stopped.id, 'admin.coupon_deactivate')).length, 1);
    assertError(await redeem(user, stopped.code), 400, 'coupon_inactive');

    const acct = await accountOf({ type: 'user', id: user.id });
    assert.equal((await server.services.ledger.verify(acct.id)).balance, 0n);
    assert.equal((await api.get('/api/coupons/history', { token: user.access })).body.total, 0);

    // Reactivated, it works again.
    const back = await api.patch(`/api/admin/coupons/${stopped.id}`, { active: true }, { admin: true });
    assert.equal(back.body.status, 'active');
    assert.equal((await redeem(user, stopped.code)).status, 200);
  });

  it('assigned coupons: invisible and unredeemable (404) for others, available to their user', async () => {
    const [owner, other] = await Promise.all([api.register(), api.register()]);
    const c = await createCoupon({ assigned_user_id: owner.id, type: 'compensation', description: 'Sorry for the outage' });
    const unknown = await redeem(other, 'NO-SUCH-CODE');
    assertError(unknown, 404, 'coupon_not_found');
    const hidden = await redeem(other, c.code);
    assertError(hidden, 404, 'coupon_not_found');
    assert.equal(hidden.body.error.message, unknown.body.error.message, 'same answer as an unknown code');
    const theirs = await api.get('/api/coupons/available?limit=200', { token: other.access });
    assert.ok(!theirs.body.data.some((x: any) => x.id === c.id));
    const mine = await api.get('/api/coupons/available?limit=200', { token: owner.access });
    const entry = mine.body.data.find((x: any) => x.id === c.id);
    assert.ok(entry, 'listed for its user');
    assert.equal(entry.assigned_to_you, true);
    assert.equal(entry.your_remaining, 1);
    assert.equal(entry.description, 'Sorry for the outage');
    assert.equal((await redeem(owner, c.code)).status, 200);
    const after = await api.get('/api/coupons/available?limit=200', { token: owner.access });
    assert.ok(!after.body.data.some((x: any) => x.id === c.id), 'gone once used up by them');
  });

  it('available: public live coupons with uses left, not scheduled, expired, inactive or exhausted; paged with totals', async () => {
    const user = await api.register();
    const live = await createCoupon();
    const multi = await createCoupon({ per_user_limit: 2 });
    const scheduled = await createCoupon({ valid_from: inHours(1) });
    const inactive = await createCoupon();
    await api.del(`/api/admin/coupons/${inactive.id}`, { admin: true });
    const full = await createCoupon({ max_uses: 1 });
    assert.equal((await redeem(await api.register(), full.code)).status, 200);
    assert.equal((await redeem(user, multi.code)).status, 200);

    const all: any[] = [];
    let cursor: string | null = null;
    let total = -1;
    do {
      const res: any = await api.get(`/api/coupons/available?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { token: user.access });
      assert.equal(res.status, 200, res.text);
      total = res.body.total;
      all.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.equal(all.length, total);
    assert.equal(new Set(all.map((x) => x.id)).size, all.length);
    const ids = new Set(all.map((x) => x.id));
    assert.ok(ids.has(live.id));
    assert.ok(ids.has(multi.id));
    assert.equal(all.find((x) => x.id === multi.id).your_redemptions, 1);
    assert.equal(all.find((x) => x.id === multi.id).your_remaining, 1);
    for (const gone of [scheduled, inactive, full]) assert.ok(!ids.has(gone.id), gone.code);
    assert.ok(all.every((x) => !x.assigned_to_you));
  });

  it('credits an org the user manages (org_id); members and outsiders are refused', async () => {
    const [owner, member, outsider] = await Promise.all([api.register(), api.register(), api.register()]);
    const org = await api.post('/api/orgs', { name: 'Coupon Co' }, { token: owner.access });
    assert.equal(org.status, 201, org.text);
    const inv = await api.post(`/api/orgs/${org.body.id}/invites`, { email: member.email, role: 'member' }, { token: owner.access });
    assert.equal((await api.post(`/api/orgs/invites/${inv.body.id}/accept`, {}, { token: member.access })).status, 200);
    const c = await createCoupon({ value_usd: 7, max_uses: 10 });
    assertError(await redeem(member, c.code, { org_id: org.body.id }), 403, 'org_role_required');
    assertError(await redeem(outsider, c.code, { org_id: org.body.id }), 404);
    const res = await redeem(owner, c.code, { org_id: org.body.id });
    assert.equal(res.status, 200, res.text);
    const orgAcct = await accountOf({ type: 'org', id: org.body.id });
    assert.equal(res.body.account_id, orgAcct.id);
    assert.equal((await server.services.ledger.verify(orgAcct.id)).balance, 7_000_000_000_000n);
    // The per-user limit counts the redeemer, whatever account was credited.
    assertError(await redeem(owner, c.code), 409, 'coupon_already_redeemed');
    assert.equal((await api.get(`/api/admin/coupons/${c.id}`, { admin: true })).body.uses, 1);
  });

  it('bad input: unknown, malformed, wrong types, over-long, unknown fields', async () => {
    const user = await api.register();
    assertError(await redeem(user, 'UNKNOWN-CODE-XYZ'), 404, 'coupon_not_found');
    assertError(await redeem(user, 'not a code!'), 404, 'coupon_not_found');
    assertBadRequest(await redeem(user, ''));
    assertBadRequest(await redeem(user, 'X'.repeat(65)));
    assertBadRequest(await api.post('/api/coupons/redeem', { code: 123 }, { token: user.access }));
    assertBadRequest(await api.post('/api/coupons/redeem', {}, { token: user.access }));
    assertBadRequest(await api.post('/api/coupons/redeem', { code: 'ABC', extra: 1 }, { token: user.access }));
    assertBadRequest(await api.post('/api/coupons/redeem', { code: 'ABC', org_id: 'o'.repeat(65) }, { token: user.access }));
    assertBadRequest(await api.call('/api/coupons/redeem', { method: 'POST', body: '{"code":', token: user.access }), 'invalid_json');
    assertBadRequest(await api.call('/api/coupons/redeem', { method: 'POST', body: '"ABC"', token: user.access }));
    for (const path of ['/api/coupons/available', '/api/coupons/history']) {
      assertBadRequest(await api.get(`${path}?limit=0`, { token: user.access }));
      assertBadRequest(await api.get(`${path}?limit=abc`, { token: user.access }));
      assertBadRequest(await api.get(`${path}?limit=201`, { token: user.access }));
      assertBadRequest(await api.get(`${path}?cursor=garbage`, { token: user.access }), 'invalid_cursor');
      assertBadRequest(await api.get(`${path}?cursor=${'c'.repeat(301)}`, { token: user.access }));
      const weird = Buffer.from(JSON.stringify(['0000-01-01T00:00:00Z', 'x'])).toString('base64url');
      assertBadRequest(await api.get(`${path}?cursor=${weird}`, { token: user.access }), 'invalid_cursor');
      const lenient = Buffer.from(JSON.stringify(['1 2 3', 'x'])).toString('base64url');
      assertBadRequest(await api.get(`${path}?cursor=${lenient}`, { token: user.access }), 'invalid_cursor');
    }
    assert.equal((await api.get('/api/coupons/history', { token: user.access })).body.total, 0);
  });
});

describe('admin: list, update, stats', () => {
  it('lists with filters (active, status, type, q) and cursor paging with true totals', async () => {
    const tag = `LST${rand()}`;
    const made = [];
    for (let i = 0; i < 7; i++) made.push(await createCoupon({ code: `${tag}_${i}`, type: i < 4 ? 'promotional' : 'referral', description: i === 6 ? `special ${tag}` : null }));
    await api.del(`/api/admin/coupons/${made[0].id}`, { admin: true });

    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.get(`/api/admin/coupons?q=${tag.toLowerCase()}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { admin: true });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.total, 7);
      seen.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen.map((c) => c.id), made.map((c) => c.id).reverse(), 'newest first, each once');

    const q = (s: string) => api.get(`/api/admin/coupons?q=${tag}&${s}`, { admin: true });
    assert.equal((await q('type=referral')).body.total, 3);
    assert.equal((await q('active=false')).body.total, 1);
    assert.equal((await q('active=true')).body.total, 6);
    assert.equal((await q('status=inactive')).body.data[0].id, made[0].id);
    assert.equal((await q('status=active&type=promotional')).body.total, 3);
    assert.equal((await api.get(`/api/admin/coupons?q=special%20${tag}`, { admin: true })).body.total, 1);
    assert.equal((await api.get(`/api/admin/coupons?q=${made[3].id}`, { admin: true })).body.data[0].id, made[3].id);
    assert.equal((await api.get(`/api/admin/coupons?q=${tag}%25`, { admin: true })).body.total, 0, 'LIKE wildcards are literal');

    for (const bad of ['limit=0', 'limit=x', 'active=maybe', 'type=gift', 'status=nope', 'cursor=%%%', `q=${'q'.repeat(201)}`, 'q=', `assigned_user_id=${'u'.repeat(65)}`]) {
      assertBadRequest(await api.get(`/api/admin/coupons?${bad}`, { admin: true }));
    }
  });

  it('updates description, max_uses, valid_until and active with guard rails; each change audited', async () => {
    const user = await api.register();
    const c = await createCoupon({ max_uses: 5, valid_from: inHours(-1), valid_until: inHours(5) });
    assert.equal((await redeem(user, c.code)).status, 200);
    assert.equal((await redeem(await api.register(), c.code)).status, 200);

    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 1 }, { admin: true }), 'max_uses_below_uses');
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { valid_until: inHours(-2) }, { admin: true }), 'invalid_range');
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, {}, { admin: true }));
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { code: 'NEWCODE' }, { admin: true }));
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { value_usd: 100 }, { admin: true }));
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { active: 'no' }, { admin: true }));
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: -3 }, { admin: true }));
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { description: 'd'.repeat(501) }, { admin: true }));
    assertBadRequest(await api.call(`/api/admin/coupons/${c.id}`, { method: 'PATCH', body: '{', admin: true }), 'invalid_json');
    assertError(await api.patch('/api/admin/coupons/cpn_missing', { active: false }, { admin: true }), 404, 'coupon_not_found');
    assertBadRequest(await api.patch(`/api/admin/coupons/${'i'.repeat(65)}`, { active: false }, { admin: true }));

    const res = await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 2, description: 'Now capped', valid_until: null }, { admin: true });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.max_uses, 2);
    assert.equal(res.body.remaining_uses, 0);
    assert.equal(res.body.status, 'exhausted');
    assert.equal(res.body.description, 'Now capped');
    assert.equal(res.body.valid_until, null);
    assertError(await redeem(await api.register(), c.code), 409, 'coupon_exhausted');
    // A public coupon's uses stay bounded: its value x max_uses counts against the admin's daily grant cap.
    assertBadRequest(await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: null }, { admin: true }), 'max_uses_required');
    const raised = await api.patch(`/api/admin/coupons/${c.id}`, { max_uses: 4 }, { admin: true });
    assert.equal(raised.status, 200, raised.text);

    const audit = await auditFor(c.id, 'admin.coupon_update');
    assert.equal(audit.length, 2);
    const first = audit.find((a) => a.changes.description);
    assert.deepEqual(first.changes.max_uses, { from: 5, to: 2 });
    assert.deepEqual(first.changes.description, { from: null, to: 'Now capped' });
    // The raise records what it committed against the daily grant cap: 2 more uses of 5 USD.
    const raise = audit.find((a) => !a.changes.description);
    assert.deepEqual(raise.changes.max_uses, { from: 2, to: 4 });
    assert.equal(raise.changes.grant_cap_pico, '10000000000000');
  });

  it('get, delete and analytics: 404 for unknown ids, 400 for malformed ones', async () => {
    for (const path of ['/api/admin/coupons/cpn_missing', '/api/admin/coupons/cpn_missing/analytics']) assertError(await api.get(path, { admin: true }), 404, 'coupon_not_found');
    assertError(await api.del('/api/admin/coupons/cpn_missing', { admin: true }), 404, 'coupon_not_found');
    assertBadRequest(await api.get(`/api/admin/coupons/${'i'.repeat(65)}`, { admin: true }));
    const fresh = await createCoupon();
    const a = await api.get(`/api/admin/coupons/${fresh.id}/analytics`, { admin: true });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual({ ...a.body, status: undefined }, {
      coupon_id: fresh.id,
      code: fresh.code,
      status: undefined,
      uses: 0,
      max_uses: 100,
      remaining_uses: 100,
      redemptions: 0,
      unique_users: 0,
      accounts_credited: 0,
      value_redeemed_usd: 0,
      value_redeemed_pico: '0',
      first_redeemed_at: null,
      last_redeemed_at: null,
      by_day: [],
    });
  });

  it('stats: counts by type and status and the value redeemed agree with the tables', async () => {
    const before = await api.get('/api/admin/coupons/stats', { admin: true });
    assert.equal(before.status, 200, before.text);
    const c = await createCoupon({ type: 'partnership', value_usd: 1.25 });
    assert.equal((await redeem(await api.register(), c.code)).status, 200);
    const s = (await api.get('/api/admin/coupons/stats', { admin: true })).body;
    assert.equal(s.total, before.body.total + 1);
    assert.equal(s.by_type.partnership, before.body.by_type.partnership + 1);
    assert.equal(s.redemptions, before.body.redemptions + 1);
    assert.equal(s.value_redeemed_pico, (BigInt(before.body.value_redeemed_pico) + 1_250_000_000_000n).toString());
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
    assert.equal(sum(s.by_type), s.total);
    assert.equal(sum(s.by_status), s.total);
    assert.equal(s.by_type_status.reduce((a: number, r: any) => a + r.count, 0), s.total);
    const db = server.services.database.db;
    const truth = await db.selectFrom('coupon_redemptions').select([sql<string>`count(*)`.as('n'), sql<string>`coalesce(sum(value), 0)`.as('v')]).executeTakeFirstOrThrow();
    assert.equal(s.redemptions, Number(truth.n));
    assert.equal(s.value_redeemed_pico, truth.v);
    assert.equal(s.total, await couponCount());
    const uses = await db.selectFrom('coupons').select(sql<string>`coalesce(sum(uses), 0)`.as('u')).executeTakeFirstOrThrow();
    assert.equal(Number(uses.u), s.redemptions, 'use counters match the redemption rows');
    const partnership = s.redeemed_by_type.find((r: any) => r.type === 'partnership');
    assert.ok(partnership.value_redeemed_usd >= 1.25);
  });
});

describe('auth', () => {
  const adminRoutes: [string, string, unknown?][] = [
    ['POST', '/api/admin/coupons', { code: 'AUTHTEST', value_usd: 1, type: 'promotional' }],
    ['GET', '/api/admin/coupons'],
    ['GET', '/api/admin/coupons/stats'],
    ['GET', '/api/admin/coupons/cpn_x'],
    ['GET', '/api/admin/coupons/cpn_x/analytics'],
    ['PATCH', '/api/admin/coupons/cpn_x', { active: false }],
    ['DELETE', '/api/admin/coupons/cpn_x'],
  ];
  const userRoutes: [string, string, unknown?][] = [
    ['POST', '/api/coupons/redeem', { code: 'ANYCODE' }],
    ['GET', '/api/coupons/available'],
    ['GET', '/api/coupons/history'],
  ];

  it('anonymous callers get 401 everywhere; bad tokens too', async () => {
    for (const [method, path, json] of [...adminRoutes, ...userRoutes]) {
      assertError(await api.call(path, { method, json }), 401, undefined, 'authentication_error');
      assertError(await api.call(path, { method, json, token: 'not-a-real-token' }), 401);
    }
  });

  it('non-admin users get 403 on admin routes; the operator key has no user to redeem for', async () => {
    const user = await api.register();
    const before = await couponCount();
    for (const [method, path, json] of adminRoutes) assertError(await api.call(path, { method, json, token: user.access }), 403, 'admin_required');
    assert.equal(await couponCount(), before);
    for (const [method, path, json] of userRoutes) assertError(await api.call(path, { method, json, admin: true }), 403, 'user_required');
  });

  it('an admin user may manage coupons; it is recorded as the creator', async () => {
    const admin = await api.register();
    await server.services.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.id).execute();
    server.services.users.invalidate([admin.id]);
    const login = await api.login(admin.email, admin.password);
    const res = await api.post('/api/admin/coupons', { code: uniqueCode(), value_usd: 1, type: 'referral', max_uses: 3 }, { token: login.body.access_token });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.created_by, admin.id);
  });
});

describe('ledger invariant', () => {
  it('holds for every account after all of the above', async () => {
    const accounts = await server.services.database.db.selectFrom('credit_accounts').select('id').execute();
    assert.ok(accounts.length > 30);
    for (const a of accounts) {
      const check = await server.services.ledger.verify(a.id);
      assert.ok(check.ok, `account ${a.id}: balance ${check.balance} != sum ${check.sum}`);
    }
  });
});
