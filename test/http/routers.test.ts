/**
 * Task routers through HTTP and the official OpenAI SDK: router:code answered offline by the mock provider,
 * router:code and router:auto over two fake OpenAI-compatible providers (cheap and pricey), the decision
 * headers, and the /api/routers/code endpoints (tiers, options, dry run, validate, bad input, auth).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { Api, assertBadRequest, assertError } from '../support/identity.ts';

const fakes: Record<string, FakeUpstream> = {};
let offline: TestServer;
let server: TestServer;
let api: Api;
const answer = (name: string) => scripted(fakeOpenAI, () => ({ text: `from ${name}`, usage: { input: 5, output: 5 } }));

const SIMPLE = 'hi there, how are you today?';
const CODE = 'Write a Python function that parses an ISO 8601 date string and returns a datetime object.';
const HARD =
  'Design a distributed, scalable architecture for our payment service: sharding, consensus, idempotent retries, ' +
  'zero-downtime migrations and race conditions across microservices in src/payments/*.ts, src/ledger.ts and src/queue.ts.';
const BUG = 'Fix this bug:\n```js\nconst total = order.items.reduce((s, i) => s + i.price);\n```\nTypeError: Cannot read properties of undefined\n    at sum (/app/src/cart.js:10:5)';

before(async () => {
  for (const name of ['cheap', 'pricey']) fakes[name] = await startFakeUpstream(answer(name));
  const provider = (id: string) => ({ id, type: 'openai' as const, base_url: fakes[id].url, api_key: 'k', headers: {} });
  // No provider keys at all: only the offline mock provider is enabled.
  offline = await startTestServer();
  server = await startTestServer({
    providers: [provider('cheap'), provider('pricey')],
    prices: { 'cheap/m': { input: 0.1, output: 0.2 }, 'pricey/m': { input: 5, output: 15 } },
    routers: {
      // "mid" is empty: tasks that want it fall back to a neighbouring tier.
      tiers: [
        { id: 'top', models: [{ id: 'pricey/m', score: 95, strengths: ['architecture'] }] },
        { id: 'mid', models: [] },
        { id: 'low', models: [{ id: 'cheap/m', score: 60 }, { id: 'mock/echo', score: 1, tools: false }] },
      ],
      modes: {
        balanced: { tiers: { low: 'low', medium: 'mid', high: 'top' } },
        price: { tiers: { low: 'low', medium: 'low', high: 'mid' } },
        quality: { tiers: { low: 'mid', medium: 'top', high: 'top' } },
        agentic: { tiers: { low: 'top', medium: 'top', high: 'top' } },
      },
      category_min_tier: { architecture: 'top', debugging: 'mid', review: 'mid', refactoring: 'mid' },
      auto: { cheap: ['cheap/m'], strong: ['pricey/m'] },
    },
  });
  api = new Api(server.url, server.services);
});

after(async () => {
  await offline?.stop();
  await server?.stop();
  for (const f of Object.values(fakes)) await f.close();
});

const chat = (s: TestServer, model: string, content: string, extra: Record<string, unknown> = {}) =>
  s.request('/v1/chat/completions', { method: 'POST', json: { model, messages: [{ role: 'user', content }], ...extra } });

describe('router:code with no provider keys (offline mock)', () => {
  it('answers through the OpenAI SDK with the decision in the headers', async () => {
    const { data, response } = await offline
      .openai()
      .chat.completions.create({ model: 'router:code', messages: [{ role: 'user', content: CODE }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, CODE, 'mock/echo answered');
    assert.equal(data.model, 'mock/echo');
    assert.equal(response.headers.get('x-switchyard-router'), 'code:balanced');
    assert.equal(response.headers.get('x-switchyard-router-category'), 'generation');
    assert.match(response.headers.get('x-switchyard-router-complexity') ?? '', /^(low|medium|high)$/);
    assert.equal(response.headers.get('x-switchyard-router-tier'), 'economy');
    assert.equal(response.headers.get('x-switchyard-router-model'), 'mock/echo');
    assert.equal(response.headers.get('x-switchyard-model'), 'mock/echo');
    assert.equal(response.headers.get('x-switchyard-provider'), 'mock');
    const savings = Number(response.headers.get('x-switchyard-router-savings'));
    assert.ok(savings > 0 && savings < 100, `mock ($1/$2) is cheaper than gpt-4o: ${savings}`);
    const metrics = await (await fetch(`${offline.url}/metrics`)).text();
    assert.match(metrics, /^router_decisions_total\{router="code:balanced",category="generation",tier="economy",fallback="[a-z_]+"\} [1-9]/m);
  });

  it('agentic mode picks a tool-capable model and streams', async () => {
    const stream = await offline.openai().chat.completions.create({
      model: 'router:code:agentic',
      messages: [{ role: 'user', content: 'Look up the weather in Paris' }],
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }],
      stream: true,
    });
    let called = '';
    let model = '';
    for await (const chunk of stream) {
      model = chunk.model;
      for (const c of chunk.choices) called += c.delta.tool_calls?.map((t) => t.function?.name ?? '').join('') ?? '';
    }
    assert.equal(model, 'mock/tools');
    assert.equal(called, 'weather');
    const res = await chat(offline, 'router:code:agentic', 'Refactor the module', { stream: true });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-router'), 'code:agentic');
    assert.equal(res.headers.get('x-switchyard-router-model'), 'mock/tools');
    await res.text();
  });

  it('logs the router id as requested and the mock as what served', async () => {
    const res = await offline.request('/v1/chat/completions', { method: 'POST', headers: { 'x-request-id': 'router-log-1' }, json: { model: 'router:code:price', messages: [{ role: 'user', content: SIMPLE }] } });
    assert.equal(res.status, 200);
    await offline.services.requestLog.flush();
    const row = await offline.services.database.db.selectFrom('request_logs').selectAll().where('request_id', '=', 'router-log-1').executeTakeFirstOrThrow();
    assert.equal(row.requested_model, 'router:code:price');
    assert.equal(row.model, 'mock/echo');
    assert.equal(row.provider, 'mock');
  });

  it('works on the Anthropic-compatible /v1/messages too', async () => {
    const res = await offline.request('/v1/messages', { method: 'POST', json: { model: 'router:code:price', max_tokens: 100, messages: [{ role: 'user', content: SIMPLE }] } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-router'), 'code:price');
    assert.equal(res.headers.get('x-switchyard-router-model'), 'mock/echo');
    const body: any = await res.json();
    assert.equal(body.content[0].text, SIMPLE);
  });

  it('an unknown router mode is a 400', async () => {
    const res = await chat(offline, 'router:code:fastest', 'hi');
    assert.equal(res.status, 400);
    const body: any = await res.json();
    assert.equal(body.error.code, 'invalid_router');
    assert.equal(body.error.param, 'model');
    assert.equal((await chat(offline, 'router:general', 'hi')).status, 400);
  });
});

describe('router:code and router:auto over fake providers', () => {
  it('router:auto sends a simple prompt to the cheap model', async () => {
    const { data, response } = await server.openai().chat.completions.create({ model: 'router:auto', messages: [{ role: 'user', content: SIMPLE }] }).withResponse();
    assert.equal(data.choices[0].message.content, 'from cheap');
    assert.equal(response.headers.get('x-switchyard-router'), 'auto');
    assert.equal(response.headers.get('x-switchyard-router-tier'), 'cheap');
    assert.equal(response.headers.get('x-switchyard-router-model'), 'cheap/m');
    assert.equal(response.headers.get('x-switchyard-router-complexity'), 'low');
    assert.equal(response.headers.get('x-switchyard-provider'), 'cheap');
    // gpt-4o ($2.5/$10) against $0.1/$0.2: well over 90% saved.
    assert.ok(Number(response.headers.get('x-switchyard-router-savings')) > 90);
  });

  it('router:auto sends code and hard prompts to the strong model (and says it costs more)', async () => {
    for (const prompt of [CODE, HARD]) {
      const { data, response } = await server.openai().chat.completions.create({ model: 'router:auto', messages: [{ role: 'user', content: prompt }] }).withResponse();
      assert.equal(data.choices[0].message.content, 'from pricey', prompt);
      assert.equal(response.headers.get('x-switchyard-router-tier'), 'strong');
      assert.equal(response.headers.get('x-switchyard-router-model'), 'pricey/m');
      assert.ok(Number(response.headers.get('x-switchyard-router-savings')) < 0, 'dearer than the baseline: negative savings');
    }
  });

  it('billing uses what served: the cheap price for the cheap route', async () => {
    const res = await chat(server, 'router:auto', SIMPLE);
    const body: any = await res.json();
    // 5 input + 5 output tokens at $0.1/$0.2 per million.
    assert.equal(body.usage.cost, (5 * 0.1 + 5 * 0.2) / 1e6);
    assert.equal(body.provider, 'cheap');
  });

  it('router:code picks tiers by mode and complexity from the config override', async () => {
    const cases: [string, string, string, string][] = [
      ['router:code:price', CODE, 'low', 'cheap/m'],
      ['router:code', HARD, 'top', 'pricey/m'],
      ['router:code:quality', CODE, 'top', 'pricey/m'],
    ];
    for (const [model, prompt, tier, served] of cases) {
      const res = await chat(server, model, prompt);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-switchyard-router-tier'), tier, `${model}: ${prompt.slice(0, 30)}`);
      assert.equal(res.headers.get('x-switchyard-router-model'), served);
      assert.equal(res.headers.get('x-switchyard-model'), served);
    }
  });

  it('an empty preferred tier falls back to the next one instead of failing', async () => {
    // A debugging task in balanced mode wants at least "mid", which is empty: the stronger neighbour serves.
    const res = await chat(server, 'router:code', BUG);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-router-category'), 'debugging');
    assert.equal(res.headers.get('x-switchyard-router-tier'), 'top');
    assert.equal(res.headers.get('x-switchyard-provider'), 'pricey');
  });

  it('the request\'s provider preferences still apply', async () => {
    const res = await chat(server, 'router:auto', CODE, { provider: { ignore: ['pricey'] } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-switchyard-router-model'), 'cheap/m');
    assert.equal(res.headers.get('x-switchyard-provider'), 'cheap');
  });

  it('fails over to the next choice when the chosen model\'s upstream is down', async () => {
    fakes.cheap.setHandler(() => fakeOpenAI.error(503, 'down'));
    try {
      const res = await chat(server, 'router:auto', SIMPLE);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-switchyard-router-model'), 'cheap/m', 'the decision');
      assert.equal(res.headers.get('x-switchyard-provider'), 'pricey', 'what served');
    } finally {
      fakes.cheap.setHandler(answer('cheap'));
      await server.request('/api/admin/circuit-breakers/reset', { method: 'POST' });
    }
  });
});

describe('/api/routers/code endpoints', () => {
  it('tiers: models with scores and availability', async () => {
    const res = await offline.request('/api/routers/code/tiers');
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.deepEqual(body.tiers.map((t: any) => t.id), ['premium', 'strong', 'standard', 'economy']);
    const economy = body.tiers.find((t: any) => t.id === 'economy');
    const echo = economy.models.find((m: any) => m.id === 'mock/echo');
    assert.equal(echo.available, true);
    assert.equal(echo.offline, true);
    const gpt = body.tiers[0].models.find((m: any) => m.id.startsWith('openai/'));
    assert.equal(gpt.available, false);
    assert.match(gpt.reason, /OPENAI_API_KEY/);
    assert.ok(gpt.price.input > 0);
    assert.equal(body.baseline.id, 'openai/gpt-4o');
    assert.deepEqual(body.baseline.price, { input: 2.5, output: 10 });
    assert.ok(body.tiers.every((t: any) => t.available === 0), 'no real provider available offline');

    const configured: any = await (await server.request('/api/routers/code/tiers')).json();
    assert.deepEqual(configured.tiers.map((t: any) => [t.id, t.available]), [['top', 1], ['mid', 0], ['low', 1]]);
  });

  it('options: modes, categories, complexity and the auto policy', async () => {
    const body: any = await (await server.request('/api/routers/code/options')).json();
    assert.deepEqual(body.modes.map((m: any) => m.model), ['router:code', 'router:code:price', 'router:code:quality', 'router:code:agentic']);
    assert.equal(body.modes.find((m: any) => m.id === 'agentic').require_tools, true);
    assert.ok(body.categories.some((c: any) => c.id === 'debugging' && c.min_tier === 'mid'));
    assert.deepEqual(body.complexity.map((c: any) => c.id), ['low', 'medium', 'high']);
    assert.deepEqual(body.auto.cheap, ['cheap/m']);
    assert.equal(body.auto.model, 'router:auto');
    assert.ok(body.headers.includes('x-switchyard-router-savings'));
  });

  it('test: a dry run with no upstream call, no metrics and no request log', async () => {
    const metricsBefore = await (await fetch(`${server.url}/metrics`)).text();
    const calls = fakes.cheap.requests.length + fakes.pricey.requests.length;
    const res = await server.request('/api/routers/code/test', { method: 'POST', headers: { 'x-request-id': 'router-dry-1' }, json: { messages: [{ role: 'user', content: BUG }], mode: 'price' } });
    assert.equal(res.status, 200);
    const d: any = await res.json();
    assert.equal(d.model_id, 'router:code:price');
    assert.equal(d.category, 'debugging');
    assert.equal(d.label, 'code:price');
    assert.equal(d.headers['x-switchyard-router'], 'code:price');
    assert.equal(d.headers['x-switchyard-router-model'], d.model);
    assert.ok(d.signals.includes('stack_trace'));
    assert.ok(d.confidence > 0 && d.confidence <= 1);
    assert.equal(d.savings.baseline, 'openai/gpt-4o');
    assert.equal(typeof d.reason, 'string');

    const auto: any = await (await server.request('/api/routers/code/test', { method: 'POST', json: { messages: [{ role: 'user', content: SIMPLE }], mode: 'auto' } })).json();
    assert.equal(auto.model, 'cheap/m');
    assert.equal(auto.tier, 'cheap');

    assert.equal(fakes.cheap.requests.length + fakes.pricey.requests.length, calls, 'no upstream call');
    await server.services.requestLog.flush();
    const rows = await server.services.database.db.selectFrom('request_logs').select('request_id').where('request_id', '=', 'router-dry-1').execute();
    assert.equal(rows.length, 0, 'no request log');
    const inference = (text: string) => text.split('\n').filter((l) => l.startsWith('model_inference_requests_total')).join('\n');
    const metricsAfter = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(inference(metricsAfter), inference(metricsBefore), 'no inference metrics');
    const decisions = (text: string) => text.split('\n').filter((l) => l.startsWith('router_decisions_total')).join('\n');
    assert.equal(decisions(metricsAfter), decisions(metricsBefore), 'no router metrics');
  });

  it('validate: the configuration in effect is valid; problems are listed, never a 500', async () => {
    const ok: any = await (await offline.request('/api/routers/code/validate', { method: 'POST', json: {} })).json();
    assert.equal(ok.valid, true, JSON.stringify(ok.errors));
    assert.ok(ok.warnings.some((w: any) => /not available now/.test(w.message)));
    assert.ok(ok.summary.models > 20);

    const res = await offline.request('/api/routers/code/validate', {
      method: 'POST',
      json: {
        tiers: [
          { id: 'best', models: [{ id: 'openai/gpt-5', score: 150 }, { id: 'nope/ghost', score: 50 }] },
          { id: 'empty', models: [] },
          { id: 'best', models: [{ id: 'openai/gpt-5', score: 10 }] },
          { id: 'cheap', models: [{ id: 'openai/text-embedding-3-small', score: 10 }, { id: 'mock/echo', score: -1 }] },
        ],
        modes: { price: { tiers: { low: 'nowhere' } } },
        baseline: 'nope/baseline',
      },
    });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.valid, false);
    const has = (path: string, re: RegExp) => assert.ok(body.errors.some((e: any) => e.path === path && re.test(e.message)), `${path} ${re}: ${JSON.stringify(body.errors)}`);
    has('tiers.0.models.0.score', /between 0 and 100/);
    has('tiers.0.models.1.id', /unknown model "nope\/ghost"/);
    has('tiers.1.models', /no models/);
    has('tiers.2.id', /duplicate tier/);
    has('tiers.2.models.0.id', /listed twice/);
    has('tiers.3.models.0.id', /embedding/);
    has('tiers.3.models.1.score', /between 0 and 100/);
    has('modes.price.tiers.low', /unknown tier "nowhere"/);
    has('modes.balanced.tiers.low', /unknown tier "economy"/);
    has('baseline', /unknown model/);
  });

  it('bad input is a 400 with the validation message', async () => {
    const post = (path: string, json: unknown) => api.post(path, json, { admin: true });
    assertBadRequest(await post('/api/routers/code/test', { messages: [] }));
    assertBadRequest(await post('/api/routers/code/test', { messages: [{ role: 'user', content: 'x' }], mode: 'fastest' }));
    assertBadRequest(await post('/api/routers/code/test', { messages: [{ role: 'robot', content: 'x' }] }));
    assertBadRequest(await post('/api/routers/code/test', { messages: [{ role: 'user', content: 'x' }], extra: 1 }));
    assertBadRequest(await post('/api/routers/code/validate', { tiers: [{ id: 'x', models: [{ id: 'a', score: 'high' }] }] }));
    assertBadRequest(await post('/api/routers/code/validate', { tiers: 'none' }));
    assertBadRequest(await post('/api/routers/code/validate', { unknown_key: true }));
    const bad = await api.call('/api/routers/code/test', { admin: true, body: '{"messages": [' });
    assertBadRequest(bad, 'invalid_json');
    const res = await post('/api/routers/code/test', { messages: 'hello' });
    assert.match(res.body.error.message, /messages/);
  });

  it('requires a session or an account key; any signed-in user may call it', async () => {
    assertError(await api.get('/api/routers/code/tiers'), 401);
    assertError(await api.post('/api/routers/code/test', { messages: [{ role: 'user', content: 'x' }] }), 401);
    assertError(await api.get('/api/routers/code/options', { token: 'sk-sy-not-a-real-key' }), 401);
    const user = await api.register();
    const res = await api.get('/api/routers/code/options', { token: user.access });
    assert.equal(res.status, 200);
    const dry = await api.post('/api/routers/code/test', { messages: [{ role: 'user', content: SIMPLE }], mode: 'auto' }, { token: user.access });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.model, 'cheap/m');
  });

  it('is in the OpenAPI document', async () => {
    const doc: any = await (await fetch(`${server.url}/docs/json`)).json();
    for (const path of ['/api/routers/code/tiers', '/api/routers/code/options', '/api/routers/code/test', '/api/routers/code/validate']) {
      assert.ok(doc.paths[path], path);
      const op = Object.values(doc.paths[path])[0] as any;
      assert.deepEqual(op.tags, ['routers']);
    }
  });
});
