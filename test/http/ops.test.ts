import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import parsePrometheusTextFormat, { type PromFamily, type PromSample } from 'parse-prometheus-text-format';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.ts';

/**
 * An OpenAI-compatible upstream for a custom (local) provider: JSON answers at once; a stream sends its first
 * chunk and then waits for `release()`, so a test can look at the gateway while the stream is open.
 */
async function startGatedUpstream() {
  const held: { res: ServerResponse; base: Record<string, unknown> }[] = [];
  const server: HttpServer = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const body = JSON.parse(raw);
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'chatcmpl-gate', object: 'chat.completion', created: 1, model: body.model, choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage }));
      return;
    }
    const base = { id: 'chatcmpl-gate', object: 'chat.completion.chunk', created: 1, model: body.model };
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'first' }, finish_reason: null }] })}\n\n`);
    held.push({ res, base });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    release() {
      for (const { res, base } of held.splice(0)) {
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: ' done' }, finish_reason: 'stop' }] })}\n\n`);
        res.write(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n`);
        res.end('data: [DONE]\n\n');
      }
    },
    async close() {
      for (const { res } of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let server: TestServer;
let gate: Awaited<ReturnType<typeof startGatedUpstream>>;
/** Model label values kept per provider on this server (METRICS_MAX_MODELS_PER_PROVIDER). */
const MAX_MODELS = 3;
before(async () => {
  gate = await startGatedUpstream();
  server = await startTestServer(
    { providers: [{ id: 'local', type: 'openai', base_url: gate.url, api_key: 'k', headers: {} }], maxBodyBytes: 1_000_000 },
    { OPENAI_API_KEY: 'sk-upstream-secret-value', METRICS_MAX_MODELS_PER_PROVIDER: String(MAX_MODELS) },
  );
});
after(async () => {
  await server?.stop();
  await gate?.close();
});

/**
 * /metrics through a real Prometheus text-format parser (it throws on a malformed line), by family name; plus
 * the registry's own JSON taken right after, for per-label histogram counts: parse-prometheus-text-format
 * merges the series of a labelled histogram into one (dropping labels, _count and _sum).
 */
async function scrape(): Promise<Scrape> {
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
  const families = new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
  return { families, registry: await server.services.metrics.registry.getMetricsAsJSON() };
}
interface Scrape {
  families: Map<string, PromFamily>;
  registry: Awaited<ReturnType<TestServer['services']['metrics']['registry']['getMetricsAsJSON']>>;
}

const matches = (labels: Record<string, unknown> | undefined, want: Record<string, string>) => Object.entries(want).every(([k, v]) => labels?.[k] === v);
/** The sample of a counter or gauge with exactly these label values (0 when absent). */
function value(p: Scrape, name: string, labels: Record<string, string> = {}): number {
  const s = p.families.get(name)?.metrics.find((m: PromSample) => matches(m.labels, labels) && Object.keys(m.labels ?? {}).length === Object.keys(labels).length);
  return s ? Number(s.value) : 0;
}
/** A histogram's observation count for these label values (0 when absent). */
function observations(p: Scrape, name: string, labels: Record<string, string>): number {
  assert.equal(p.families.get(name)?.type, 'HISTOGRAM', `${name} is exposed as a histogram`);
  const metric = p.registry.find((m) => m.name === name);
  const s = metric?.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count` && matches(v.labels, labels));
  return s ? Number(s.value) : 0;
}

const json = async (r: Response): Promise<any> => r.json();

