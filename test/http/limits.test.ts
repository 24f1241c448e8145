/** Rate limits, concurrency limits and the global gate, through HTTP. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
const json = async (r: Response): Promise<any> => r.json();
let seq = 0;

before(async () => {
  server = await startTestServer();
});
after(async () => server?.stop());

async function newUser(s = server) {
  const reg = await json(await s.request('/api/auth/register', { method: 'POST', json: { email: `limits${++seq}-${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
  return { id: reg.user.id as string, token: reg.access_token as string };
}

async function newKey(token: string, body: Record<string, unknown> = {}, s = server) {
  return json(await s.request('/api/keys', { method: 'POST', json: { name: 'k', ...body }, headers: { authorization: `Bearer ${token}` } }));
}

const chat = (key: string, s = server, content = 'hi') =>
  fetch(`${s.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content }] }),
  });

/** `x-ratelimit-reset-*` values (`250ms`, `12.5s`, `1m3s`) in seconds. */
function parseReset(v: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(v);
  assert.ok(m && v, `reset header ${v}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 1000;
}

describe('requests per minute', () => {
  it('the free plan allows 20 per minute, reports it on every response, then answers 429 with Retry-After', async () => {
    const u = await newUser();
    const k = await newKey(u.token);
    const remaining: number[] = [];
    const windowOpened = Date.now();
    for (let i = 0; i < 20; i++) {
      const r = await chat(k.key);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '20');
      remaining.push(Number(r.headers.get('x-ratelimit-remaining-requests')));
      assert.match(r.headers.get('x-ratelimit-reset-requests')!, /^\d+(\.\d+)?(ms|s)$|^\d+m\d+s$/);
    }
    assert.deepEqual(remaining, Array.from({ length: 20 }, (_, i) => 19 - i));
    const refused = await chat(k.key);
    assert.equal(refused.status, 429);
    // Exact: the window opened with the first request and lasts 60 s; Retry-After is the rest of it, rounded
    // up to a whole second, and agrees with the reset header on the same answer.
    const elapsedS = (Date.now() - windowOpened) / 1000;
    const retry = Number(refused.headers.get('retry-after'));
    const resetS = parseReset(refused.headers.get('x-ratelimit-reset-requests')!);
    assert.equal(retry, Math.max(1, Math.ceil(resetS - 0.0005)), `Retry-After ${retry} vs reset ${resetS}s`);
    assert.ok(resetS <= 60 && resetS >= 60 - elapsedS - 0.01, `reset ${resetS}s after ${elapsedS}s of the window`);
    assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
    const body = await json(refused);
    assert.equal(body.error.type, 'rate_limit_error');
    assert.equal(body.error.code, 'rate_limit_exceeded');
    // The limit is the user's: another key of the same user is refused too.
    const other = await newKey(u.token);
    assert.equal((await chat(other.key)).status, 429);
  });

  it('a key limit narrows the user limit', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { rpm: 3 } });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(k.key)).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const free = await newKey(u.token);
    assert.equal((await chat(free.key)).status, 200, 'the user still has room');
  });

  it('admin custom limits replace the plan and apply on the next request', async () => {
    const u = await newUser();
    const k = await newKey(u.token);
    assert.equal((await server.request(`/api/admin/users/${u.id}`, { method: 'PATCH', json: { limits: { rpm: 2 } } })).status, 200);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat(k.key)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.equal((await server.request(`/api/admin/users/${u.id}`, { method: 'PATCH', json: { limits: { rpm: 1000 } } })).status, 200);
    assert.equal((await chat(k.key)).status, 200, 'raising the limit takes effect at once');
    const limited = await chat(k.key);
    assert.equal(limited.headers.get('x-ratelimit-limit-requests'), '1000');
  });

  it('requests per day', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { rpd: 2 } });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat(k.key)).status);
    assert.deepEqual(statuses, [200, 200, 429]);
  });
});

describe('custom limits and limit changes', () => {
  const patchLimits = (id: string, limits: Record<string, number>) => server.request(`/api/admin/users/${id}`, { method: 'PATCH', json: { limits } });

  it('custom limits without rpm keep the plan rpm (fields are merged, not replaced)', async () => {
    const u = await newUser();
    const k = await newKey(u.token);
    assert.equal((await patchLimits(u.id, { tpm: 100_000 })).status, 200);
    const r = await chat(k.key);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '20', "the free plan's rpm still applies");
    assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '100000');
  });

  it('lowering a limit keeps what was already used in the window', async () => {
    const u = await newUser();
    const k = await newKey(u.token);
    assert.equal((await patchLimits(u.id, { rpm: 5 })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await chat(k.key)).status, 200);
    assert.equal((await patchLimits(u.id, { rpm: 3 })).status, 200);
    const refused = await chat(k.key);
    assert.equal(refused.status, 429, 'three of three already used');
    assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '3');
    assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.equal((await patchLimits(u.id, { rpm: 4 })).status, 200);
    const ok = await chat(k.key);
    assert.equal(ok.status, 200, 'refused requests were not counted');
    assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '0');
  });

  it('a key limit change keeps its count too', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { rpm: 10 } });
    for (let i = 0; i < 2; i++) assert.equal((await chat(k.key)).status, 200);
    const patched = await server.request(`/api/keys/${k.id}`, { method: 'PATCH', json: { limits: { rpm: 2 } }, headers: { authorization: `Bearer ${u.token}` } });
    assert.equal(patched.status, 200);
    assert.equal((await chat(k.key)).status, 429);
  });

  it('an admin can reset the counters through the caches endpoint', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { rpm: 1 } });
    assert.equal((await chat(k.key)).status, 200);
    assert.equal((await chat(k.key)).status, 429);
    const names = (await json(await server.request('/api/admin/caches'))).data.map((c: any) => c.name);
    assert.ok(names.includes('rate_limits'), names.join(','));
    const cleared = await server.request('/api/admin/caches/clear', { method: 'POST', json: { names: ['rate_limits'] } });
    assert.equal(cleared.status, 200);
    assert.deepEqual((await json(cleared)).cleared, ['rate_limits']);
    assert.equal((await chat(k.key)).status, 200, 'a fresh window');
  });
});

describe('tokens per minute', () => {
  it('counts real tokens after the response and refuses once the budget is used', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { tpm: 60 } });
    const long = 'word '.repeat(20);
    const first = await chat(k.key, server, long);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit-tokens'), '60');
    const used = (await json(first)).usage.total_tokens;
    assert.ok(used > 30, `used ${used}`);
    const second = await chat(k.key, server, long);
    assert.equal(second.status, 429, 'the first answer consumed the budget');
    assert.match((await json(second)).error.message, /tokens per minute/);
  });

  it('a request larger than the whole tokens-per-minute limit is a 413, not a 429 to retry', async () => {
    const u = await newUser();
    const k = await newKey(u.token, { limits: { tpm: 50 } });
    const big = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100 }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('retry-after'), null);
    const body = await json(big);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.code, 'request_too_large');
    assert.match(body.error.message, /tokens-per-minute limit/);
    assert.equal((await chat(k.key)).status, 200, 'nothing was consumed');
  });
});

describe('concurrency', () => {
  it('max_concurrency per key refuses the extra request with 429', async () => {
    const slow = await startTestServer({ mockLatencyMs: 400 });
    try {
      const u = await newUser(slow);
      const k = await newKey(u.token, { limits: { max_concurrency: 1 } }, slow);
      const [a, b] = await Promise.all([chat(k.key, slow), new Promise((r) => setTimeout(r, 100)).then(() => chat(k.key, slow))]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 429);
      assert.equal((await json(b)).error.code, 'concurrency_limit_exceeded');
      assert.equal(b.headers.get('x-ratelimit-limit-requests'), '20', 'rate-limit headers on the concurrency 429 too');
      assert.equal(b.headers.get('x-ratelimit-remaining-requests'), '19', 'the refused request is not counted');
      assert.equal((await chat(k.key, slow)).status, 200, 'the slot is free again');
    } finally {
      await slow.stop();
    }
  });

  it('the global gate queues, then answers 503 with Retry-After; diagnostics show it', async () => {
    const gated = await startTestServer({ mockLatencyMs: 500, gate: { maxInFlight: 1, maxQueue: 1, queueTimeoutMs: 5000 } });
    try {
      const admin = (path: string) => gated.request(path);
      const send = () => gated.request('/v1/chat/completions', { method: 'POST', json: { model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] } });
      const first = send();
      await new Promise((r) => setTimeout(r, 100));
      const second = send(); // queued
      await new Promise((r) => setTimeout(r, 100));
      const diag = await json(await admin('/api/admin/diagnostics'));
      assert.equal(diag.gate.in_flight, 1);
      assert.equal(diag.gate.queued, 1);
      const third = await send(); // queue full
      assert.equal(third.status, 503);
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
      assert.equal((await json(third)).error.code, 'gateway_overloaded');
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200, 'the queued request ran when the slot freed');
      const health = await fetch(`${gated.url}/health`);
      assert.equal(health.status, 200, 'ops routes are never behind the gate');
      const after = await json(await admin('/api/admin/diagnostics'));
      assert.equal(after.gate.in_flight, 0);
      assert.equal(after.gate.rejected_total, 1);
    } finally {
      await gated.stop();
    }
  });

  it('a queued request times out with 503', async () => {
    const gated = await startTestServer({ mockLatencyMs: 800, gate: { maxInFlight: 1, maxQueue: 5, queueTimeoutMs: 200 } });
    try {
      const send = () => gated.request('/v1/chat/completions', { method: 'POST', json: { model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] } });
      const first = send();
      await new Promise((r) => setTimeout(r, 100));
      const second = await send();
      assert.equal(second.status, 503);
      assert.equal((await first).status, 200);
    } finally {
      await gated.stop();
    }
  });
});

describe('diagnostics', () => {
  it('is admin only', async () => {
    assert.equal((await fetch(`${server.url}/api/admin/diagnostics`)).status, 401);
    const u = await newUser();
    assert.equal((await fetch(`${server.url}/api/admin/diagnostics`, { headers: { authorization: `Bearer ${u.token}` } })).status, 403);
    const d = await json(await server.request('/api/admin/diagnostics'));
    assert.deepEqual(d.limits.tier_rpm, { free: 20, pro: 60, power: 120, team: 200 });
  });
});
