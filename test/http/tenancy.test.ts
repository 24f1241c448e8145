/**
 * Tenant isolation (user A gets 404, never 403, for user B's ids of every resource type), anonymous access
 * (allowlisted models, per-IP rate limit) and trials (an expired trial gets a clear 402).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertError, uniqueEmail, fund, type Account, type CreatedKey, roomyPlans } from '../support/identity.ts';

const ANON_RPM = 3;
let server: TestServer;
let api: Api;

before(async () => {
  server = await startTestServer({ anonymous: { enabled: true, models: ['mock/echo'], rpm: ANON_RPM }, trial: { days: 1 }, ...roomyPlans() });
  api = new Api(server.url, server.services);
});
after(async () => server?.stop());

describe('tenant isolation: 404 for ids of someone else', () => {
  let a: Account;
  let b: Account;
  let bAccountKey: CreatedKey;
  let aKey: CreatedKey;
  let aOrg: { id: string };
  let aOrgKey: CreatedKey;
  let aInvite: { id: string };
  let carol: Account;
  let carolInvite: { id: string };

  before(async () => {
    [a, b, carol] = await Promise.all([api.register(), api.register(), api.register()]);
    bAccountKey = await api.createKey(b.access, { scopes: ['account', 'inference'] });
    aKey = await api.createKey(a.access, { name: 'A personal' });
    aOrg = (await api.post('/api/orgs', { name: 'A corp' }, { token: a.access })).body;
    await fund(server.services, { type: 'org', id: aOrg.id });
    aOrgKey = await api.createKey(a.access, { name: 'A org key', org_id: aOrg.id });
    aInvite = (await api.post(`/api/orgs/${aOrg.id}/invites`, { email: uniqueEmail('pending') }, { token: a.access })).body;
    carolInvite = (await api.post(`/api/orgs/${aOrg.id}/invites`, { email: carol.email }, { token: a.access })).body;
    assert.ok(aInvite.id && carolInvite.id);
  });

  /** B's credentials: a session and an account-scoped key. */
  const asB = () => [{ token: b.access }, { token: bAccountKey.key }];

  it("keys: GET/PATCH/DELETE/rotate of A's personal and org keys -> 404, same as a missing id; A's keys keep working", async () => {
    for (const cred of asB()) {
      for (const id of [aKey.id, aOrgKey.id, 'key_doesnotexist']) {
        const res = [
          await api.get(`/api/keys/${id}`, cred),
          await api.patch(`/api/keys/${id}`, { name: 'pwned', allowed_ips: ['10.0.0.0/8'] }, cred),
          await api.del(`/api/keys/${id}`, cred),
          await api.post(`/api/keys/${id}/rotate`, {}, cred),
        ];
        for (const r of res) assertError(r, 404, 'key_not_found', 'not_found_error');
      }
      const list = await api.get('/api/keys?include_revoked=true', cred);
      assert.ok(!list.body.data.some((k: any) => k.id === aKey.id || k.id === aOrgKey.id));
    }
    for (const k of [aKey, aOrgKey]) {
      const view = await api.get(`/api/keys/${k.id}`, { token: a.access });
      assert.equal(view.body.status, 'active');
      assert.equal(view.body.allowed_ips, null, 'not modified by B');
      assert.equal((await api.chat(k.key)).status, 200);
    }
  });

  it("orgs: GET/PATCH/DELETE, members, role changes, invites of A's org -> 404", async () => {
    for (const cred of asB()) {
      const o = `/api/orgs/${aOrg.id}`;
      const res = [
        await api.get(o, cred),
        await api.patch(o, { name: 'pwned' }, cred),
        await api.del(o, cred),
        await api.get(`${o}/members`, cred),
        await api.patch(`${o}/members/${a.id}`, { role: 'member' }, cred),
        await api.patch(`${o}/members/${b.id}`, { role: 'owner' }, cred),
        await api.del(`${o}/members/${a.id}`, cred),
        await api.get(`${o}/invites`, cred),
        await api.post(`${o}/invites`, { email: b.email, role: 'admin' }, cred),
        await api.del(`${o}/invites/${aInvite.id}`, cred),
        await api.get(`/api/keys?org_id=${aOrg.id}`, cred),
        await api.post('/api/keys', { name: 'into A org', org_id: aOrg.id }, cred),
      ];
      for (const r of res) assertError(r, 404, 'org_not_found', 'not_found_error');
      assert.ok(!(await api.get('/api/orgs', cred)).body.data.some((x: any) => x.id === aOrg.id));
    }
    const org = await api.get(`/api/orgs/${aOrg.id}`, { token: a.access });
    assert.equal(org.body.name, 'A corp');
    const members = await api.get(`/api/orgs/${aOrg.id}/members`, { token: a.access });
    assert.deepEqual(members.body.data.map((m: any) => [m.user_id, m.role]), [[a.id, 'owner']]);
    const invites = await api.get(`/api/orgs/${aOrg.id}/invites`, { token: a.access });
    assert.equal(invites.body.data.find((i: any) => i.id === aInvite.id).status, 'pending');
  });

  it("invites: accepting or declining someone else's invitation -> 404; the invitee still can", async () => {
    for (const cred of [...asB(), { token: a.access }]) {
      assertError(await api.post(`/api/orgs/invites/${carolInvite.id}/accept`, {}, cred), 404, 'invite_not_found');
      assertError(await api.post(`/api/orgs/invites/${carolInvite.id}/decline`, {}, cred), 404, 'invite_not_found');
      assertError(await api.post('/api/orgs/invites/inv_doesnotexist/accept', {}, cred), 404, 'invite_not_found');
    }
    assert.ok(!(await api.get('/api/orgs/invites', { token: b.access })).body.data.some((i: any) => i.id === carolInvite.id));
    const ok = await api.post(`/api/orgs/invites/${carolInvite.id}/accept`, {}, { token: carol.access });
    assert.equal(ok.status, 200, ok.text);
    assert.ok(!(await api.get('/api/orgs', { token: b.access })).body.data.some((x: any) => x.id === aOrg.id), 'B did not join');
  });

  it("a member of A's org still gets 404 for A's personal key", async () => {
    assertError(await api.get(`/api/keys/${aKey.id}`, { token: carol.access }), 404, 'key_not_found');
    assertError(await api.get(`/api/keys/${aOrgKey.id}`, { token: carol.access }), 404, 'key_not_found'); // a plain member does not manage org keys
  });
});

