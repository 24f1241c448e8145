import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({}, { OPENAI_API_KEY: 'sk-upstream-secret-value' });
});
after(async () => server?.stop());

/** A minimal Prometheus text-format parser: metric lines into {name, labels, value}. */
function parseProm(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `malformed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { samples, types };
}

describe('ops endpoints', () => {
  it('/health checks the database', async () => {
    const res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.status, 'ok');
    assert.equal(body.database.ok, true);
    assert.ok(['embedded', 'postgres'].includes(body.database.kind));
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

  it('/metrics is valid Prometheus text and moves with traffic', async () => {
    const before = parseProm(await (await fetch(`${server.url}/metrics`)).text());
    const count = (p: ReturnType<typeof parseProm>) =>
      p.samples.find((s) => s.name === 'model_inference_requests_total' && s.labels.model === 'mock/echo' && s.labels.status === 'success')?.value ?? 0;
    await server.openai().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'count this' }] });
    const res = await fetch(`${server.url}/metrics`);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const afterP = parseProm(await res.text());
    assert.equal(count(afterP), count(before) + 1);
    assert.equal(afterP.types.get('http_request_duration_seconds'), 'histogram');
    const tokens = afterP.samples.filter((s) => s.name === 'tokens_total' && s.labels.model === 'mock/echo');
    assert.ok(tokens.some((s) => s.labels.type === 'input' && s.value > 0));
    assert.ok(tokens.some((s) => s.labels.type === 'output' && s.value > 0));
    assert.ok(afterP.samples.some((s) => s.name === 'cost_usd_total' && s.value > 0));
    assert.ok(afterP.samples.some((s) => s.name === 'process_cpu_user_seconds_total'));
    for (const s of afterP.samples) assert.ok(!('user' in s.labels) && !('key' in s.labels), 'no unbounded labels');
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
});