describe('ops endpoints', () => {
  it('/health checks the database', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.database.ok, true);
    assert.ok(['embedded', 'postgres'].includes(body.database.kind));
    // The write-behind queues: what the database still has to catch up with.
    assert.equal(typeof body.request_log.queue_depth, 'number');
    assert.deepEqual(Object.keys(body.charges).sort(), ['failed_batches', 'queue_depth']);
    assert.equal(typeof body.charges.queue_depth, 'number');
  });

  it('/live and /ready', async () => {
    assert.equal((await fetch(`${server.url}/live`)).status, 200);
    const ready = await fetch(`${server.url}/ready`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as any).status, 'ready');
  });

  it('/info lists providers and never leaks their keys', async () => {
    const res = await fetch(`${server.url}/info`);
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.name, 'switchyard');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    const byId = new Map(body.providers.map((p: any) => [p.id, p]));
    assert.equal((byId.get('openai') as any).enabled, true);
    assert.equal((byId.get('mock') as any).enabled, true);
    assert.equal((byId.get('anthropic') as any).enabled, false);
    assert.ok(!text.includes('sk-upstream-secret-value'));
    assert.ok(body.catalog.models > 10);
  });
  it('/docs serves the OpenAPI UI and the spec covers the routes', async () => {
    const ui = await fetch(`${server.url}/docs`);
    assert.equal(ui.status, 200);
    const spec: any = await (await fetch(`${server.url}/docs/json`)).json();
    assert.match(spec.openapi, /^3\./);
    for (const path of ['/v1/chat/completions', '/v1/embeddings', '/v1/models', '/api/admin/models', '/health', '/metrics']) {
      assert.ok(spec.paths[path], `spec documents ${path}`);
    }
    const chat = spec.paths['/v1/chat/completions'].post;
    assert.ok(chat.requestBody.content['application/json'].schema.properties.messages, 'request schema comes from zod');
  });
});

