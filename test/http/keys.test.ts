/**
 * API keys through HTTP: the secret shown once, management routes, and enforcement on /v1 — revoked,
 * expired and rotated keys rejected on the very next request, IP/referrer/model allowlists, scopes,
 * x-api-key, suspended/deleted owners, no database query on a warm cache, batched last_used_at, and a key
 * that manages keys handing out no more than it holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import { startTestServer, type TestServer } from '../support/server.ts';
import { Api, assertBadRequest, assertError, sleep, type Account, roomyPlans } from '../support/identity.ts';

let server: TestServer;
let api: Api;
let owner: Account;

before(async () => {
  // Request-log batches (and credit charges) are written on a long timer, so background writes stay out of
  // query counts; tests flush them explicitly.
  server = await startTestServer({ requestLog: { flushIntervalMs: 3_600_000 }, ...({ credits: { chargeFlushIntervalMs: 3_600_000 } } as object), ...roomyPlans() });
  api = new Api(server.url, server.services);
  owner = await api.register();
});
after(async () => server?.stop());

const newKey = (body: Record<string, unknown> = {}, token = owner.access) => api.createKey(token, body);

describe('create and manage', () => {
  it('create: 201, the secret once (sk-sy-...), stored only as a SHA-256 hash', async () => {
    const res = await api.post('/api/keys', { name: 'ci key' }, { token: owner.access });
    assert.equal(res.status, 201, res.text);
    const k = res.body;
    assert.match(k.key, /^sk-sy-[A-Za-z0-9_-]{40,}$/);
    assert.match(k.id, /^key_/);
    assert.equal(k.name, 'ci key');
    assert.equal(k.prefix, k.key.slice(0, 10));
    assert.equal(k.last_four, k.key.slice(-4));
    assert.deepEqual(k.scopes, ['inference']);
    assert.equal(k.status, 'active');
    assert.equal(k.user_id, owner.id);
    assert.equal(k.org_id, null);
    assert.equal(k.last_used_at, null);
    assert.equal(k.expires_at, null);
    assert.equal(k.revoked_at, null);
    assert.ok(!Number.isNaN(Date.parse(k.created_at)));
    const row = await server.services.database.db.selectFrom('api_keys').selectAll().where('id', '=', k.id).executeTakeFirstOrThrow();
    assert.equal(row.secret_hash, createHash('sha256').update(k.key).digest('hex'));
    assert.ok(!JSON.stringify(row).includes(k.key), 'the row holds no secret');
  });

  it('never shows the secret again: GET, list, PATCH, DELETE, admin listing', async () => {
    const k = await newKey({ name: 'hidden' });
    const responses = [
      await api.get(`/api/keys/${k.id}`, { token: owner.access }),
      await api.get('/api/keys', { token: owner.access }),
      await api.get('/api/keys?include_revoked=true', { token: owner.access }),
      await api.patch(`/api/keys/${k.id}`, { name: 'renamed' }, { token: owner.access }),
      await api.get(`/api/admin/users/${owner.id}/keys`, { admin: true }),
      await api.del(`/api/keys/${k.id}`, { token: owner.access }),
      await api.get('/api/keys?include_revoked=true', { token: owner.access }),
    ];
    for (const r of responses) {
      assert.equal(r.status, 200, r.text);
      assert.ok(!r.text.includes(k.key), `secret in ${r.text}`);
      assert.ok(!r.text.includes(k.key.slice(10)), 'not even its tail');
      assert.ok(!/"key"\s*:/.test(r.text), 'no "key" field');
    }
    const one = responses[0].body;
    for (const f of ['id', 'name', 'prefix', 'last_four', 'scopes', 'limits', 'created_at', 'last_used_at', 'expires_at']) assert.ok(f in one, f);
  });

  it('list: my live keys, newest first; revoked only with include_revoked=true', async () => {
    const me = await api.register();
    const a = await newKey({ name: 'a' }, me.access);
    const b = await newKey({ name: 'b' }, me.access);
    let list = await api.get('/api/keys', { token: me.access });
    assert.deepEqual(list.body.data.map((k: any) => k.id), [b.id, a.id]);
    await api.del(`/api/keys/${a.id}`, { token: me.access });
    list = await api.get('/api/keys', { token: me.access });
    assert.deepEqual(list.body.data.map((k: any) => k.id), [b.id]);
    list = await api.get('/api/keys?include_revoked=true', { token: me.access });
    assert.deepEqual(list.body.data.map((k: any) => [k.id, k.status]), [[b.id, 'active'], [a.id, 'revoked']]);
  });

  it('create with every option; PATCH changes and clears them', async () => {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const k = await newKey({
      name: 'full',
      expires_at: expires,
      scopes: ['inference', 'account'],
      allowed_models: ['mock/*'],
      allowed_ips: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
      allowed_referrers: ['*.example.com'],
      limits: { rpm: 10, max_concurrency: 2 },
    });
    assert.equal(k.view.expires_at, expires);
    assert.deepEqual(k.view.scopes, ['inference', 'account']);
    assert.deepEqual(k.view.allowed_ips, ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32']);
    assert.deepEqual(k.view.limits, { rpm: 10, max_concurrency: 2 });
    const p = await api.patch(`/api/keys/${k.id}`, { name: 'trimmed', allowed_models: null, allowed_ips: null, allowed_referrers: null, limits: null, expires_at: null }, { token: owner.access });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.body.name, 'trimmed');
    for (const f of ['allowed_models', 'allowed_ips', 'allowed_referrers', 'limits', 'expires_at']) assert.equal(p.body[f], null, f);
    assert.equal((await api.chat(k.key, 'mock/echo', { headers: { origin: 'https://elsewhere.test' } })).status, 200);
  });

  it('audits create, update, revoke and rotate with the actor and request id', async () => {
    const k = await newKey();
    await api.patch(`/api/keys/${k.id}`, { name: 'audited' }, { token: owner.access });
    await api.post(`/api/keys/${k.id}/rotate`, {}, { token: owner.access, headers: { 'x-request-id': 'req-rotate-audit-1' } });
    await api.del(`/api/keys/${k.id}`, { token: owner.access });
    const res = await api.get(`/api/admin/audit?target_id=${k.id}&limit=10`, { admin: true });
    assert.deepEqual(res.body.data.map((e: any) => e.action).reverse(), ['key.create', 'key.update', 'key.rotate', 'key.revoke']);
    assert.ok(res.body.data.every((e: any) => e.actor_type === 'user' && e.actor_id === owner.id && e.target_type === 'api_key'));
    assert.equal(res.body.data.find((e: any) => e.action === 'key.rotate').request_id, 'req-rotate-audit-1');
  });
});

describe('rejected on the very next request', () => {
  it('revoked: 401 key_revoked right after DELETE (the key was warm)', async () => {
    const k = await newKey();
    assert.equal((await api.chat(k.key)).status, 200);
    assert.equal((await api.chat(k.key)).status, 200);
    const del = await api.del(`/api/keys/${k.id}`, { token: owner.access });
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'revoked');
    assert.ok(del.body.revoked_at);
    assertError(await api.chat(k.key), 401, 'key_revoked', 'authentication_error');
    assertError(await api.chat(k.key, 'mock/echo', { viaXApiKey: true }), 401, 'key_revoked');
    assertError(await api.patch(`/api/keys/${k.id}`, { name: 'zombie' }, { token: owner.access }), 404, 'key_not_found');
    assertError(await api.post(`/api/keys/${k.id}/rotate`, {}, { token: owner.access }), 404, 'key_not_found');
    assert.equal((await api.del(`/api/keys/${k.id}`, { token: owner.access })).status, 200, 'revoking twice is harmless');
  });

  it('rotated: the old secret 401 at once, the new one works, same id', async () => {
    const k = await newKey();
    assert.equal((await api.chat(k.key)).status, 200);
    const rot = await api.post(`/api/keys/${k.id}/rotate`, {}, { token: owner.access });
    assert.equal(rot.status, 200, rot.text);
    assert.equal(rot.body.id, k.id);
    assert.match(rot.body.key, /^sk-sy-/);
    assert.notEqual(rot.body.key, k.key);
    assert.equal(rot.body.prefix, rot.body.key.slice(0, 10));
    assert.equal(rot.body.last_four, rot.body.key.slice(-4));
    assertError(await api.chat(k.key), 401, 'invalid_api_key');
    assert.equal((await api.chat(rot.body.key)).status, 200);
    assertError(await api.chat(k.key), 401, 'invalid_api_key');
  });

  it('expired (set in the database, never cached): 401 key_expired on first use', async () => {
    const k = await newKey();
    await server.services.database.db.updateTable('api_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', k.id).execute();
    assertError(await api.chat(k.key), 401, 'key_expired');
    const view = await api.get(`/api/keys/${k.id}`, { token: owner.access });
    assert.equal(view.body.status, 'expired');
  });

  it('expired (warm key, expiry set through PATCH): rejected on the first request after the instant passes', async () => {
    const k = await newKey();
    assert.equal((await api.chat(k.key)).status, 200);
    const at = Date.now() + 3000;
    const p = await api.patch(`/api/keys/${k.id}`, { expires_at: new Date(at).toISOString() }, { token: owner.access });
    assert.equal(p.status, 200, p.text);
    const early = await api.chat(k.key);
    // (On a badly overloaded machine the window may already have passed; the rejection below is the point.)
    if (Date.now() < at - 250) assert.equal(early.status, 200, 'still valid before the expiry');
    await sleep(Math.max(0, at - Date.now()) + 50);
    assertError(await api.chat(k.key), 401, 'key_expired');
    assert.equal((await api.get(`/api/keys/${k.id}`, { token: owner.access })).body.status, 'expired');
  });

  it('an expiry in the past is refused by the API (400)', async () => {
    assertBadRequest(await api.post('/api/keys', { name: 'x', expires_at: new Date(Date.now() - 60_000).toISOString() }, { token: owner.access }));
    const k = await newKey();
    assertBadRequest(await api.patch(`/api/keys/${k.id}`, { expires_at: '2001-01-01T00:00:00Z' }, { token: owner.access }));
  });

  it(
    'revoked while a cold request for the same key is in flight: still rejected afterwards',
    async () => {
      const u = await api.register();
      let survived = 0;
      for (let i = 0; i < 20; i++) {
        const k = await newKey({}, u.access);
        // Drop the owner from the user cache so the cold key lookup takes two queries (a wider window).
        await api.patch(`/api/admin/users/${u.id}`, { name: `n${i}` }, { admin: true });
        await Promise.all([api.get('/v1/models', { token: k.key }), sleep(i % 4).then(() => api.del(`/api/admin/keys/${k.id}`, { admin: true }))]);
        if ((await api.get('/v1/models', { token: k.key })).status === 200) survived++;
      }
      assert.equal(survived, 0, `${survived}/20 revoked keys kept working`);
    },
  );

  it('suspended owner: 403 at once; reactivated: works again; deleted owner: 401 at once', async () => {
    const u = await api.register();
    const k = await newKey({}, u.access);
    assert.equal((await api.chat(k.key)).status, 200);
    await api.patch(`/api/admin/users/${u.id}`, { status: 'suspended' }, { admin: true });
    assertError(await api.chat(k.key), 403, 'account_suspended');
    await api.patch(`/api/admin/users/${u.id}`, { status: 'active' }, { admin: true });
    assert.equal((await api.chat(k.key)).status, 200);
    await api.del(`/api/admin/users/${u.id}`, { admin: true });
    assertError(await api.chat(k.key), 401);
  });
});

describe('credentials on /v1', () => {
  it('no key -> 401 (anonymous access is off by default); unknown key -> 401', async () => {
    assertError(await api.chat(undefined), 401, 'missing_api_key');
    assertError(await api.chat('sk-sy-' + 'x'.repeat(43)), 401, 'invalid_api_key');
    assertError(await api.chat('sk-sy-' + 'x'.repeat(43)), 401, 'invalid_api_key');
    assertError(await api.call('/v1/models', { headers: { authorization: 'Bearer' } }), 401);
    assertError(await api.call('/v1/models', { headers: { authorization: 'Token abc' } }), 401);
  });

  it('accepts x-api-key as well as Authorization: Bearer, and works with the openai SDK', async () => {
    const k = await newKey();
    const res = await api.chat(k.key, 'mock/echo', { viaXApiKey: true, content: 'via header' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.choices[0].message.content, 'via header');
    const client = server.openai(k.key);
    const out = await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'sdk' }] });
    assert.equal(out.choices[0].message.content, 'sdk');
    const models = await api.get('/v1/models', { headers: { 'x-api-key': k.key } });
    assert.equal(models.status, 200);
  });

  it('scopes: without inference -> 403 on /v1; with account -> the /api routes of the owner', async () => {
    const acct = await newKey({ scopes: ['account'] });
    assertError(await api.chat(acct.key), 403, 'scope_required', 'permission_error');
    const list = await api.get('/api/keys', { token: acct.key });
    assert.equal(list.status, 200);
    assert.ok(list.body.data.some((k: any) => k.id === acct.id));
    assert.equal((await api.get('/api/auth/me', { headers: { 'x-api-key': acct.key } })).body.id, owner.id);

    const inf = await newKey();
    assertError(await api.get('/api/keys', { token: inf.key }), 403, 'scope_required');
    assertError(await api.get('/api/auth/me', { token: inf.key }), 403, 'scope_required');

    const both = await newKey({ scopes: ['inference', 'account'] });
    assert.equal((await api.chat(both.key)).status, 200);
    assert.equal((await api.get('/api/keys', { token: both.key })).status, 200);
    // A user key, whatever its scopes, is no admin credential.
    assertError(await api.get('/api/admin/users', { token: both.key }), 403, 'admin_required');
  });
});

describe('allowlists', () => {
  it('IP allowlist: a CIDR that excludes 127.0.0.1 -> 403 ip_not_allowed; one that includes it -> 200', async () => {
    const k = await newKey({ allowed_ips: ['10.0.0.0/8', '192.168.1.7'] });
    assertError(await api.chat(k.key), 403, 'ip_not_allowed', 'permission_error');
    assertError(await api.get('/v1/models', { token: k.key }), 403, 'ip_not_allowed');
    const v6 = await newKey({ allowed_ips: ['::1/128'] });
    assertError(await api.chat(v6.key), 403, 'ip_not_allowed'); // an IPv6 rule does not admit an IPv4 client
    for (const rule of ['127.0.0.0/8', '127.0.0.1', '127.0.0.1/32', '0.0.0.0/0']) {
      const ok = await newKey({ allowed_ips: [rule] });
      assert.equal((await api.chat(ok.key)).status, 200, rule);
    }
    // Changing the list takes effect on the next request.
    const p = await api.patch(`/api/keys/${k.id}`, { allowed_ips: ['10.0.0.0/8', '127.0.0.0/24'] }, { token: owner.access });
    assert.equal(p.status, 200);
    assert.equal((await api.chat(k.key)).status, 200);
    await api.patch(`/api/keys/${k.id}`, { allowed_ips: ['10.0.0.0/8'] }, { token: owner.access });
    assertError(await api.chat(k.key), 403, 'ip_not_allowed');
  });

  it('IPv6 and IPv4-mapped client addresses (through inject, since the test server listens on IPv4 loopback)', async () => {
    const inject = (key: string, remoteAddress: string) =>
      server.app.inject({ method: 'POST', url: '/v1/chat/completions', remoteAddress, headers: { authorization: `Bearer ${key}` }, payload: { model: 'mock/echo', messages: [{ role: 'user', content: 'v6' }] } });
    const v6 = await newKey({ allowed_ips: ['::1/128'] });
    assert.equal((await inject(v6.key, '::1')).statusCode, 200);
    assert.equal((await inject(v6.key, '2001:db8::1')).statusCode, 403);
    const net = await newKey({ allowed_ips: ['2001:db8::/32'] });
    assert.equal((await inject(net.key, '2001:db8:1:2::3')).statusCode, 200);
    assert.equal((await inject(net.key, '2001:db9::1')).statusCode, 403);
    const v4 = await newKey({ allowed_ips: ['127.0.0.1'] });
    assert.equal((await inject(v4.key, '::ffff:127.0.0.1')).statusCode, 200, 'IPv4-mapped IPv6 is matched as IPv4');
    assert.equal((await inject(v4.key, '::1')).statusCode, 403);
  });

  it('referrer allowlist: Origin or Referer host must match a host glob', async () => {
    const k = await newKey({ allowed_referrers: ['*.example.com', 'app.test'] });
    assertError(await api.chat(k.key), 403, 'referrer_not_allowed', 'permission_error');
    assert.equal((await api.chat(k.key, 'mock/echo', { headers: { origin: 'https://app.example.com' } })).status, 200);
    assert.equal((await api.chat(k.key, 'mock/echo', { headers: { origin: 'http://app.test:3000' } })).status, 200);
    assert.equal((await api.chat(k.key, 'mock/echo', { headers: { referer: 'https://www.example.com/page?x=1' } })).status, 200);
    for (const origin of ['https://evil.test', 'https://example.com.evil.test', 'https://notexample.com', 'null', 'garbage'])
      assertError(await api.chat(k.key, 'mock/echo', { headers: { origin } }), 403, 'referrer_not_allowed');
  });

  it('model allowlist globs: mock/* allows mock/echo; a key limited to mock/tools gets 403 model_not_allowed for mock/echo', async () => {
    const any = await newKey({ allowed_models: ['mock/*'] });
    assert.equal((await api.chat(any.key, 'mock/echo')).status, 200);
    const one = await newKey({ allowed_models: ['mock/tools'] });
    assertError(await api.chat(one.key, 'mock/echo'), 403, 'model_not_allowed', 'permission_error');
    assert.equal((await api.chat(one.key, 'mock/tools')).status, 200);
    const q = await newKey({ allowed_models: ['mock/ech?'] });
    assert.equal((await api.chat(q.key, 'mock/echo')).status, 200);
    assertError(await api.chat(q.key, 'mock/tools'), 403, 'model_not_allowed');
    // Through the SDK the refusal is a PermissionDeniedError.
    await assert.rejects(server.openai(one.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.PermissionDeniedError);
      return true;
    });
    // Widening the list through PATCH is effective at once.
    await api.patch(`/api/keys/${one.id}`, { allowed_models: ['mock/tools', 'mock/echo'] }, { token: owner.access });
    assert.equal((await api.chat(one.key, 'mock/echo')).status, 200);
  });
});

describe('the hot path', () => {
  it('key authentication adds no database query on a warm cache', async () => {
    // Background jobs that query on timers are stopped so the count is exact.
    await server.services.observability.incidents.stop();
    await server.services.keyUsage.stop();
    const db = server.services.database;
    const u = await api.register();
    const k = await newKey({ allowed_models: ['mock/*'], allowed_ips: ['127.0.0.0/8'] }, u.access);
    const cold = db.queryCount;
    assert.equal((await api.chat(k.key)).status, 200);
    assert.ok(db.queryCount - cold >= 1, 'a cold key is looked up in the database');
    const warm = db.queryCount;
    for (let i = 0; i < 5; i++) assert.equal((await api.chat(k.key, 'mock/echo', { viaXApiKey: i % 2 === 1 })).status, 200);
    const stream = await api.call('/v1/chat/completions', { method: 'POST', token: k.key, json: { model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(stream.status, 200);
    assert.equal((await api.get('/v1/models', { token: k.key })).status, 200);
    assert.equal((await api.chat(k.key, 'mock/tools')).status, 200);
    assert.equal(db.queryCount - warm, 0, 'no queries for warm keys');
    // Unknown secrets are cached negatively: guessing does not cost a query per attempt either.
    const bogus = 'sk-sy-' + 'q'.repeat(43);
    assertError(await api.chat(bogus), 401);
    const afterFirstMiss = db.queryCount;
    for (let i = 0; i < 5; i++) assertError(await api.chat(bogus), 401);
    assert.equal(db.queryCount - afterFirstMiss, 0);
  });

  it('last_used_at is recorded in memory and written in one batch on flush', async () => {
    const k1 = await newKey();
    const k2 = await newKey();
    const t0 = Date.now();
    assert.equal((await api.chat(k1.key)).status, 200);
    assert.equal((await api.chat(k2.key)).status, 200);
    assert.equal((await api.get(`/api/keys/${k1.id}`, { token: owner.access })).body.last_used_at, null, 'not written per request');
    const db = server.services.database;
    const before = db.queryCount;
    await server.services.keyUsage.flush();
    assert.equal(db.queryCount - before, 1, 'one UPDATE for the whole batch');
    for (const k of [k1, k2]) {
      const used = (await api.get(`/api/keys/${k.id}`, { token: owner.access })).body.last_used_at;
      assert.ok(used, 'written after the flush');
      assert.ok(Date.parse(used) >= t0 - 1000 && Date.parse(used) <= Date.now() + 1000);
    }
  });
});

describe('bad input on /api/keys', () => {
  it('malformed JSON, wrong types, over-long strings, bad CIDRs and globs, unknown fields -> 400', async () => {
    const t = owner.access;
    assertBadRequest(await api.call('/api/keys', { method: 'POST', body: '{"name":', token: t }), 'invalid_json');
    assertBadRequest(await api.call('/api/keys', { method: 'POST', body: '', token: t }));
    const bad: Record<string, unknown>[] = [
      {},
      { name: '' },
      { name: 'x'.repeat(101) },
      { name: 5 },
      { name: 'x', scopes: ['root'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: 'inference' },
      { name: 'x', allowed_ips: ['300.1.1.1'] },
      { name: 'x', allowed_ips: ['10.0.0.0/33'] },
      { name: 'x', allowed_ips: ['10.0.0.0/8/1'] },
      { name: 'x', allowed_ips: ['localhost'] },
      { name: 'x', allowed_ips: '10.0.0.0/8' },
      { name: 'x', allowed_ips: Array.from({ length: 101 }, () => '10.0.0.1') },
      { name: 'x', allowed_models: ['mock/echo; drop table'] },
      { name: 'x', allowed_models: [''] },
      { name: 'x', allowed_referrers: ['https://example.com/'] },
      { name: 'x', expires_at: 'tomorrow' },
      { name: 'x', expires_at: 1893456000 },
      { name: 'x', limits: { rpm: -1 } },
      { name: 'x', limits: { unknown: 1 } },
      { name: 'x', secret: 'sk-sy-mine' },
      { name: 'x', org_id: 'o'.repeat(65) },
    ];
    for (const body of bad) assertBadRequest(await api.post('/api/keys', body, { token: t }));
    const k = await newKey();
    assertBadRequest(await api.patch(`/api/keys/${k.id}`, {}, { token: t }));
    assertBadRequest(await api.patch(`/api/keys/${k.id}`, { name: null }, { token: t }));
    assertBadRequest(await api.patch(`/api/keys/${k.id}`, { allowed_ips: ['nope'] }, { token: t }));
    assertBadRequest(await api.patch(`/api/keys/${k.id}`, { key: 'sk-sy-chosen' }, { token: t }));
    assertBadRequest(await api.call(`/api/keys/${k.id}`, { method: 'PATCH', body: '[', token: t }), 'invalid_json');
    assertBadRequest(await api.get(`/api/keys/${'k'.repeat(65)}`, { token: t }));
    assertBadRequest(await api.get('/api/keys?include_revoked=yes', { token: t }));
    assertError(await api.get('/api/keys/key_doesnotexist', { token: t }), 404, 'key_not_found');
    assertError(await api.del('/api/keys/key_doesnotexist', { token: t }), 404, 'key_not_found');
    assertError(await api.post('/api/keys/key_doesnotexist/rotate', {}, { token: t }), 404, 'key_not_found');
    assertError(await api.post('/api/keys', { name: 'x' }), 401, 'missing_api_key');
    assertError(await api.post('/api/keys', { name: 'x' }, { admin: true }), 403, 'user_required');
  });

  it(
    'over-long ids and broken percent-encoding in the path get the JSON error shape too',
    async () => {
      for (const path of [`/api/keys/${'k'.repeat(101)}`, `/api/orgs/${'o'.repeat(120)}/members`, '/api/keys/%E0%A4%A']) {
        const res = await api.get(path, { token: owner.access });
        assert.ok(res.status === 400 || res.status === 414, `${path}: ${res.status}`);
        assert.equal(typeof res.body.error, 'object', `${path}: ${res.text}`);
        assert.equal(res.body.error.type, 'invalid_request_error');
      }
    },
  );
});

describe('a key managing keys hands out no more than it holds', () => {
  const future = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

  it('create: what the caller restricts is inherited when left out, and a broader request is a 403', async () => {
    const caller = await newKey({
      scopes: ['inference', 'account'],
      allowed_models: ['mock/*'],
      allowed_ips: ['127.0.0.0/8'],
      limits: { rpm: 50, budget: { amount_usd: 5, period: 'month' } },
      expires_at: future(7),
    });
    // Left out: inherited.
    const child = await newKey({ name: 'child' }, caller.key);
    assert.deepEqual(child.view.allowed_models, ['mock/*']);
    assert.deepEqual(child.view.allowed_ips, ['127.0.0.0/8']);
    assert.deepEqual(child.view.limits, { rpm: 50, budget: { amount_usd: 5, period: 'month' } });
    assert.equal(child.view.expires_at, caller.view.expires_at);
    assert.equal((await api.chat(child.key, 'mock/echo')).status, 200);
    // Narrower: fine, including one concrete model out of the caller's glob.
    const narrower = await newKey({ allowed_models: ['mock/echo'], limits: { rpm: 10, budget: { amount_usd: 1, period: 'month' } }, expires_at: future(1) }, caller.key);
    assert.deepEqual(narrower.view.limits, { rpm: 10, budget: { amount_usd: 1, period: 'month' } });
    assert.deepEqual(narrower.view.allowed_models, ['mock/echo']);

    const broader: [Record<string, unknown>, string][] = [
      [{ allowed_models: ['mock/*', 'openai/*'] }, 'allowed_models'],
      [{ allowed_models: ['openai/gpt-4o'] }, 'allowed_models'],
      [{ allowed_models: ['mock/e*'] }, 'allowed_models'], // a pattern inside the caller's is not worked out
      [{ allowed_ips: ['0.0.0.0/0'] }, 'allowed_ips'],
      [{ limits: { rpm: 500 } }, 'limits.rpm'],
      [{ limits: { budget: { amount_usd: 5, period: 'total' } } }, 'limits.budget'],
      [{ expires_at: future(30) }, 'expires_at'],
    ];
    for (const [body, field] of broader) {
      const res = await api.post('/api/keys', { name: 'escalation', ...body }, { token: caller.key });
      assertError(res, 403, 'key_exceeds_caller', 'permission_error');
      assert.equal(res.body.error.param, field, JSON.stringify(body));
    }
    // A scope the caller lacks: an account-only key cannot mint an inference key.
    const accountOnly = await newKey({ scopes: ['account'] });
    assertError(await api.post('/api/keys', { name: 'x' }, { token: accountOnly.key }), 403, 'key_exceeds_caller');
    const ok = await newKey({ scopes: ['account'] }, accountOnly.key);
    assert.deepEqual(ok.view.scopes, ['account']);
    // Nothing was written for the refused requests.
    const names = (await api.get('/api/keys', { token: owner.access })).body.data.map((k: any) => k.name);
    assert.ok(!names.includes('escalation') && !names.includes('x'));
  });

  it('update and rotate: only keys within the caller, and never loosened past it', async () => {
    const caller = await newKey({ scopes: ['inference', 'account'], allowed_models: ['mock/*'] });
    const unrestricted = await newKey({ name: 'wide' });
    // Rotating would hand over the secret of a broader key; changing it is refused too.
    assertError(await api.post(`/api/keys/${unrestricted.id}/rotate`, {}, { token: caller.key }), 403, 'key_exceeds_caller');
    assertError(await api.patch(`/api/keys/${unrestricted.id}`, { name: 'renamed' }, { token: caller.key }), 403, 'key_exceeds_caller');
    // The caller cannot loosen itself or a key it made.
    assertError(await api.patch(`/api/keys/${caller.id}`, { allowed_models: null }, { token: caller.key }), 403, 'key_exceeds_caller');
    const child = await newKey({ name: 'child' }, caller.key);
    assertError(await api.patch(`/api/keys/${child.id}`, { allowed_models: ['*'] }, { token: caller.key }), 403, 'key_exceeds_caller');
    // Within bounds: allowed.
    const renamed = await api.patch(`/api/keys/${child.id}`, { name: 'child-2' }, { token: caller.key });
    assert.equal(renamed.status, 200, renamed.text);
    const rotated = await api.post(`/api/keys/${child.id}/rotate`, {}, { token: caller.key });
    assert.equal(rotated.status, 200, rotated.text);
    assert.match(rotated.body.key, /^sk-sy-/);
    // Revoking a broader key stays possible (it gives nothing away), and a session is not bounded at all.
    assert.equal((await api.patch(`/api/keys/${caller.id}`, { allowed_models: null }, { token: owner.access })).status, 200);
    assert.equal((await api.del(`/api/keys/${unrestricted.id}`, { token: caller.key })).status, 200);
  });
});