describe('anonymous access (enabled: mock/echo only, small rpm)', () => {
  it('no key: the allowed model works, another model -> 403, past the rpm -> 429 with Retry-After', async () => {
    const denied = await api.chat(undefined, 'mock/tools');
    assertError(denied, 403, 'model_not_allowed_anonymously', 'permission_error');
    for (let i = 0; i < ANON_RPM; i++) {
      const res = await api.chat(undefined, 'mock/echo', { content: `anon ${i}` });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.choices[0].message.content, `anon ${i}`);
    }
    const limited = await api.chat(undefined, 'mock/echo');
    assertError(limited, 429, 'anonymous_rate_limited', 'rate_limit_error');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${limited.headers.get('retry-after')}`);
    assertError(await api.chat(undefined, 'mock/tools'), 403, 'model_not_allowed_anonymously'); // the model refusal comes first

    // An admin clearing the rate-limit counters lets the address in again.
    const cleared = await server.request('/api/admin/caches/clear', { method: 'POST', json: { names: ['rate_limits'] } });
    assert.equal(cleared.status, 200, await cleared.clone().text());
    const again = await api.chat(undefined, 'mock/echo', { content: 'after clear' });
    assert.equal(again.status, 200, again.text);
  });

  it('a presented but invalid key is refused (401), never downgraded to anonymous', async () => {
    assertError(await api.chat('sk-sy-' + 'n'.repeat(43)), 401, 'invalid_api_key');
    assertError(await api.chat('garbage', 'mock/echo', { viaXApiKey: true }), 401, 'invalid_api_key');
  });

  it('anonymous access covers /v1 only: /api routes still need credentials (401)', async () => {
    assertError(await api.get('/api/keys'), 401, 'missing_api_key');
    assertError(await api.get('/api/auth/me'), 401, 'missing_api_key');
    assertError(await api.get('/api/admin/users'), 401, 'missing_api_key');
  });

  it('keys are unaffected by the anonymous limit', async () => {
    const u = await api.register();
    const k = await api.createKey(u.access);
    for (let i = 0; i < ANON_RPM + 2; i++) assert.equal((await api.chat(k.key, 'mock/tools')).status, 200);
  });
});

describe('trials (trial.days = 1)', () => {
  it('a new user gets trial_expires_at one day out', async () => {
    const t0 = Date.now();
    const u = await api.register();
    const exp = Date.parse(u.user.trial_expires_at);
    assert.ok(Math.abs(exp - (t0 + 86_400_000)) < 60_000, u.user.trial_expires_at);
    assert.equal((await api.get('/api/auth/me', { token: u.access })).body.trial_expires_at, u.user.trial_expires_at);
  });

  it('an expired trial -> 402 trial_expired on the next inference, for keys of that user; lifting it restores access', async () => {
    const u = await api.register();
    const k = await api.createKey(u.access);
    assert.equal((await api.chat(k.key)).status, 200);
    const past = new Date(Date.now() - 60_000).toISOString();
    const p = await api.patch(`/api/admin/users/${u.id}`, { trial_expires_at: past }, { admin: true });
    assert.equal(p.status, 200, p.text);
    const res = await api.chat(k.key);
    assertError(res, 402, 'trial_expired', 'insufficient_quota');
    assert.match(res.body.error.message, /trial/i);
    await assert.rejects(server.openai(k.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 402);
      return true;
    });
    // The account itself still works: sign-in and key management are not blocked.
    assert.equal((await api.get('/api/auth/me', { token: u.access })).status, 200);
    assert.equal((await api.patch(`/api/admin/users/${u.id}`, { trial_expires_at: null }, { admin: true })).status, 200);
    assert.equal((await api.chat(k.key)).status, 200);
  });
});
