/**
 * Fixes from the identity security review, through HTTP: sign-in limits hold under parallel guesses, per-IP
 * sign-up and refresh limits, NUL bytes refused on /api (and harmless on /v1), bulk deletion by domain spares
 * admins and the caller, the cache invalidation of a password reset happens after commit, registration and
 * its trial grant commit together, and the audit-log gaps are closed. The server trusts X-Forwarded-For so
 * each test acts from its own client IP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, fakeIp, newPassword, uniqueEmail, roomyPlans } from '../support/identity.ts';
import { sha256Hex } from '../../src/domain/ids.ts';

const LIMITS = { perIp: 8, perAccount: 5, windowSeconds: 60, registerPerIp: 3, refreshPerIp: 3 };
const TRIAL_USD = 5;

let server: TestServer;
let api: Api;

const from = (ip = fakeIp()) => ({ 'x-forwarded-for': ip });
const register = (opts: Parameters<Api['register']>[0] = {}) => api.register({ headers: from(), ...opts });
const tag = () => randomBytes(4).toString('hex');

before(async () => {
  server = await startTestServer({ trustProxy: true, loginLimits: LIMITS, trial: { creditUsd: TRIAL_USD }, ...roomyPlans() });
  api = new Api(server.url);
});
after(async () => server?.stop());

async function audit(query: string) {
  const res = await api.get(`/api/admin/audit?${query}`, { admin: true });
  assert.equal(res.status, 200, res.text);
  return res.body as { data: any[]; total: number };
}

const statuses = (replies: { status: number }[]) => {
  const out: Record<number, number> = {};
  for (const r of replies) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
};

describe('sign-in limits under parallel guesses', () => {
  it(`25 parallel wrong passwords for one account (limit ${LIMITS.perAccount}): ${LIMITS.perAccount} get 401, the rest 429`, async () => {
    const a = await register();
    const replies = await Promise.all(Array.from({ length: 25 }, () => api.login(a.email, 'wrong-password', from())));
    assert.deepEqual(statuses(replies), { 401: LIMITS.perAccount, 429: 25 - LIMITS.perAccount });
    const locked = replies.find((r) => r.status === 429)!;
    assertError(locked, 429, 'too_many_login_attempts', 'rate_limit_error');
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    // Locked even with the right password; the lock is audited once, not once per refused attempt.
    assertError(await api.login(a.email, a.password, from()), 429, 'too_many_login_attempts');
    const entries = await audit(`action=auth.login_locked&target_id=${encodeURIComponent(a.email)}`);
    assert.equal(entries.total, 1);
    assert.equal(entries.data[0].changes.scope, 'account');
  });

  it(`25 parallel wrong passwords from one IP (limit ${LIMITS.perIp}): ${LIMITS.perIp} get 401, the rest 429`, async () => {
    const ip = fakeIp();
    const replies = await Promise.all(Array.from({ length: 25 }, () => api.login(uniqueEmail('spray'), 'wrong-password', from(ip))));
    assert.deepEqual(statuses(replies), { 401: LIMITS.perIp, 429: 25 - LIMITS.perIp });
  });

  it('successful sign-ins give their point back: many in a row from one IP all pass', async () => {
    const ip = fakeIp();
    const a = await register();
    for (let i = 0; i < LIMITS.perIp * 2; i++) assert.equal((await api.login(a.email, a.password, from(ip))).status, 200, `sign-in ${i}`);
    // A locked account does not use up its caller's IP budget either.
    const b = await register();
    for (let i = 0; i < LIMITS.perAccount; i++) await api.login(b.email, 'wrong-password', from());
    for (let i = 0; i < LIMITS.perIp * 2; i++) assertError(await api.login(b.email, 'wrong-password', from(ip)), 429);
    assert.equal((await api.login(a.email, a.password, from(ip))).status, 200);
  });
});

describe('per-IP limits for sign-up and refresh', () => {
  it(`registration: ${LIMITS.registerPerIp} per IP, then 429 + Retry-After in the error shape; other IPs unaffected`, async () => {
    const ip = fakeIp();
    for (let i = 0; i < LIMITS.registerPerIp; i++) await register({ headers: from(ip) });
    const refused = await api.post('/api/auth/register', { email: uniqueEmail('burst'), password: newPassword() }, { headers: from(ip) });
    assertError(refused, 429, 'too_many_registrations', 'rate_limit_error');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.deepEqual(Object.keys(refused.body.error).sort(), ['code', 'message', 'param', 'type']);
    await register();
  });

  it(`refresh: ${LIMITS.refreshPerIp} per IP (any outcome), then 429; other IPs unaffected`, async () => {
    const ip = fakeIp();
    const a = await register();
    for (let i = 0; i < LIMITS.refreshPerIp; i++) assertError(await api.post('/api/auth/refresh', { refresh_token: `bogus-${i}` }, { headers: from(ip) }), 401);
    const refused = await api.post('/api/auth/refresh', { refresh_token: a.refresh }, { headers: from(ip) });
    assertError(refused, 429, 'too_many_refreshes', 'rate_limit_error');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    assert.equal((await api.post('/api/auth/refresh', { refresh_token: a.refresh }, { headers: from() })).status, 200, 'the token was not spent by the refused call');
  });
});

describe('NUL bytes', () => {
  it('anywhere in an /api body, query string or path -> 400 invalid_string naming the field, never a 500', async () => {
    const a = await register();
    const key = await api.post('/api/keys', { name: 'a\u0000b' }, { token: a.access });
    assertBadRequest(key, 'invalid_string');
    assert.equal(key.body.error.param, 'name');
    const nested = await api.post('/api/keys', { name: 'ok', allowed_models: ['mock/*', 'x\u0000'] }, { token: a.access });
    assertBadRequest(nested, 'invalid_string');
    assert.equal(nested.body.error.param, 'allowed_models.1');
    assertBadRequest(await api.post('/api/keys', { name: 'ok', limits: { 'r\u0000pm': 1 } }, { token: a.access }), 'invalid_string');
    assertBadRequest(await api.post('/api/orgs', { name: 'x\u0000' }, { token: a.access }), 'invalid_string');
    const q = await api.get('/api/admin/users?q=a%00', { admin: true });
    assertBadRequest(q, 'invalid_string');
    assert.equal(q.body.error.param, 'q');
    assertBadRequest(await api.get('/api/admin/users/usr_a%00b', { admin: true }), 'invalid_string');
    assertBadRequest(await api.post('/api/admin/models', { id: 'mock/x\u0000', provider: 'mock', pricing: { input: 1, output: 1 } }, { admin: true }), 'invalid_string');
    assertBadRequest(await api.post('/api/auth/login', { email: 'a@b.test', password: 'p\u0000' }, { headers: from() }), 'invalid_string');
    // Nothing was created.
    assert.equal((await api.get('/api/keys', { token: a.access })).body.data.length, 0);
  });

  it('/v1: a NUL in the model name neither fails the request with a 500 nor drops the request-log batch', async () => {
    const bad = `nul-${tag()}`;
    const good = `ok-${tag()}`;
    const r1 = await api.post('/v1/chat/completions', { model: 'mock/ec\u0000ho', messages: [{ role: 'user', content: 'hi' }] }, { admin: true, headers: { 'x-request-id': bad } });
    assert.ok(r1.status < 500, r1.text);
    const r2 = await api.post('/v1/chat/completions', { model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }, { admin: true, headers: { 'x-request-id': good } });
    assert.equal(r2.status, 200, r2.text);
    await server.services.requestLog.flush();
    const rows = await server.services.database.db.selectFrom('request_logs').select(['request_id', 'requested_model']).where('request_id', 'in', [bad, good]).execute();
    assert.deepEqual(rows.map((r) => r.request_id).sort(), [bad, good].sort(), 'both rows written');
    assert.equal(rows.find((r) => r.request_id === bad)!.requested_model, 'mock/echo');
  });
});

describe('bulk deletion by domain', () => {
  it('skips admins and the calling admin; deletes the rest', async () => {
    const domain = `bulk-${tag()}.test`;
    const callerEmail = `boss@${domain}`;
    const password = newPassword();
    await api.adminCreateUser({ email: callerEmail, password, role: 'admin' });
    const caller = (await api.login(callerEmail, password, from())).body.access_token as string;
    const otherAdmin = await api.adminCreateUser({ email: `ops@${domain}`, role: 'admin' });
    const plain = [await api.adminCreateUser({ email: `a@${domain}` }), await api.adminCreateUser({ email: `b@${domain}` })];

    const preview = await api.del(`/api/admin/users/by-domain/${domain}`, { token: caller });
    assert.equal(preview.status, 200, preview.text);
    assert.deepEqual([preview.body.matched, preview.body.skipped_admins], [2, 2]);
    assert.deepEqual(preview.body.sample.map((s: any) => s.id).sort(), plain.map((p) => p.id).sort());

    const run = await api.del(`/api/admin/users/by-domain/${domain}?dry_run=false`, { token: caller });
    assert.equal(run.status, 200, run.text);
    assert.deepEqual([run.body.matched, run.body.deleted, run.body.skipped_admins], [2, 2, 2]);
    assert.equal((await api.get('/api/auth/me', { token: caller })).status, 200, 'the caller is still signed in');
    assert.equal((await api.get(`/api/admin/users/${otherAdmin.id}`, { admin: true })).body.status, 'active');
    for (const p of plain) assert.equal((await api.get(`/api/admin/users/${p.id}`, { admin: true })).body.status, 'deleted');
  });
});

describe('password reset confirm', () => {
  it('invalidates the user cache only after the transaction committed', async () => {
    const a = await register();
    const token = `reset-${tag()}-${tag()}`;
    const db = server.services.database.db;
    await db.insertInto('password_resets').values({ id: `pwr_${tag()}`, user_id: a.id, token_hash: sha256Hex(token), expires_at: new Date(Date.now() + 600_000) }).execute();

    // Instrument transactions and watch the cache bus: an invalidation of this user while a transaction is
    // still open lets a concurrent reader re-cache the pre-reset row (old sessions stay valid).
    let open = 0;
    const seen: boolean[] = [];
    const original = db.transaction.bind(db);
    (db as any).transaction = () => {
      const builder = original();
      const execute = builder.execute.bind(builder);
      (builder as any).execute = async (fn: any) => {
        open++;
        try {
          return await execute(fn);
        } finally {
          open--;
        }
      };
      return builder;
    };
    server.services.bus.on((msg) => {
      if (msg.type === 'user' && msg.id === a.id) seen.push(open > 0);
    });
    try {
      const res = await api.post('/api/auth/password-reset/confirm', { token, password: newPassword() }, { headers: from() });
      assert.equal(res.status, 200, res.text);
    } finally {
      (db as any).transaction = original;
    }
    assert.ok(seen.length > 0, 'the user was invalidated');
    assert.deepEqual(seen.filter(Boolean), [], 'no invalidation inside the transaction');
    assertError(await api.get('/api/auth/me', { token: a.access }), 401);
  });
});

describe('registration with a trial grant', () => {
  it('is one transaction: a failed grant leaves no account behind, and a retry succeeds with the credit', async () => {
    const ledger = server.services.ledger as any;
    const post = ledger.post;
    ledger.post = async () => {
      throw new Error('ledger down');
    };
    const email = uniqueEmail('trial');
    const password = newPassword();
    let failed;
    try {
      failed = await api.post('/api/auth/register', { email, password }, { headers: from() });
    } finally {
      ledger.post = post;
    }
    assertError(failed, 500);
    assertError(await api.login(email, password, from()), 401, 'invalid_credentials');
    const retry = await api.post('/api/auth/register', { email, password }, { headers: from() });
    assert.equal(retry.status, 201, retry.text);
    const credits = await api.get('/api/credits', { token: retry.body.access_token });
    assert.equal(credits.status, 200, credits.text);
    assert.equal(credits.body.balance_usd, TRIAL_USD);
  });
});

describe('audit log gaps', () => {
  it('admin catalog and ops actions, logout, suspended sign-in and invite withdrawal are audited', async () => {
    const id = `mock/audit-${tag()}`;
    assert.equal((await api.post('/api/admin/models', { id, provider: 'mock', pricing: { input: 1, output: 2 } }, { admin: true })).status, 201);
    assert.equal((await api.del(`/api/admin/models/${id}`, { admin: true })).status, 200);
    assert.equal((await api.post('/api/admin/caches/clear', { names: ['api_keys'] }, { admin: true })).status, 200);
    assert.equal((await api.post('/api/admin/request-logs/prune', undefined, { admin: true })).status, 200);

    const a = await register();
    // Log out a second session: logout ends its access tokens, and `a.access` is still needed below.
    const spare = await api.login(a.email, a.password, from());
    assert.equal((await api.post('/api/auth/logout', { refresh_token: spare.body.refresh_token }, { headers: from() })).status, 204);
    const org = await api.post('/api/orgs', { name: `org-${tag()}` }, { token: a.access });
    assert.equal(org.status, 201, org.text);
    const invite = await api.post(`/api/orgs/${org.body.id}/invites`, { email: uniqueEmail('inv') }, { token: a.access });
    assert.equal(invite.status, 201, invite.text);
    assert.equal((await api.del(`/api/orgs/${org.body.id}/invites/${invite.body.id}`, { token: a.access })).status, 200);
    const s = await register();
    assert.equal((await api.patch(`/api/admin/users/${s.id}`, { status: 'suspended' }, { admin: true })).status, 200);
    assertError(await api.login(s.email, s.password, from()), 403, 'account_suspended');

    assert.equal((await audit(`action=admin.model_create&target_id=${encodeURIComponent(id)}`)).total, 1);
    assert.equal((await audit(`action=admin.model_delete&target_id=${encodeURIComponent(id)}`)).total, 1);
    const cleared = await audit('action=admin.caches_clear');
    assert.ok(cleared.data.some((e) => e.changes?.names?.includes('api_keys') && e.actor_type === 'admin_key'));
    assert.ok((await audit('action=admin.request_logs_prune')).total >= 1);
    const logout = await audit(`action=auth.logout&target_id=${a.id}`);
    assert.equal(logout.total, 1);
    assert.equal(logout.data[0].actor_id, a.id);
    assert.equal(JSON.stringify(logout.data).includes(a.refresh), false, 'no refresh token in the audit log');
    assert.equal((await audit(`action=org.invite_withdraw&target_id=${org.body.id}`)).total, 1);
    assert.equal((await audit(`action=auth.login_suspended&target_id=${s.id}`)).total, 1);
  });
});
