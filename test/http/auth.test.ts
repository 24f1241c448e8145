/**
 * Accounts through HTTP: register, login (and its lock-out), refresh rotation with reuse detection, logout,
 * /me read live, password change and the password-reset flow over a real SMTP server, and bad input on
 * every /api/auth route. The server trusts X-Forwarded-For so each test can act from its own client IP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, fakeIp, newPassword, uniqueEmail, type Account, roomyPlans } from '../support/identity.ts';
import { resetTokenFrom, startSmtpCapture, type SmtpCapture } from '../support/smtp.ts';

const JWT_SECRET = 'auth-test-jwt-secret-0123456789abcdef-xyz';
const LIMITS = { perIp: 6, perAccount: 3, windowSeconds: 60 };

let server: TestServer;
let api: Api;
let smtp: SmtpCapture;

const from = (ip = fakeIp()) => ({ 'x-forwarded-for': ip });

before(async () => {
  smtp = await startSmtpCapture();
  server = await startTestServer({ trustProxy: true, loginLimits: LIMITS, smtpUrl: smtp.url, jwtSecret: JWT_SECRET, ...roomyPlans() });
  api = new Api(server.url, server.services);
});
after(async () => {
  await server?.stop();
  await smtp?.stop();
});

const register = (opts: Parameters<Api['register']>[0] = {}) => api.register({ headers: from(), ...opts });

async function auditEntries(query: string) {
  const res = await api.get(`/api/admin/audit?${query}`, { admin: true });
  assert.equal(res.status, 200, res.text);
  return res.body as { data: any[]; total: number };
}

describe('register', () => {
  it('returns 201 with the user, an access token, a refresh token and expires_in', async () => {
    const email = uniqueEmail('reg');
    const res = await api.post('/api/auth/register', { email, password: newPassword(), name: 'Ada Lovelace' }, { headers: from() });
    assert.equal(res.status, 201, res.text);
    const b = res.body;
    assert.deepEqual(Object.keys(b).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type', 'user']);
    assert.equal(b.token_type, 'Bearer');
    assert.equal(b.expires_in, 900);
    assert.match(b.access_token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(typeof b.refresh_token, 'string');
    assert.ok(b.refresh_token.length >= 40);
    assert.notEqual(b.refresh_token, b.access_token);
    assert.match(b.user.id, /^usr_/);
    assert.equal(b.user.email, email);
    assert.equal(b.user.name, 'Ada Lovelace');
    assert.equal(b.user.role, 'user');
    assert.equal(b.user.tier, 'free');
    assert.equal(b.user.status, 'active');
    assert.equal(b.user.trial_expires_at, null);
    for (const k of ['password', 'password_hash', 'passwordHash', 'hasPassword']) assert.equal(k in b.user, false, k);
    const me = await api.get('/api/auth/me', { token: b.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.id, b.user.id);
  });

  it('lowercases (and trims) the email', async () => {
    const local = `Mixed.Case-${Date.now()}`;
    const res = await api.post('/api/auth/register', { email: `  ${local}@Example.TEST `, password: newPassword() }, { headers: from() });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.user.email, `${local.toLowerCase()}@example.test`);
  });

  it('refuses a duplicate email case-insensitively with 409', async () => {
    const a = await register();
    const res = await api.post('/api/auth/register', { email: a.email.toUpperCase(), password: newPassword() }, { headers: from() });
    assertError(res, 409, 'email_taken', 'conflict_error');
    const again = await api.post('/api/auth/register', { email: a.email, password: newPassword() }, { headers: from() });
    assertError(again, 409, 'email_taken');
  });
});

describe('login', () => {
  it('returns 200 with the same shape, for any case of the email', async () => {
    const a = await register();
    const res = await api.login(a.email.toUpperCase(), a.password, from());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.user.id, a.id);
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 900);
    assert.match(res.body.access_token, /^eyJ/);
    assert.notEqual(res.body.refresh_token, a.refresh, 'a new session');
    assert.equal((await api.get('/api/auth/me', { token: res.body.access_token })).status, 200);
  });

  it('answers a wrong password and an unknown email identically (401)', async () => {
    const a = await register();
    const wrong = await api.login(a.email, 'not-the-password', from());
    const unknown = await api.login(uniqueEmail('nobody'), 'not-the-password', from());
    assertError(wrong, 401, 'invalid_credentials', 'authentication_error');
    assertError(unknown, 401, 'invalid_credentials', 'authentication_error');
    assert.deepEqual(wrong.body, unknown.body);
    assert.doesNotMatch(wrong.body.error.message, /exist|unknown|not found|registered/i);
  });

  it('a user without a password (admin-provisioned) cannot sign in', async () => {
    const email = uniqueEmail('nopw');
    await api.adminCreateUser({ email });
    const res = await api.login(email, 'anything-at-all', from());
    assertError(res, 401, 'invalid_credentials');
  });

  it(`locks an account out after ${LIMITS.perAccount} failures (429 + Retry-After), even with the right password and from new IPs`, async () => {
    const a = await register();
    for (let i = 0; i < LIMITS.perAccount; i++) assertError(await api.login(a.email, 'wrong-password', from()), 401, 'invalid_credentials');
    const locked = await api.login(a.email, a.password, from());
    assertError(locked, 429, 'too_many_login_attempts', 'rate_limit_error');
    const retry = Number(locked.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= LIMITS.windowSeconds, `Retry-After ${locked.headers.get('retry-after')}`);
    // The lock is per account: the same email in another case is the same account.
    assertError(await api.login(a.email.toUpperCase(), a.password, from()), 429, 'too_many_login_attempts');
    // Other accounts are unaffected.
    const b = await register();
    assert.equal((await api.login(b.email, b.password, from())).status, 200);
  });

  it('a successful sign-in resets the account counter', async () => {
    const a = await register();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < LIMITS.perAccount - 1; i++) assertError(await api.login(a.email, 'wrong-password', from()), 401);
      assert.equal((await api.login(a.email, a.password, from())).status, 200, `round ${round}`);
    }
  });

  it(`locks an IP out after ${LIMITS.perIp} failures across accounts (429 + Retry-After); other IPs still sign in`, async () => {
    const ip = fakeIp();
    const victim = await register();
    for (let i = 0; i < LIMITS.perIp; i++) assertError(await api.login(uniqueEmail('spray'), 'wrong-password', from(ip)), 401, 'invalid_credentials');
    const locked = await api.login(victim.email, victim.password, from(ip));
    assertError(locked, 429, 'too_many_login_attempts');
    assert.ok(Number(locked.headers.get('retry-after')) >= 1);
    assert.equal((await api.login(victim.email, victim.password, from())).status, 200, 'another IP is not locked');
  });

  it('records failed and successful sign-ins in the audit log', async () => {
    const a = await register();
    await api.login(a.email, 'wrong-password', from());
    await api.login(a.email, a.password, from());
    const failed = await auditEntries(`action=auth.login_failed&target_id=${a.id}`);
    assert.equal(failed.total, 1);
    assert.equal(failed.data[0].actor_type, 'anonymous');
    const ok = await auditEntries(`action=auth.login&target_id=${a.id}`);
    assert.equal(ok.total, 1);
    assert.equal(ok.data[0].actor_id, a.id);
    assert.ok(ok.data[0].request_id);
    assert.ok(ok.data[0].ip);
  });
});

describe('refresh', () => {
  it('rotates: a new pair, the old refresh token is single use', async () => {
    const a = await register();
    const r1 = await api.post('/api/auth/refresh', { refresh_token: a.refresh });
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.body.user.id, a.id);
    assert.notEqual(r1.body.refresh_token, a.refresh);
    assert.equal(r1.body.token_type, 'Bearer');
    assert.equal((await api.get('/api/auth/me', { token: r1.body.access_token })).status, 200);
    const r2 = await api.post('/api/auth/refresh', { refresh_token: r1.body.refresh_token });
    assert.equal(r2.status, 200);
    assert.notEqual(r2.body.refresh_token, r1.body.refresh_token);
  });

  it('reuse of a rotated token -> 401 and the whole family (newest token included) is revoked; other sessions live on', async () => {
    const a = await register();
    const other = await api.login(a.email, a.password, from());
    const r1 = await api.post('/api/auth/refresh', { refresh_token: a.refresh });
    const r2 = await api.post('/api/auth/refresh', { refresh_token: r1.body.refresh_token });
    assert.equal(r2.status, 200);
    // The thief replays the first token.
    const replay = await api.post('/api/auth/refresh', { refresh_token: a.refresh });
    assertError(replay, 401, 'refresh_token_reused', 'authentication_error');
    // The legitimate holder's newest token is dead too.
    assertError(await api.post('/api/auth/refresh', { refresh_token: r2.body.refresh_token }), 401, /refresh_token_(revoked|reused)/);
    assertError(await api.post('/api/auth/refresh', { refresh_token: r1.body.refresh_token }), 401, /refresh_token_(revoked|reused)/);
    // So is every access token of the family, the newest included.
    assertError(await api.get('/api/auth/me', { token: r2.body.access_token }), 401, 'session_revoked');
    // A separate sign-in (another family) is untouched.
    const o = await api.post('/api/auth/refresh', { refresh_token: other.body.refresh_token });
    assert.equal(o.status, 200, o.text);
    const audit = await auditEntries(`action=auth.refresh_token_reuse&target_id=${a.id}`);
    assert.ok(audit.total >= 1);
  });

  it('two concurrent refreshes with one token: exactly one wins', async () => {
    const a = await register();
    const results = await Promise.all([1, 2, 3].map(() => api.post('/api/auth/refresh', { refresh_token: a.refresh })));
    assert.equal(results.filter((r) => r.status === 200).length, 1, results.map((r) => r.status).join(','));
    for (const r of results.filter((r) => r.status !== 200)) assertError(r, 401);
  });

  it('an unknown refresh token -> 401', async () => {
    assertError(await api.post('/api/auth/refresh', { refresh_token: 'x'.repeat(43) }), 401, 'invalid_refresh_token');
  });

  it('an access token is not a refresh token, and a refresh token is not an access token', async () => {
    const a = await register();
    assertError(await api.post('/api/auth/refresh', { refresh_token: a.access.slice(0, 200) }), 401);
    assertError(await api.get('/api/auth/me', { token: a.refresh }), 401);
  });
});

describe('logout', () => {
  it('ends the session chain; idempotent; other sessions continue', async () => {
    const a = await register();
    const other = await api.login(a.email, a.password, from());
    const r1 = await api.post('/api/auth/refresh', { refresh_token: a.refresh });
    assert.equal((await api.get('/api/auth/me', { token: r1.body.access_token })).status, 200);
    const out = await api.post('/api/auth/logout', { refresh_token: r1.body.refresh_token });
    assert.equal(out.status, 204);
    assert.equal(out.text, '');
    // The session's access tokens end with it, not at their expiry; another session's do not.
    assertError(await api.get('/api/auth/me', { token: r1.body.access_token }), 401, 'session_revoked');
    assertError(await api.get('/api/auth/me', { token: a.access }), 401, 'session_revoked');
    assert.equal((await api.get('/api/auth/me', { token: other.body.access_token })).status, 200, 'other session');
    assertError(await api.post('/api/auth/refresh', { refresh_token: r1.body.refresh_token }), 401);
    assert.equal((await api.post('/api/auth/logout', { refresh_token: r1.body.refresh_token })).status, 204, 'again');
    assert.equal((await api.post('/api/auth/logout', { refresh_token: 'never-issued-token' })).status, 204, 'unknown');
    assert.equal((await api.post('/api/auth/refresh', { refresh_token: other.body.refresh_token })).status, 200, 'other session');
  });
});

describe('/me', () => {
  it('401 without credentials, with garbage, forged, expired, alg=none or unknown-user tokens', async () => {
    assertError(await api.get('/api/auth/me'), 401, 'missing_api_key', 'authentication_error');
    assertError(await api.get('/api/auth/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }), 401);
    assertError(await api.get('/api/auth/me', { token: 'not-a-token' }), 401);
    const a = await register();
    const key = new TextEncoder().encode(JWT_SECRET);
    const sign = (secret: Uint8Array, sub: string, exp: string | number = '5m') =>
      new SignJWT({ fam: 'fam_x' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject(sub).setIssuer('switchyard').setAudience('switchyard-api').setIssuedAt().setExpirationTime(exp).sign(secret);
    // Sanity: a token we sign with the server's secret works, so the failures below are about what we change.
    assert.equal((await api.get('/api/auth/me', { token: await sign(key, a.id) })).status, 200);
    assertError(await api.get('/api/auth/me', { token: await sign(new TextEncoder().encode('another-secret-0123456789abcdef0123456789'), a.id) }), 401, 'invalid_token');
    assertError(await api.get('/api/auth/me', { token: await sign(key, a.id, Math.floor(Date.now() / 1000) - 60) }), 401, 'token_expired');
    assertError(await api.get('/api/auth/me', { token: await sign(key, 'usr_doesnotexist') }), 401, 'invalid_token');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: a.id, iss: 'switchyard', aud: 'switchyard-api', exp: Math.floor(Date.now() / 1000) + 300 })}.`;
    assertError(await api.get('/api/auth/me', { token: none }), 401);
    const [h, , s] = a.access.split('.');
    const tampered = `${h}.${b64({ sub: 'usr_other', iss: 'switchyard', aud: 'switchyard-api', exp: Math.floor(Date.now() / 1000) + 300 })}.${s}`;
    assertError(await api.get('/api/auth/me', { token: tampered }), 401, 'invalid_token');
  });

  it('reads tier, role and status live: admin changes show without signing in again; suspended -> 403', async () => {
    const a = await register();
    const me = () => api.get('/api/auth/me', { token: a.access });
    assert.equal((await me()).body.tier, 'free');
    assert.equal((await api.patch(`/api/admin/users/${a.id}`, { tier: 'pro', name: 'Renamed' }, { admin: true })).status, 200);
    let m = await me();
    assert.equal(m.body.tier, 'pro');
    assert.equal(m.body.name, 'Renamed');
    await api.patch(`/api/admin/users/${a.id}`, { role: 'admin' }, { admin: true });
    assert.equal((await me()).body.role, 'admin');
    assert.equal((await api.get('/api/admin/users/stats', { token: a.access })).status, 200, 'the promotion is live for admin routes too');
    await api.patch(`/api/admin/users/${a.id}`, { role: 'user' }, { admin: true });
    assertError(await api.get('/api/admin/users/stats', { token: a.access }), 403, 'admin_required');

    await api.patch(`/api/admin/users/${a.id}`, { status: 'suspended' }, { admin: true });
    assertError(await me(), 403, 'account_suspended', 'permission_error');
    assertError(await api.login(a.email, a.password, from()), 403, 'account_suspended');
    assertError(await api.post('/api/auth/refresh', { refresh_token: a.refresh }), 401);

    await api.patch(`/api/admin/users/${a.id}`, { status: 'active' }, { admin: true });
    // Suspension ended the sessions: the old token stays dead; signing in again works.
    assertError(await me(), 401, 'session_revoked');
    const again = await api.login(a.email, a.password, from());
    assert.equal(again.status, 200);
    m = await api.get('/api/auth/me', { token: again.body.access_token });
    assert.equal(m.status, 200);
    assert.equal(m.body.status, 'active');
  });

  it('a deleted user is locked out at once: token, refresh and login', async () => {
    const a = await register();
    assert.equal((await api.get('/api/auth/me', { token: a.access })).status, 200);
    assert.equal((await api.del(`/api/admin/users/${a.id}`, { admin: true })).status, 200);
    assertError(await api.get('/api/auth/me', { token: a.access }), 401);
    assertError(await api.post('/api/auth/refresh', { refresh_token: a.refresh }), 401);
    assertError(await api.login(a.email, a.password, from()), 401, 'invalid_credentials');
  });
});

describe('password change', () => {
  it('needs the current password; ends the old sessions; the new password signs in', async () => {
    const a = await register();
    const second = await api.login(a.email, a.password, from());
    const next = newPassword();
    assertError(await api.post('/api/auth/password', { current_password: 'wrong-password', new_password: next }, { token: a.access }), 401, 'invalid_credentials');
    assertBadRequest(await api.post('/api/auth/password', { current_password: a.password, new_password: 'short' }, { token: a.access }));
    assertError(await api.post('/api/auth/password', { current_password: a.password, new_password: next }), 401, 'missing_api_key');
    const res = await api.post('/api/auth/password', { current_password: a.password, new_password: next }, { token: a.access });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.user.id, a.id);
    assert.ok(res.body.refresh_token && res.body.access_token);
    assertError(await api.post('/api/auth/refresh', { refresh_token: a.refresh }), 401, 'refresh_token_revoked');
    assertError(await api.post('/api/auth/refresh', { refresh_token: second.body.refresh_token }), 401, 'refresh_token_revoked');
    assertError(await api.login(a.email, a.password, from()), 401, 'invalid_credentials');
    assert.equal((await api.login(a.email, next, from())).status, 200);
    assert.equal((await api.post('/api/auth/refresh', { refresh_token: res.body.refresh_token })).status, 200, 'the new pair works');
    const audit = await auditEntries(`action=auth.password_changed&target_id=${a.id}`);
    assert.equal(audit.total, 1);
  });

  it(
    'access tokens of the ended sessions stop working too',
    async () => {
      const a = await register();
      const other = await api.login(a.email, a.password, from());
      const res = await api.post('/api/auth/password', { current_password: a.password, new_password: newPassword() }, { token: a.access });
      assert.equal(res.status, 200);
      assertError(await api.get('/api/auth/me', { token: other.body.access_token }), 401);
    },
  );
});

describe('password reset (mail over SMTP)', () => {
  async function requestReset(email: string, ip = fakeIp()) {
    const since = smtp.messages.length;
    const res = await api.post('/api/auth/password-reset/request', { email }, { headers: from(ip) });
    return { res, since };
  }

  it('202 for unknown emails too, and no mail is sent for them', async () => {
    const before = smtp.messages.length;
    const email = uniqueEmail('ghost');
    const { res } = await requestReset(email);
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { status: 'accepted' });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.messages.filter((m) => m.to.includes(email)).length, 0);
    assert.ok(smtp.messages.length >= before);
  });

  it('mails a token that sets the password exactly once and revokes existing sessions', async () => {
    const a = await register();
    const { res, since } = await requestReset(a.email.toUpperCase());
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { status: 'accepted' });
    const mail = await smtp.waitFor(a.email, since);
    assert.match(mail.raw, /Subject: Reset your Switchyard password/i);
    const token = resetTokenFrom(mail);
    const next = newPassword();
    const ok = await api.post('/api/auth/password-reset/confirm', { token, password: next }, { headers: from() });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body, { status: 'password_reset' });
    assertError(await api.post('/api/auth/refresh', { refresh_token: a.refresh }), 401, 'refresh_token_revoked');
    assertError(await api.login(a.email, a.password, from()), 401, 'invalid_credentials');
    assert.equal((await api.login(a.email, next, from())).status, 200);
    const again = await api.post('/api/auth/password-reset/confirm', { token, password: newPassword() }, { headers: from() });
    assertBadRequest(again, 'invalid_reset_token');
    assert.equal((await api.login(a.email, next, from())).status, 200, 'the second confirm changed nothing');
    assert.equal((await auditEntries(`action=auth.password_reset&target_id=${a.id}`)).total, 1);
    assert.equal((await auditEntries(`action=auth.password_reset_requested&target_id=${a.id}`)).total, 1);
  });

  it('confirming one token kills the other outstanding ones', async () => {
    const a = await register();
    const first = await requestReset(a.email);
    const t1 = resetTokenFrom(await smtp.waitFor(a.email, first.since));
    const second = await requestReset(a.email);
    const t2 = resetTokenFrom(await smtp.waitFor(a.email, second.since));
    assert.notEqual(t1, t2);
    assert.equal((await api.post('/api/auth/password-reset/confirm', { token: t2, password: newPassword() })).status, 200);
    assertBadRequest(await api.post('/api/auth/password-reset/confirm', { token: t1, password: newPassword() }), 'invalid_reset_token');
  });

  it('an expired token -> 400 and the password stays', async () => {
    const a = await register();
    const { since } = await requestReset(a.email);
    const token = resetTokenFrom(await smtp.waitFor(a.email, since));
    await server.services.database.db.updateTable('password_resets').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', a.id).execute();
    assertBadRequest(await api.post('/api/auth/password-reset/confirm', { token, password: newPassword() }), 'invalid_reset_token');
    assert.equal((await api.login(a.email, a.password, from())).status, 200);
  });

  it('an unknown token -> 400', async () => {
    assertBadRequest(await api.post('/api/auth/password-reset/confirm', { token: 'A'.repeat(43), password: newPassword() }), 'invalid_reset_token');
  });

  it('no mail for a suspended account (still 202)', async () => {
    const a = await register();
    await api.patch(`/api/admin/users/${a.id}`, { status: 'suspended' }, { admin: true });
    const { res } = await requestReset(a.email);
    assert.equal(res.status, 202);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(smtp.messages.filter((m) => m.to.includes(a.email)).length, 0);
  });

  it(
    'a failing mail server does not change the answer (202 for known and unknown emails alike)',
    async () => {
      const a = await register();
      smtp.failing = true;
      try {
        const unknown = await requestReset(uniqueEmail('ghost'));
        const known = await requestReset(a.email);
        assert.equal(unknown.res.status, 202);
        assert.equal(known.res.status, 202, known.res.text);
      } finally {
        smtp.failing = false;
      }
    },
  );
});

describe('bad input on every /api/auth route -> 400 invalid_request_error', () => {
  let account: Account;
  before(async () => {
    account = await register();
  });

  const long = (n: number) => 'a'.repeat(n);
  const routes: { path: string; auth?: boolean; cases: [string, unknown][] }[] = [
    {
      path: '/api/auth/register',
      cases: [
        ['missing fields', {}],
        ['bad email', { email: 'not-an-email', password: 'long enough password' }],
        ['email without domain', { email: 'someone@', password: 'long enough password' }],
        ['over-long email', { email: `${long(250)}@example.test`, password: 'long enough password' }],
        ['short password', { email: uniqueEmail(), password: 'short' }],
        ['over-long password', { email: uniqueEmail(), password: long(257) }],
        ['email wrong type', { email: 42, password: 'long enough password' }],
        ['password wrong type', { email: uniqueEmail(), password: ['long enough password'] }],
        ['name wrong type', { email: uniqueEmail(), password: 'long enough password', name: { first: 'x' } }],
        ['over-long name', { email: uniqueEmail(), password: 'long enough password', name: long(101) }],
        ['empty name', { email: uniqueEmail(), password: 'long enough password', name: '   ' }],
        ['unknown field', { email: uniqueEmail(), password: 'long enough password', role: 'admin' }],
        ['array body', [1, 2]],
        ['null body', null],
      ],
    },
    {
      path: '/api/auth/login',
      cases: [
        ['missing password', { email: 'a@example.test' }],
        ['bad email', { email: 'nope', password: 'whatever-pass' }],
        ['empty password', { email: 'a@example.test', password: '' }],
        ['over-long password', { email: 'a@example.test', password: long(257) }],
        ['wrong types', { email: true, password: 12345678 }],
        ['unknown field', { email: 'a@example.test', password: 'whatever-pass', remember: true }],
      ],
    },
    {
      path: '/api/auth/refresh',
      cases: [
        ['missing token', {}],
        ['empty token', { refresh_token: '' }],
        ['over-long token', { refresh_token: long(201) }],
        ['wrong type', { refresh_token: 123 }],
      ],
    },
    {
      path: '/api/auth/logout',
      cases: [
        ['missing token', {}],
        ['over-long token', { refresh_token: long(201) }],
        ['wrong type', { refresh_token: null }],
      ],
    },
    {
      path: '/api/auth/password-reset/request',
      cases: [
        ['missing email', {}],
        ['bad email', { email: 'at-sign-missing.example.test' }],
        ['over-long email', { email: `${long(260)}@example.test` }],
        ['wrong type', { email: ['a@example.test'] }],
      ],
    },
    {
      path: '/api/auth/password-reset/confirm',
      cases: [
        ['missing fields', {}],
        ['short password', { token: 'abc', password: 'short' }],
        ['over-long token', { token: long(201), password: 'long enough password' }],
        ['wrong types', { token: 1, password: 2 }],
      ],
    },
    {
      path: '/api/auth/password',
      auth: true,
      cases: [
        ['missing fields', {}],
        ['short new password', { current_password: 'whatever-pass', new_password: 'short' }],
        ['over-long new password', { current_password: 'whatever-pass', new_password: long(257) }],
        ['over-long current password', { current_password: long(257), new_password: 'long enough password' }],
        ['wrong types', { current_password: 1, new_password: false }],
        ['unknown field', { current_password: 'whatever-pass', new_password: 'long enough password', x: 1 }],
      ],
    },
  ];

  for (const route of routes) {
    it(`${route.path}: malformed JSON, empty body, wrong types, over-long strings, bad emails`, async () => {
      const token = route.auth ? account.access : undefined;
      const headers = from();
      const malformed = await api.call(route.path, { method: 'POST', body: '{"email": "a@b.c", ', token, headers });
      assertBadRequest(malformed, 'invalid_json');
      const empty = await api.call(route.path, { method: 'POST', body: '', token, headers });
      assertBadRequest(empty);
      for (const [name, body] of route.cases) {
        const res = await api.call(route.path, { method: 'POST', body: JSON.stringify(body), token, headers });
        assertBadRequest(res);
        assert.ok(res.body.error.message.length > 10, `${name}: a precise message: ${res.text}`);
      }
    });
  }

  it('validation messages name the field and never echo the password', async () => {
    const secret = 'abc' + 'Z'.repeat(300);
    const res = await api.post('/api/auth/register', { email: uniqueEmail(), password: secret }, { headers: from() });
    assertBadRequest(res, 'invalid_request');
    assert.match(res.body.error.message, /password/);
    assert.equal(res.body.error.param, 'password');
    assert.ok(!res.text.includes(secret));
  });
});
