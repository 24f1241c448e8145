import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';

let server: TestServer;
let upstream: FakeUpstream;

before(async () => {
  upstream = await startFakeUpstream();
  server = await startTestServer({}, { OPENAI_API_KEY: 'sk-up', OPENAI_BASE_URL: upstream.url, OPENROUTER_API_KEY: 'sk-or', OPENROUTER_BASE_URL: upstream.url });
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

const model = {
  id: 'openai/gpt-test-1',
  provider: 'openai',
  upstream_id: 'gpt-test-1',
  context_length: 64000,
  pricing: { input: 0.123456, output: 1.5, cached_input: 0.05 },
  capabilities: { tools: true },
};

describe('admin catalog', () => {
  it('requires the admin key', async () => {
    const res = await fetch(`${server.url}/api/admin/models`);
    assert.equal(res.status, 401);
    const wrong = await fetch(`${server.url}/api/admin/models`, { headers: { authorization: 'Bearer sk-wrong-key' } });
    assert.equal(wrong.status, 401);
  });

  it('upserts, reads (plain and URL-encoded id), lists and deletes', async () => {
    const created = await server.request('/api/admin/models', { method: 'POST', json: model });
    assert.equal(created.status, 201);
    const body: any = await created.json();
    assert.equal(body.id, model.id);
    assert.deepEqual(body.pricing, { input: 0.123456, output: 1.5, cached_input: 0.05 });
    assert.equal(body.source, 'admin');

    const updated = await server.request('/api/admin/models', { method: 'POST', json: { ...model, pricing: { input: 0.2, output: 2 } } });
    assert.equal(updated.status, 200);

    const plain: any = await (await server.request('/api/admin/models/openai/gpt-test-1')).json();
    assert.equal(plain.pricing.input, 0.2);
    const encoded = await server.request('/api/admin/models/openai%2Fgpt-test-1');
    assert.equal(encoded.status, 200);

    const list: any = await (await server.request('/api/admin/models?provider=openai&q=gpt-test')).json();
    assert.deepEqual(list.data.map((m: any) => m.id), ['openai/gpt-test-1']);

    // The new model is immediately servable and billed at its price.
    upstream.setHandler(scripted(fakeOpenAI, () => ({ text: 'hi', usage: { input: 1000, output: 100 } })));
    const res = await server.openai().chat.completions.create({ model: 'openai/gpt-test-1', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(upstream.requests.at(-1)!.body.model, 'gpt-test-1');
    assert.equal((res.usage as any).cost, (1000 * 0.2 + 100 * 2) / 1e6);
    assert.ok((await server.openai().models.list()).data.some((m) => m.id === 'openai/gpt-test-1'));

    const del = await server.request('/api/admin/models/openai%2Fgpt-test-1', { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal((await server.request('/api/admin/models/openai/gpt-test-1')).status, 404);
    assert.equal((await server.request('/api/admin/models/openai/gpt-test-1', { method: 'DELETE' })).status, 404);
    await assert.rejects(server.openai().chat.completions.create({ model: 'openai/gpt-test-1', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 404);
  });

  it('rejects bad bodies with 400 and writes nothing', async () => {
    const bad = [
      { ...model, id: 'no-slash' },
      { ...model, provider: 'anthropic' },
      { ...model, pricing: { input: -1, output: 1 } },
      { ...model, pricing: { input: 0.1234567, output: 1 } },
      { ...model, pricing: { input: 'cheap', output: 1 } },
      { ...model, extra_field: true },
      { id: 'openai/x', provider: 'openai' },
    ];
    for (const b of bad) {
      const res = await server.request('/api/admin/models', { method: 'POST', json: b });
      assert.equal(res.status, 400, JSON.stringify(b));
      assert.equal(((await res.json()) as any).error.type, 'invalid_request_error');
    }
    assert.equal((await server.request('/api/admin/models/openai/gpt-test-1')).status, 404);
    const malformed = await server.request('/api/admin/models', { method: 'POST', body: '{"id":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
  });

  it('syncs an OpenRouter-format listing with exact per-token prices', async () => {
    upstream.setHandler((req) =>
      req.path === '/api/v1/models'
        ? {
            json: {
              data: [
                {
                  id: 'acme/model-a',
                  name: 'Acme A',
                  context_length: 32768,
                  pricing: { prompt: '0.0000025', completion: '0.00001', input_cache_read: '0.00000125' },
                  architecture: { input_modalities: ['text', 'image'] },
                  supported_parameters: ['tools', 'response_format'],
                  top_provider: { max_completion_tokens: 4096 },
                },
                { id: 'openrouter/auto', name: 'Auto', pricing: { prompt: '-1', completion: '-1' } },
              ],
            },
          }
        : { status: 404, json: {} },
    );
    const res = await server.request('/api/admin/models/sync', { method: 'POST', json: { url: `${upstream.url}/api/v1/models` } });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.imported, 1);
    const m: any = await (await server.request('/api/admin/models/openrouter/acme/model-a')).json();
    assert.deepEqual(m.pricing, { input: 2.5, output: 10, cached_input: 1.25 });
    assert.equal(m.upstream_id, 'acme/model-a');
    assert.equal(m.capabilities.vision, true);
    assert.equal(m.source, 'sync');

    const unreachable = await server.request('/api/admin/models/sync', { method: 'POST', json: { url: 'http://127.0.0.1:1/models' } });
    assert.equal(unreachable.status, 502);
    const missing = await server.request('/api/admin/models/sync', { method: 'POST', json: {} });
    assert.equal(missing.status, 400);
  });
});
