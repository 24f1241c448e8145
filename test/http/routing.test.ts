/**
 * Routing and resilience with scripted fake upstreams: failover, retries, circuit breakers, weighted and
 * least-latency strategies, and OpenRouter-style per-request preferences.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { fakeAnthropic } from '../support/fake-anthropic.ts';

const fakes: Record<string, FakeUpstream> = {};
let server: TestServer;
const json = async (r: Response): Promise<any> => r.json();
const answer = (name: string) => scripted(fakeOpenAI, () => ({ text: `from ${name}`, usage: { input: 5, output: 5 } }));

before(async () => {
  for (const name of ['east', 'west', 'cheap', 'pricey', 'slow', 'fast', 'flaky']) fakes[name] = await startFakeUpstream(answer(name));
  fakes.claude = await startFakeUpstream(scripted(fakeAnthropic, () => ({ text: 'from claude', usage: { input: 5, output: 5 } })));
  const provider = (id: string, extra = {}) => ({ id, type: 'openai' as const, base_url: fakes[id].url, api_key: 'k', headers: {}, ...extra });
  server = await startTestServer({
    providers: [
      provider('east'),
      provider('west'),
      provider('cheap'),
      provider('pricey'),
      provider('slow'),
      provider('fast'),
      provider('flaky'),
      { id: 'dead', type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'k', headers: {} },
      { id: 'claude', type: 'anthropic', base_url: fakes.claude.url, api_key: 'k', headers: {} },
    ],
    prices: {
      'cheap/m': { input: 0.1, output: 0.2 },
      'pricey/m': { input: 5, output: 15 },
      'east/m': { input: 1, output: 2 },
      'west/m': { input: 1, output: 2 },
    },
    models: [
      { id: 'team/chat', strategy: 'fallback', deployments: [{ provider: 'dead', model: 'm', weight: 1 }, { provider: 'east', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/weighted', strategy: 'weighted', deployments: [{ provider: 'east', model: 'm', weight: 3 }, { provider: 'west', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/latency', strategy: 'least-latency', deployments: [{ provider: 'slow', model: 'm', weight: 1 }, { provider: 'fast', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/price', strategy: 'fallback', deployments: [{ provider: 'pricey', model: 'm', weight: 1 }, { provider: 'cheap', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/flaky', strategy: 'fallback', deployments: [{ provider: 'flaky', model: 'm', weight: 1 }, { provider: 'west', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/only-flaky', strategy: 'fallback', deployments: [{ provider: 'flaky', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/mixed', strategy: 'fallback', deployments: [{ provider: 'claude', model: 'm', weight: 1 }, { provider: 'east', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/claude-only', strategy: 'fallback', deployments: [{ provider: 'claude', model: 'm', weight: 1 }], fallbacks: [] },
      { id: 'team/quick', strategy: 'fallback', deployments: [{ provider: 'slow', model: 'q', weight: 1 }], fallbacks: [], timeouts: { first_byte_ms: 100 } },
    ],
    upstream: { maxAttempts: 2, firstByteTimeoutMs: 800, streamIdleTimeoutMs: 2000, totalTimeoutMs: 10_000 },
    breakers: { windowMs: 10_000, minRequests: 3, failureRate: 0.5, openMs: 400, maxOpenMs: 2000, halfOpenProbes: 1 },
  });
});

after(async () => {
  await server?.stop();
  for (const f of Object.values(fakes)) await f.close();
});

const ask = (model: string, extra: Record<string, unknown> = {}) =>
  server.request('/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content: 'hi' }], ...extra } });

describe('failover and retries', () => {
  it('a deployment whose API cannot honour a parameter (n > 1 on Anthropic) is skipped for one that can', async () => {
    const before = fakes.claude.requests.length;
    const res = await ask('team/mixed', { n: 2 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-provider'), 'east');
    assert.equal(fakes.claude.requests.length, before, 'Anthropic was never called');
    // Without n, the first deployment serves as usual.
    const plain = await ask('team/mixed');
    assert.equal(plain.headers.get('x-switchyard-provider'), 'claude');
    // When no deployment can, the client hears why, naming the parameter.
    const refused = await ask('team/claude-only', { n: 2 });
    assert.equal(refused.status, 400);
    const body = await json(refused);
    assert.deepEqual([body.error.code, body.error.param], ['unsupported_parameter', 'n']);
  });

  it('a refused connection fails over; the client sees one clean answer', async () => {
    const res = await ask('team/chat');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-provider'), 'east');
    assert.equal((await json(res)).choices[0].message.content, 'from east');
  });

  it('a first-byte timeout fails over', async () => {
    fakes.east.setHandler(() => ({ hang: true }));
    try {
      const res = await ask('team/weighted');
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-switchyard-provider'), 'west');
    } finally {
      fakes.east.setHandler(answer('east'));
    }
  });

  it('retries the same deployment after backoff, honouring Retry-After', async () => {
    let calls = 0;
    fakes.flaky.setHandler((req) => (++calls === 1 ? { ...fakeOpenAI.error(429, 'slow down'), headers: { 'retry-after': '1' } } : answer('flaky')(req)));
    try {
      const t0 = Date.now();
      const res = await ask('team/only-flaky');
      assert.equal(res.status, 200);
      assert.equal(calls, 2);
      assert.ok(Date.now() - t0 >= 900, 'waited for Retry-After');
    } finally {
      fakes.flaky.setHandler(answer('flaky'));
    }
  });

  it('per-model timeouts override the global ones', async () => {
    fakes.slow.setHandler((req) => (req.body?.model === 'q' ? { hang: true } : answer('slow')(req)));
    try {
      const t0 = Date.now();
      const res = await ask('team/quick');
      assert.equal(res.status, 504);
      // Two attempts at the route's 100 ms, well under the global 800 ms first-byte timeout.
      assert.ok(Date.now() - t0 < 1500, `took ${Date.now() - t0} ms`);
    } finally {
      fakes.slow.setHandler(answer('slow'));
    }
  });

  it('does not retry a 400: the provider message passes through', async () => {
    const before = fakes.flaky.requests.length;
    fakes.flaky.setHandler(() => fakeOpenAI.error(400, 'your prompt is bad'));
    try {
      const res = await ask('team/only-flaky');
      assert.equal(res.status, 400);
      assert.match((await json(res)).error.message, /your prompt is bad/);
      assert.equal(fakes.flaky.requests.length - before, 1);
    } finally {
      fakes.flaky.setHandler(answer('flaky'));
    }
  });

  it('never retries once streaming began', async () => {
    const before = fakes.flaky.requests.length;
    fakes.flaky.setHandler(scripted(fakeOpenAI, () => ({ text: 'one two three four five six', cutAfter: 3, chunkDelayMs: 5 })));
    try {
      const res = await ask('team/flaky', { stream: true });
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(text, /"error"/);
      assert.equal(fakes.flaky.requests.length - before, 1, 'one upstream call');
      assert.equal(fakes.west.requests.filter((r) => r.body?.stream).length, 0, 'no failover after the first byte');
    } finally {
      fakes.flaky.setHandler(answer('flaky'));
    }
  });
});

describe('circuit breakers', () => {
  it('open after the threshold, skip the deployment, probe half-open, then close', async () => {
    const id = encodeURIComponent('flaky/m');
    await server.request('/api/admin/circuit-breakers/reset', { method: 'POST' });
    fakes.flaky.setHandler(() => fakeOpenAI.error(503, 'down'));
    for (let i = 0; i < 3; i++) assert.equal((await ask('team/flaky')).headers.get('x-switchyard-provider'), 'west');
    let b = await json(await server.request(`/api/admin/circuit-breakers/${id}`));
    assert.equal(b.state, 'open');
    assert.equal(b.trips, 1);
    const before = fakes.flaky.requests.length;
    assert.equal((await ask('team/flaky')).headers.get('x-switchyard-provider'), 'west');
    assert.equal(fakes.flaky.requests.length, before, 'open breaker: flaky was skipped');
    // All deployments open: fail fast with 503.
    const fast = await ask('team/only-flaky');
    assert.equal(fast.status, 503);
    assert.equal((await json(fast)).error.code, 'all_deployments_unavailable');
    assert.ok(Number(fast.headers.get('retry-after')) >= 1);
    // After the open period a probe goes through; it fails: open again, for longer.
    await new Promise((r) => setTimeout(r, 450));
    assert.equal((await ask('team/flaky')).headers.get('x-switchyard-provider'), 'west');
    assert.equal(fakes.flaky.requests.length, before + 1, 'one half-open probe');
    b = await json(await server.request(`/api/admin/circuit-breakers/${id}`));
    assert.equal(b.state, 'open');
    assert.equal(b.trips, 2);
    // Recovery: the next probe succeeds and closes it.
    fakes.flaky.setHandler(answer('flaky'));
    await new Promise((r) => setTimeout(r, 850));
    assert.equal((await ask('team/flaky')).headers.get('x-switchyard-provider'), 'flaky');
    b = await json(await server.request(`/api/admin/circuit-breakers/${id}`));
    assert.equal(b.state, 'closed');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /circuit_breaker_state\{deployment="flaky\/m"\} 0/);
    assert.match(metrics, /circuit_breaker_transitions_total\{deployment="flaky\/m",to="open"\} 2/);
  });

  it('admin reset closes a breaker and is audited; unknown ids 404; non-admins refused', async () => {
    fakes.flaky.setHandler(() => fakeOpenAI.error(503, 'down'));
    for (let i = 0; i < 3; i++) await ask('team/flaky');
    fakes.flaky.setHandler(answer('flaky'));
    const id = encodeURIComponent('flaky/m');
    assert.equal((await json(await server.request(`/api/admin/circuit-breakers/${id}`))).state, 'open');
    const reset = await server.request(`/api/admin/circuit-breakers/${id}/reset`, { method: 'POST' });
    assert.equal(reset.status, 200);
    assert.equal((await json(reset)).state, 'closed');
    assert.equal((await ask('team/flaky')).headers.get('x-switchyard-provider'), 'flaky');
    assert.equal((await server.request(`/api/admin/circuit-breakers/${encodeURIComponent('nope/x')}`)).status, 404);
    assert.equal((await fetch(`${server.url}/api/admin/circuit-breakers`)).status, 401);
    const audit = await json(await server.request('/api/admin/audit?action=admin.breaker_reset'));
    assert.equal(audit.data[0].target_id, 'flaky/m');
    const list = await json(await server.request('/api/admin/circuit-breakers'));
    assert.ok(list.data.some((b: any) => b.id === 'east/m' && b.performance.samples > 0));
  });
});

describe('strategies', () => {
  it('weighted: traffic splits by weight within tolerance', async () => {
    const before = { east: fakes.east.requests.length, west: fakes.west.requests.length };
    const n = 300;
    for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: 20 }, () => ask('team/weighted')));
    const east = fakes.east.requests.length - before.east;
    const west = fakes.west.requests.length - before.west;
    assert.equal(east + west, n);
    const share = east / n;
    assert.ok(share > 0.65 && share < 0.85, `east share ${share} (expected ~0.75)`);
  });

  it('least-latency prefers the faster upstream once measured', async () => {
    fakes.slow.setHandler((req) => ({ ...(answer('slow')(req) as object), delayMs: 120 }) as never);
    for (let i = 0; i < 4; i++) await ask('team/latency'); // both get measured while unknown ones rank first
    const before = fakes.fast.requests.length;
    for (let i = 0; i < 10; i++) assert.equal((await ask('team/latency')).status, 200);
    assert.equal(fakes.fast.requests.length - before, 10);
  });
});

describe('per-request preferences', () => {
  it('`models` is an ordered fallback list', async () => {
    const res = await ask('dead/m', { models: ['team/price'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-provider'), 'pricey');
    const sent = fakes.pricey.requests.at(-1)!.body;
    assert.equal(sent.models, undefined, 'routing fields never reach the upstream');
    assert.equal(sent.provider, undefined);
  });

  it('provider.sort=price and the :floor suffix pick the cheapest; max_price filters', async () => {
    assert.equal((await ask('team/price', { provider: { sort: 'price' } })).headers.get('x-switchyard-provider'), 'cheap');
    assert.equal((await ask('team/price:floor')).headers.get('x-switchyard-provider'), 'cheap');
    assert.equal((await ask('team/price', { provider: { max_price: { prompt: 1 } } })).headers.get('x-switchyard-provider'), 'cheap');
    const none = await ask('team/price', { provider: { max_price: { prompt: 0.01 } } });
    assert.equal(none.status, 404);
    assert.equal((await json(none)).error.code, 'no_eligible_deployment');
  });

  it('provider.order / only / ignore / allow_fallbacks', async () => {
    assert.equal((await ask('team/price', { provider: { order: ['cheap'] } })).headers.get('x-switchyard-provider'), 'cheap');
    assert.equal((await ask('team/price', { provider: { only: ['cheap'] } })).headers.get('x-switchyard-provider'), 'cheap');
    assert.equal((await ask('team/price', { provider: { ignore: ['pricey'] } })).headers.get('x-switchyard-provider'), 'cheap');
    fakes.cheap.setHandler(() => fakeOpenAI.error(503, 'down'));
    try {
      assert.equal((await ask('team/price', { provider: { order: ['cheap'] } })).headers.get('x-switchyard-provider'), 'pricey', 'falls back by default');
      assert.equal((await ask('team/price', { provider: { order: ['cheap'], allow_fallbacks: false } })).status, 502);
    } finally {
      fakes.cheap.setHandler(answer('cheap'));
      await server.request(`/api/admin/circuit-breakers/${encodeURIComponent('cheap/m')}/reset`, { method: 'POST' });
    }
  });

  it('rejects malformed preferences with 400 (wrong types on the fields it acts on)', async () => {
    for (const extra of [
      { provider: { sort: 'vibes' } },
      { provider: { sort: { by: 'vibes' } } },
      { provider: { sort: { by: 'price', partition: 'sideways' } } },
      { provider: { order: 'cheap' } },
      { provider: { allow_fallbacks: 'no' } },
      { provider: { max_price: { prompt: -1 } } },
      { provider: { max_price: { completion: 'cheap' } } },
      { models: 'x' },
    ]) {
      assert.equal((await ask('team/price', extra)).status, 400, JSON.stringify(extra));
    }
  });

  it('accepts the rest of OpenRouter\'s provider object (ignored) and the object form of sort', async () => {
    const res = await ask('team/price', {
      provider: {
        sort: { by: 'price', partition: 'model' },
        require_parameters: true,
        data_collection: 'deny',
        zdr: true,
        enforce_distillable_text: false,
        quantizations: ['fp8', 'bf16'],
        preferred_min_throughput: { p90: 50 },
        preferred_max_latency: 2,
        max_price: { prompt: 1, completion: 5, request: 0.01, image: 0.1 },
        some_future_field: { x: 1 },
      },
    });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.equal(res.headers.get('x-switchyard-provider'), 'cheap');
    assert.equal(fakes.cheap.requests.at(-1)!.body.provider, undefined, 'never sent upstream');
  });

  it('sorting never puts a `models` fallback ahead of the requested model', async () => {
    const res = await ask('pricey/m', { models: ['cheap/m'], provider: { sort: 'price' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-provider'), 'pricey');
    const floor = await ask('pricey/m:floor', { models: ['cheap/m'] });
    assert.equal(floor.headers.get('x-switchyard-provider'), 'pricey');
  });

  it('a :floor suffix inside `models` is honoured, not skipped', async () => {
    const res = await ask('dead/m', { models: ['team/price:floor'] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-provider'), 'cheap', 'team/price sorted by price');
  });

  it(':nitro and sort: latency use the measured performance', async () => {
    fakes.slow.setHandler((req) => ({ ...(answer('slow')(req) as object), delayMs: 150 }) as never);
    try {
      // team/latency lists slow first; measure both.
      for (let i = 0; i < 4; i++) await ask('team/latency', { provider: { sort: 'latency' } });
      assert.equal((await ask('team/latency', { provider: { sort: 'latency' } })).headers.get('x-switchyard-provider'), 'fast');
      const nitro = await ask('team/latency:nitro');
      assert.equal(nitro.status, 200);
      assert.equal(nitro.headers.get('x-switchyard-provider'), 'fast');
    } finally {
      fakes.slow.setHandler(answer('slow'));
    }
  });

  it('reasoning_effort accepts none and xhigh', async () => {
    for (const effort of ['none', 'xhigh']) {
      const res = await ask('cheap/m', { reasoning_effort: effort });
      assert.equal(res.status, 200, effort);
      assert.equal(fakes.cheap.requests.at(-1)!.body.reasoning_effort, effort, 'passed through to OpenAI-compatible upstreams');
    }
    assert.equal((await ask('cheap/m', { reasoning_effort: 'maximum' })).status, 400);
  });
});
