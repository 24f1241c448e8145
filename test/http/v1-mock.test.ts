/** The README's quick tour, proven: the offline mock models through HTTP and the official openai SDK. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestServer, ADMIN_KEY, type TestServer } from '../support/server.ts';

let server: TestServer;
let client: OpenAI;

before(async () => {
  server = await startTestServer();
  client = server.openai();
});
after(async () => server?.stop());

describe('mock/echo through the openai SDK', () => {
  it('answers a non-streaming request with usage and cost', async () => {
    const res = await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'Hello, gateway' }] });
    assert.equal(res.choices[0].message.content, 'Hello, gateway');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.equal(res.model, 'mock/echo');
    assert.equal((res as any).provider, 'mock');
    assert.ok(res.usage!.prompt_tokens > 0);
    assert.ok(res.usage!.completion_tokens > 0);
    // mock/echo costs $1 / $2 per million tokens
    const expected = (res.usage!.prompt_tokens * 1 + res.usage!.completion_tokens * 2) / 1e6;
    assert.equal((res.usage as any).cost, expected);
  });

  it('streams chunks, then a usage chunk when include_usage is set', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock/echo',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'one two three four' }],
    });
    let text = '';
    let usage: any;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'one two three four');
    assert.equal(finish, 'stop');
    assert.ok(usage.total_tokens > 0);
    assert.ok(usage.cost > 0);
  });

  it('without include_usage, usage rides on the final chunk', async () => {
    const res = await server.request('/v1/chat/completions', { method: 'POST', json: { model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'hi there' }] } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    assert.equal(res.headers.get('x-switchyard-provider'), 'mock');
    const text = await res.text();
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]');
    const last = JSON.parse(events.at(-2)!.slice(6));
    assert.equal(last.choices[0].finish_reason, 'stop');
    assert.ok(last.usage.cost > 0);
    assert.ok(events.slice(0, -2).every((e) => !JSON.parse(e.slice(6)).usage), 'only the final chunk carries usage');
  });

  it('JSON mode returns a JSON object', async () => {
    const res = await client.chat.completions.create({ model: 'mock/echo', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'data please' }] });
    assert.deepEqual(JSON.parse(res.choices[0].message.content!), { echo: 'data please' });
  });

  it('mock/tools calls a tool and then reads the result back', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } } } } }];
    const first = await client.chat.completions.create({ model: 'mock/tools', tools, messages: [{ role: 'user', content: 'weather in Oslo' }] });
    const call = first.choices[0].message.tool_calls![0] as any;
    assert.equal(first.choices[0].finish_reason, 'tool_calls');
    assert.equal(call.function.name, 'lookup');
    assert.deepEqual(JSON.parse(call.function.arguments), { input: 'weather in Oslo' });
    const second = await client.chat.completions.create({
      model: 'mock/tools',
      tools,
      messages: [
        { role: 'user', content: 'weather in Oslo' },
        first.choices[0].message,
        { role: 'tool', tool_call_id: call.id, content: 'sunny' },
      ],
    });
    assert.equal(second.choices[0].message.content, 'Tool result: sunny');
  });

  it('streams tool calls', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock/tools',
      stream: true,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } }],
      messages: [{ role: 'user', content: 'find it' }],
    });
    let args = '';
    let name = '';
    for await (const chunk of stream) {
      for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
        name += t.function?.name ?? '';
        args += t.function?.arguments ?? '';
      }
    }
    assert.equal(name, 'lookup');
    assert.deepEqual(JSON.parse(args), { input: 'find it' });
  });

  it('embeddings through the SDK', async () => {
    const res = await client.embeddings.create({ model: 'mock/embed', input: ['a', 'b'], dimensions: 8 });
    assert.equal(res.data.length, 2);
    assert.equal(res.data[0].embedding.length, 8);
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);
    assert.ok(res.usage.prompt_tokens > 0);
    assert.equal(res.model, 'mock/embed');
  });

  it('lists models and retrieves one by a slashed id', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes('mock/echo'));
    assert.ok(!ids.some((id) => id.startsWith('openai/')), 'disabled providers are not listed');
    const one = await client.models.retrieve('mock/echo');
    assert.equal(one.id, 'mock/echo');
    const encoded = await server.request('/v1/models/mock%2Fecho');
    assert.equal(encoded.status, 200);
    assert.equal((await encoded.json() as any).id, 'mock/echo');
    await assert.rejects(client.models.retrieve('mock/nope'), (e: any) => e.status === 404);
  });

  it('a scripted upstream failure maps to an OpenAI-shaped error', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'fail [mock-error:400]' }] }),
      (e: any) => e.status === 400 && e.error?.type === 'invalid_request_error',
    );
  });
});

describe('authentication', () => {
  it('rejects a missing key with 401 in the OpenAI shape', async () => {
    const res = await fetch(`${server.url}/v1/models`);
    assert.equal(res.status, 401);
    const body: any = await res.json();
    assert.equal(body.error.type, 'authentication_error');
    assert.equal(body.error.code, 'missing_api_key');
  });

  it('rejects a wrong key through the SDK', async () => {
    await assert.rejects(server.openai('sk-wrong').models.list(), (e: any) => e.status === 401);
  });

  it('accepts x-api-key', async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': ADMIN_KEY } });
    assert.equal(res.status, 200);
  });

  it('returns a request id on every response, honouring a valid incoming one', async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { 'x-request-id': 'trace-123' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-123');
    const other = await fetch(`${server.url}/live`, { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(other.headers.get('x-request-id')!, /^req_[0-9a-f]{32}$/);
  });
});

describe('bad requests get a precise 4xx, never a 500', () => {
  const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    server.request('/v1/chat/completions', { method: 'POST', body, headers });

  it('malformed JSON -> 400 invalid_json', async () => {
    const res = await post('{"model": "mock/echo", "messages": [');
    assert.equal(res.status, 400);
    assert.equal((await res.json() as any).error.code, 'invalid_json');
  });

  it('empty body -> 400', async () => {
    const res = await post('');
    assert.equal(res.status, 400);
  });

  it('missing messages -> 400 naming the field', async () => {
    const res = await post(JSON.stringify({ model: 'mock/echo' }));
    assert.equal(res.status, 400);
    const body: any = await res.json();
    assert.equal(body.error.type, 'invalid_request_error');
    assert.equal(body.error.param, 'messages');
  });

  it('wrong types -> 400', async () => {
    for (const bad of [
      { model: 'mock/echo', messages: 'hello' },
      { model: 42, messages: [{ role: 'user', content: 'x' }] },
      { model: 'mock/echo', messages: [{ role: 'wizard', content: 'x' }] },
      { model: 'mock/echo', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' },
      { model: 'mock/echo', messages: [{ role: 'user', content: 'x' }], stream: 'yes' },
      { model: 'mock/echo', messages: [] },
    ]) {
      const res = await post(JSON.stringify(bad));
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
  });

  it('a JSON array or scalar body -> 400', async () => {
    assert.equal((await post('[1,2]')).status, 400);
    assert.equal((await post('"text"')).status, 400);
  });

  it('unknown model -> 404 model_not_found', async () => {
    const res = await post(JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res.status, 404);
    const body: any = await res.json();
    assert.equal(body.error.code, 'model_not_found');
    assert.equal(body.error.param, 'model');
  });

  it('a known provider that is not enabled -> 404 that says how to enable it', async () => {
    const res = await post(JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res.status, 404);
    assert.match((await res.json() as any).error.message, /OPENAI_API_KEY/);
  });

  it('an embedding model used for chat -> 404', async () => {
    const res = await post(JSON.stringify({ model: 'mock/embed', messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res.status, 404);
  });

  it('a body over the limit -> 413', async () => {
    const small = await startTestServer({ maxBodyBytes: 1024 });
    try {
      const res = await small.request('/v1/chat/completions', { method: 'POST', json: { model: 'mock/echo', messages: [{ role: 'user', content: 'x'.repeat(5000) }] } });
      assert.equal(res.status, 413);
      assert.equal((await res.json() as any).error.code, 'request_too_large');
    } finally {
      await small.stop();
    }
  });

  it('wrong content type -> 415', async () => {
    const res = await post('model=x', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(res.status, 415);
  });

  it('unknown route -> 404 JSON', async () => {
    const res = await server.request('/v1/nope');
    assert.equal(res.status, 404);
    assert.equal((await res.json() as any).error.code, 'route_not_found');
  });

  it('embeddings with a bad input type -> 400', async () => {
    const res = await server.request('/v1/embeddings', { method: 'POST', json: { model: 'mock/embed', input: { text: 'x' } } });
    assert.equal(res.status, 400);
  });
});
