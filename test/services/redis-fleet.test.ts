/**
 * Two instances sharing one PostgreSQL schema and one Redis: limits, key revocation, credit reservations
 * and circuit breakers hold across the fleet. Runs in `npm run test:services` (real PostgreSQL and Redis).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';

const PG = process.env.TEST_DATABASE_URL;
const REDIS = process.env.TEST_REDIS_URL;
const skip = !PG || !REDIS ? 'needs TEST_DATABASE_URL and TEST_REDIS_URL' : false;

let a: TestServer & { schema?: string };
let b: TestServer;
let upstream: FakeUpstream;
const json = async (r: Response): Promise<any> => r.json();
const answer = scripted(fakeOpenAI, () => ({ text: 'fleet answer', usage: { input: 10, output: 50 } }));

describe('a fleet of two instances on one Redis', { skip }, () => {
  before(async () => {
    // A clean Redis namespace for this run: rate-limit and credit keys are shared by design.
    const r = createClient({ url: REDIS });
    await r.connect();
    await r.flushDb();
    await r.quit();
    upstream = await startFakeUpstream(answer);
    a = await startTestServer(fleetOverrides());
    b = await startTestServer(fleetOverrides(), {}, { schema: a.schema });
  });

  function fleetOverrides() {
    return {
      redisUrl: REDIS,
      anonymous: { enabled: true, models: ['mock/echo'], rpm: 2 },
      credits: { mode: 'prepaid' as const, chargeFlushIntervalMs: 20 },
      providers: [{ id: 'up', type: 'openai' as const, base_url: upstream.url, api_key: 'k', headers: {} }],
      prices: { 'up/m': { input: 1, output: 2 } },
      models: [{ id: 'fleet/flaky', strategy: 'fallback' as const, deployments: [{ provider: 'up', model: 'breaker-test', weight: 1 }], fallbacks: [] }],
      breakers: { windowMs: 10_000, minRequests: 3, failureRate: 0.5, openMs: 5000, maxOpenMs: 5000, halfOpenProbes: 1 },
      upstream: { maxAttempts: 1, firstByteTimeoutMs: 2000, streamIdleTimeoutMs: 2000, totalTimeoutMs: 10_000 },
    };
  }

  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
  });

  async function userWithKey(limits?: Record<string, unknown>) {
    const reg = await json(await a.request('/api/auth/register', { method: 'POST', json: { email: `fleet${Date.now()}${Math.random()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
    const key = await json(await a.request('/api/keys', { method: 'POST', json: { name: 'fleet', ...(limits ? { limits } : {}) }, headers: { authorization: `Bearer ${reg.access_token}` } }));
    return { id: reg.user.id as string, token: reg.access_token as string, key: key.key as string, keyId: key.id as string };
  }

  const chat = (s: TestServer, key: string, model = 'up/m') =>
    fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }) });

  it('shares the anonymous per-IP limit, and an admin clearing it on one instance clears it for both', async () => {
    const anon = (s: TestServer) =>
      fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] }) });
    const statuses = [(await anon(a)).status, (await anon(b)).status, (await anon(a)).status, (await anon(b)).status];
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const cleared = await a.request('/api/admin/caches/clear', { method: 'POST', json: { names: ['rate_limits'] } });
    assert.equal(cleared.status, 200);
    assert.equal((await anon(b)).status, 200);
  });

  it('enforces one combined rate limit across both instances', async () => {
    const u = await userWithKey({ rpm: 6 });
    await a.request('/api/admin/credits/add', { method: 'POST', json: { user_id: u.id, amount_usd: 1, reason: 'fleet credit grant' } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await chat(i % 2 ? b : a, u.key)).status);
    assert.equal(statuses.filter((s) => s === 200).length, 6, `statuses ${statuses}`);
    assert.ok(statuses.slice(6).every((s) => s === 429));
  });

  it('counts real tokens per minute across both instances, and a refused request takes nothing', async () => {
    // Each answer uses 60 tokens (10 in, 50 out); admission estimates the prompt plus max_tokens (50).
    const u = await userWithKey({ rpm: 5, tpm: 200 });
    await a.request('/api/admin/credits/add', { method: 'POST', json: { user_id: u.id, amount_usd: 1, reason: 'fleet credit grant' } });
    const remaining: string[] = [];
    for (const s of [a, b, a]) {
      const res = await chat(s, u.key);
      assert.equal(res.status, 200);
      remaining.push(res.headers.get('x-ratelimit-remaining-requests')!);
    }
    assert.deepEqual(remaining, ['4', '3', '2']);
    await new Promise((r) => setTimeout(r, 50)); // the corrections are fire and forget
    // 180 real tokens used: the next estimate does not fit in 200.
    const refused = await chat(b, u.key);
    const body = await json(refused);
    assert.equal(refused.status, 429, JSON.stringify(body));
    assert.match(body.error.message, /200 tokens per minute for this API key/);
    assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '2', 'the refused request gave its request back');
    assert.equal(refused.headers.get('x-ratelimit-remaining-tokens'), '0');
  });

  it('a key revoked on one instance stops working on the other at once', async () => {
    const u = await userWithKey();
    await a.request('/api/admin/credits/add', { method: 'POST', json: { user_id: u.id, amount_usd: 1, reason: 'fleet credit grant' } });
    assert.equal((await chat(b, u.key)).status, 200, 'b has the key cached');
    assert.equal((await a.request(`/api/keys/${u.keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${u.token}` } })).status, 200);
    let status = 0;
    for (let i = 0; i < 50; i++) {
      status = (await chat(b, u.key)).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(status, 401);
  });

  it('shares credit reservations: two instances cannot spend the same dollar', async () => {
    const u = await userWithKey({ rpm: 100_000 });
    await a.request(`/api/admin/users/${u.id}`, { method: 'PATCH', json: { limits: { rpm: 100_000 } } });
    // 110 micro-USD per request: room for about 20.
    await a.request('/api/admin/credits/add', { method: 'POST', json: { user_id: u.id, amount_usd: 0.0023, reason: 'fleet credit grant' } });
    const results = await Promise.all(Array.from({ length: 80 }, (_, i) => chat(i % 2 ? b : a, u.key).then((r) => r.status)));
    const ok = results.filter((s) => s === 200).length;
    assert.ok(results.every((s) => s === 200 || s === 402), `statuses ${[...new Set(results)]}`);
    await a.services.charges.flush();
    await b.services.charges.flush();
    const acct = await a.services.ledger.account({ type: 'user', id: u.id });
    const check = await a.services.ledger.verify(acct.id);
    assert.ok(check.ok);
    assert.ok(check.balance >= 0n, `never overspent: ${check.balance}`);
    assert.equal(check.balance, 2_300_000_000n - BigInt(ok) * 110_000_000n);
  });

  it('a breaker opened on one instance is open on the other', async () => {
    upstream.setHandler(() => fakeOpenAI.error(503, 'down'));
    try {
      const id = encodeURIComponent('up/breaker-test');
      for (let i = 0; i < 3; i++) await a.request('/v1/chat/completions', { method: 'POST', json: { model: 'fleet/flaky', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal((await json(await a.request(`/api/admin/circuit-breakers/${id}`))).state, 'open');
      let state = '';
      for (let i = 0; i < 50 && state !== 'open'; i++) {
        const r = await b.request(`/api/admin/circuit-breakers/${id}`);
        state = r.status === 200 ? (await json(r)).state : '';
        if (state !== 'open') await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(state, 'open');
      const res = await b.request('/v1/chat/completions', { method: 'POST', json: { model: 'fleet/flaky', messages: [{ role: 'user', content: 'x' }] } });
      assert.equal(res.status, 503, 'b fails fast without calling the upstream');

      // An instance that starts after the trip learns it from Redis, not from failed live traffic.
      const c = await startTestServer(fleetOverrides(), {}, { schema: a.schema });
      try {
        assert.equal((await json(await c.request(`/api/admin/circuit-breakers/${id}`))).state, 'open');
        const before = upstream.requests.length;
        const late = await c.request('/v1/chat/completions', { method: 'POST', json: { model: 'fleet/flaky', messages: [{ role: 'user', content: 'x' }] } });
        assert.equal(late.status, 503);
        assert.equal(upstream.requests.length, before, 'the new instance did not call the open deployment');
      } finally {
        await c.stop();
      }
      // A reset closes it in the store too: the next instance starts with it closed.
      const reset = await a.request(`/api/admin/circuit-breakers/${id}/reset`, { method: 'POST' });
      assert.equal(reset.status, 200, await reset.text());
      const d = await startTestServer(fleetOverrides(), {}, { schema: a.schema });
      try {
        const r = await d.request(`/api/admin/circuit-breakers/${id}`);
        assert.ok(r.status === 404 || (await json(r)).state === 'closed', 'closed after the reset');
      } finally {
        await d.stop();
      }
    } finally {
      upstream.setHandler(answer);
    }
  });
});