describe('/metrics', () => {
  it('is valid Prometheus text with the documented families and types, and no unbounded labels', async () => {
    await server.openai().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'warm up' }] });
    const p = await scrape();
    const types: Record<string, PromFamily['type']> = {
      http_requests_total: 'COUNTER',
      http_request_duration_seconds: 'HISTOGRAM',
      model_inference_requests_total: 'COUNTER',
      model_inference_duration_seconds: 'HISTOGRAM',
      time_to_first_token_seconds: 'HISTOGRAM',
      tokens_total: 'COUNTER',
      cost_usd_total: 'COUNTER',
      active_streams: 'GAUGE',
      rate_limited_total: 'COUNTER',
      circuit_breaker_state: 'GAUGE',
      request_log_queue_depth: 'GAUGE',
      request_log_dropped_total: 'COUNTER',
      model_label_overflow_total: 'COUNTER',
      process_cpu_user_seconds_total: 'COUNTER',
    };
    for (const [name, type] of Object.entries(types)) assert.equal(p.families.get(name)?.type, type, `${name} is a ${type}`);
    for (const f of p.families.values()) {
      for (const s of f.metrics) assert.ok(!Object.keys(s.labels ?? {}).some((l) => ['user', 'user_id', 'key', 'api_key_id', 'request_id'].includes(l)), `${f.name}: no unbounded labels`);
    }
  });

  it('inference counters, durations, tokens, cost and http_requests_total move with a request', async () => {
    const before = await scrape();
    const chatLabels = { method: 'POST', route: '/v1/chat/completions', status: '200' };
    const mock = { provider: 'mock', model: 'mock/echo' };
    await server.openai().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'count this' }] });
    const after = await scrape();
    assert.equal(value(after, 'http_requests_total', chatLabels), value(before, 'http_requests_total', chatLabels) + 1);
    assert.equal(observations(after, 'http_request_duration_seconds', { method: 'POST', route: '/v1/chat/completions' }), observations(before, 'http_request_duration_seconds', { method: 'POST', route: '/v1/chat/completions' }) + 1);
    assert.equal(value(after, 'model_inference_requests_total', { ...mock, status: 'success' }), value(before, 'model_inference_requests_total', { ...mock, status: 'success' }) + 1);
    assert.equal(observations(after, 'model_inference_duration_seconds', mock), observations(before, 'model_inference_duration_seconds', mock) + 1);
    assert.ok(value(after, 'tokens_total', { ...mock, type: 'input' }) > value(before, 'tokens_total', { ...mock, type: 'input' }));
    assert.ok(value(after, 'tokens_total', { ...mock, type: 'output' }) > value(before, 'tokens_total', { ...mock, type: 'output' }));
    assert.ok(value(after, 'cost_usd_total', mock) > value(before, 'cost_usd_total', mock));
    // Every scrape is itself counted.
    assert.ok(value(after, 'http_requests_total', { method: 'GET', route: '/metrics', status: '200' }) >= 2);
  });

  it('active_streams counts open streams; time_to_first_token_seconds observes each stream', async () => {
    const local = { provider: 'local', model: 'local/held' };
    const before = await scrape();
    assert.equal(value(before, 'active_streams'), 0);
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/held', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hold on' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /first/);
    const during = await scrape();
    assert.equal(value(during, 'active_streams'), 1, 'one stream open');
    gate.release();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.match(rest, /\[DONE\]/);
    const after = await scrape();
    assert.equal(value(after, 'active_streams'), 0, 'closed again');
    assert.equal(observations(after, 'time_to_first_token_seconds', local), observations(before, 'time_to_first_token_seconds', local) + 1);
    assert.equal(observations(after, 'model_inference_duration_seconds', local), observations(before, 'model_inference_duration_seconds', local) + 1);
    assert.equal(value(after, 'model_inference_requests_total', { ...local, status: 'success' }), 1);
  });

  it('rate_limited_total counts refusals by scope', async () => {
    const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email: `metrics-${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
    const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'one-per-minute', limits: { rpm: 1 } }, headers: { authorization: `Bearer ${reg.access_token}` } }));
    const before = await scrape();
    const call = () => server.openai(key.key).chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    await call();
    await assert.rejects(call(), (err: any) => err.status === 429);
    const after = await scrape();
    assert.equal(value(after, 'rate_limited_total', { scope: 'key_rpm' }), value(before, 'rate_limited_total', { scope: 'key_rpm' }) + 1);
    const refused = { method: 'POST', route: '/v1/chat/completions', status: '429' };
    assert.equal(value(after, 'http_requests_total', refused), value(before, 'http_requests_total', refused) + 1);
  });

  it('model label values are bounded per provider: models a local provider accepts beyond the limit are "other"', async () => {
    const localModels = (p: Scrape) =>
      new Set(p.families.get('model_inference_requests_total')!.metrics.filter((s) => s.labels?.provider === 'local').map((s) => s.labels!.model));
    const before = await scrape();
    const kept = [...localModels(before)].filter((m) => m !== 'other');
    const names = Array.from({ length: 5 }, (_, i) => `local/client-chosen-${i}`);
    for (const model of names) await server.openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
    const after = await scrape();
    const labels = localModels(after);
    const keptNow = [...labels].filter((m) => m !== 'other');
    assert.equal(keptNow.length, MAX_MODELS, `at most ${MAX_MODELS} model values for provider local: ${[...labels]}`);
    const folded = names.length - (MAX_MODELS - kept.length);
    const other = { provider: 'local', model: 'other', status: 'success' };
    assert.equal(value(after, 'model_inference_requests_total', other), value(before, 'model_inference_requests_total', other) + folded);
    assert.equal(value(after, 'model_label_overflow_total', { provider: 'local' }), value(before, 'model_label_overflow_total', { provider: 'local' }) + folded);
    assert.ok(!labels.has(names[4]));
    // Other providers keep their own labels; the request log keeps the real model name.
    assert.ok(value(after, 'model_inference_requests_total', { provider: 'mock', model: 'mock/echo', status: 'success' }) > 0);
    await server.services.requestLog.flush();
    const row = await server.services.database.db.selectFrom('request_logs').select('model').where('model', '=', names[4]).executeTakeFirst();
    assert.equal(row?.model, names[4]);
  });
});

describe('request log', () => {
  it('records every inference request through the batched writer', async () => {
    const res = await server.request('/v1/chat/completions', { method: 'POST', headers: { 'x-request-id': 'log-me-1' }, json: { model: 'mock/echo', messages: [{ role: 'user', content: 'log this' }] } });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    const failed = await server.request('/v1/chat/completions', { method: 'POST', headers: { 'x-request-id': 'log-me-2' }, json: { model: 'nope/nothing', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(failed.status, 404);
    await server.services.requestLog.flush();
    const rows = await server.services.database.db.selectFrom('request_logs').selectAll().where('request_id', 'in', ['log-me-1', 'log-me-2']).orderBy('request_id').execute();
    assert.equal(rows.length, 2);
    const [ok, bad] = rows;
    assert.equal(ok.status, 200);
    assert.equal(ok.model, 'mock/echo');
    assert.equal(ok.provider, 'mock');
    assert.equal(ok.input_tokens, body.usage.prompt_tokens);
    assert.equal(ok.output_tokens, body.usage.completion_tokens);
    assert.equal(Number(ok.cost_pico) / 1e12, body.usage.cost);
    assert.ok(ok.latency_ms >= 0);
    assert.equal(bad.status, 404);
    assert.equal(bad.error_code, 'model_not_found');
  });

  it('requests refused before the pipeline (401, 400, 413, 415, and handler refusals such as a server tool or an unknown model) are logged once, with status, code, model and key', async () => {
    const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email: `refused-${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
    const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'refused' }, headers: { authorization: `Bearer ${reg.access_token}` } }));
    const post = (path: string, id: string, auth: string, body: string, contentType = 'application/json') =>
      fetch(`${server.url}${path}`, { method: 'POST', headers: { 'x-request-id': id, authorization: `Bearer ${auth}`, 'content-type': contentType }, body });
    const chat = (id: string, auth: string, body: string, contentType?: string) => post('/v1/chat/completions', id, auth, body, contentType);
    const valid = JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    const expected: Record<string, number> = {
      'refused-401': (await chat('refused-401', 'sk-not-a-real-key-0123456789', valid)).status,
      'refused-400': (await chat('refused-400', key.key, JSON.stringify({ model: 'mock/refused-model', messages: 'not a list' }))).status,
      'refused-json': (await chat('refused-json', key.key, '{"model": "mock/echo", ')).status,
      'refused-415': (await chat('refused-415', key.key, '<hello/>', 'application/xml')).status,
      'refused-413': (await chat('refused-413', key.key, JSON.stringify({ model: 'mock/echo', messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] }))).status,
      'refused-messages': (await post('/v1/messages', 'refused-messages', key.key, JSON.stringify({ model: 'mock/echo' }))).status,
      // Valid by the schema, refused by the handler before the pipeline: an Anthropic server tool.
      'refused-server-tool': (
        await post('/v1/messages', 'refused-server-tool', key.key, JSON.stringify({ model: 'mock/echo', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] }))
      ).status,
      'refused-count-tokens': (await post('/v1/messages/count_tokens', 'refused-count-tokens', key.key, JSON.stringify({ model: 'nowhere/no-such-model', messages: [{ role: 'user', content: 'hi' }] }))).status,
    };
    assert.deepEqual(Object.values(expected), [401, 400, 400, 415, 413, 400, 400, 404]);
    await server.services.requestLog.flush();

    const rows = await server.services.database.db.selectFrom('request_logs').selectAll().where('request_id', 'like', 'refused-%').execute();
    const byId = new Map(rows.map((r) => [r.request_id, r]));
    assert.equal(rows.length, Object.keys(expected).length, 'each refused request logged exactly once');
    for (const [id, status] of Object.entries(expected)) {
      const r = byId.get(id)!;
      assert.ok(r, `${id} logged`);
      assert.equal(r.status, status, id);
      assert.ok(r.error_code, `${id} has an error code`);
      assert.ok(r.latency_ms >= 0);
      assert.equal(r.provider, null);
      assert.equal(r.attempts, 0);
      // Authenticated requests carry their key and user; the wrong key carries neither.
      assert.equal(r.api_key_id, id === 'refused-401' ? null : key.id, id);
      assert.equal(r.user_id, id === 'refused-401' ? null : reg.user.id, id);
    }
    assert.equal(byId.get('refused-400')!.error_code, 'invalid_request');
    assert.equal(byId.get('refused-400')!.requested_model, 'mock/refused-model', 'the model is kept when the body parsed');
    assert.equal(byId.get('refused-400')!.endpoint, 'chat');
    assert.equal(byId.get('refused-json')!.error_code, 'invalid_json');
    assert.equal(byId.get('refused-415')!.error_code, 'unsupported_media_type');
    assert.equal(byId.get('refused-413')!.error_code, 'request_too_large');
    assert.equal(byId.get('refused-messages')!.endpoint, 'messages');
    assert.equal(byId.get('refused-server-tool')!.requested_model, 'mock/echo');
    assert.match(byId.get('refused-server-tool')!.error_message ?? '', /server tool/);
    assert.equal(byId.get('refused-count-tokens')!.endpoint, 'messages/count_tokens');

    // The admin analytics see them: error patterns with these requests as examples, and errors per key.
    const errors = await json(await server.request('/api/admin/analytics/errors?limit=100'));
    const examples = new Map<string, any>();
    for (const p of errors.patterns) for (const e of p.examples) examples.set(e.request_id, p);
    assert.deepEqual(examples.get('refused-401')?.statuses, [401]);
    assert.deepEqual(examples.get('refused-400')?.statuses, [400]);
    assert.equal(examples.get('refused-400')?.error_code, 'invalid_request');
    const byKey = await json(await server.request(`/api/admin/analytics/by-key?api_key_id=${key.id}`));
    assert.equal(byKey.data[0].api_key_id, key.id);
    assert.equal(byKey.data[0].errors, Object.keys(expected).length - 1);
  });
});
