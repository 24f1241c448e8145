/**
 * POST /v1/messages end to end, with the official Anthropic SDK as the client: the offline mock models, a
 * fake OpenAI upstream (to see what the gateway sends and to script usage and failures) and a fake
 * Anthropic upstream (thinking and other Anthropic-only fields pass through to it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startTestServer, ADMIN_KEY, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeRequest, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { fakeAnthropic, SIGNATURE, thinkingToolLoop } from '../support/fake-anthropic.ts';

// USD per million tokens, a distinct price per token kind.
const PRICES = { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 };
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let server: TestServer;
let client: Anthropic;
let openaiUp: FakeUpstream;
let anthropicUp: FakeUpstream;

const sdk = (opts: ConstructorParameters<typeof Anthropic>[0] = {}) => new Anthropic({ apiKey: ADMIN_KEY, baseURL: server.url, maxRetries: 0, timeout: 20_000, ...opts });
const lastBody = (up: FakeUpstream): any => up.requests.at(-1)!.body;

before(async () => {
  openaiUp = await startFakeUpstream();
  anthropicUp = await startFakeUpstream();
  server = await startTestServer({
    providers: [
      { id: 'up-openai', type: 'openai', base_url: openaiUp.url, api_key: 'upstream-secret', headers: {} },
      { id: 'up-anthropic', type: 'anthropic', base_url: anthropicUp.url, api_key: 'upstream-secret', headers: {} },
    ],
    prices: { 'up-openai/test-model': PRICES, 'up-anthropic/claude-test': PRICES },
    upstream: { maxAttempts: 1, firstByteTimeoutMs: 2000, streamIdleTimeoutMs: 2000, totalTimeoutMs: 10_000 },
    streamHeartbeatMs: 150,
  });
  client = sdk();
});

after(async () => {
  await server?.stop();
  await openaiUp?.close();
  await anthropicUp?.close();
});

/** Raw POST in Anthropic's style (x-api-key, anthropic-version). */
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': ADMIN_KEY, 'anthropic-version': '2023-06-01', ...headers },
    body,
  });

/** Asserts an Anthropic-shaped error body and returns its error object. */
async function anthropicError(res: Response, status: number, type: string) {
  assert.equal(res.status, status);
  const body: any = await res.json();
  assert.equal(body.type, 'error');
  assert.equal(body.error.type, type);
  assert.equal(typeof body.error.message, 'string');
  assert.match(body.request_id, /^req_/);
  return body.error;
}

describe('mock models through the Anthropic SDK', () => {
  it('answers a non-streaming request as an Anthropic message, with usage and cost', async () => {
    const { data: msg, response } = await client.messages.create({ model: 'mock/echo', max_tokens: 100, messages: [{ role: 'user', content: 'Hello, gateway' }] }).withResponse();
    assert.match(msg.id, /^msg_/);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, 'mock/echo');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Hello, gateway' }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.stop_sequence, null);
    assert.ok(msg.usage.input_tokens > 0);
    assert.ok(msg.usage.output_tokens > 0);
    assert.equal(msg.usage.cache_read_input_tokens, 0);
    // mock/echo costs $1 / $2 per million tokens
    assert.equal((msg.usage as any).cost, (msg.usage.input_tokens * 1 + msg.usage.output_tokens * 2) / 1e6);
    assert.equal(response.headers.get('x-switchyard-provider'), 'mock');
    assert.equal(response.headers.get('request-id'), response.headers.get('x-request-id'));
    assert.equal((msg as any)._request_id, response.headers.get('request-id'));
  });

  it('accepts a system prompt, content blocks and a Bearer token (ANTHROPIC_AUTH_TOKEN)', async () => {
    const bearer = sdk({ apiKey: null, authToken: ADMIN_KEY });
    const msg = await bearer.messages.create({
      model: 'mock/echo',
      max_tokens: 100,
      system: [{ type: 'text', text: 'Be an echo.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'one ' }, { type: 'text', text: 'two' }] }],
    });
    assert.deepEqual(msg.content, [{ type: 'text', text: 'one two' }]);
  });

  it('reports max_tokens when the answer was cut', async () => {
    const msg = await client.messages.create({ model: 'mock/echo', max_tokens: 2, messages: [{ role: 'user', content: 'one two three four' }] });
    assert.equal(msg.stop_reason, 'max_tokens');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'one two ' }]);
  });

  it('streams: the SDK stream helpers assemble the message', async () => {
    const stream = client.messages.stream({ model: 'mock/echo', max_tokens: 100, messages: [{ role: 'user', content: 'one two three four' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const msg = await stream.finalMessage();
    assert.equal(text, 'one two three four');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'one two three four' }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.ok(msg.usage.output_tokens > 0);
    assert.ok(msg.usage.input_tokens > 0);
  });

  it('streams events in Anthropic order', async () => {
    const stream = await client.messages.create({ model: 'mock/echo', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'a b' }] });
    const types: string[] = [];
    for await (const ev of stream) types.push(ev.type);
    assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  it('tool use round trip: tool_use block -> tool_result -> final text', async () => {
    const tools = [{ name: 'lookup', description: 'Look things up', input_schema: { type: 'object' as const, properties: { input: { type: 'string' } } } }];
    const question = { role: 'user' as const, content: 'weather in Oslo' };
    const first = await client.messages.create({ model: 'mock/tools', max_tokens: 200, tools, messages: [question] });
    assert.equal(first.stop_reason, 'tool_use');
    const call = first.content.find((b) => b.type === 'tool_use')!;
    assert.ok(call && call.type === 'tool_use');
    assert.equal(call.name, 'lookup');
    assert.deepEqual(call.input, { input: 'weather in Oslo' });
    const second = await client.messages.create({
      model: 'mock/tools',
      max_tokens: 200,
      tools,
      messages: [question, { role: 'assistant', content: first.content as any }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'sunny' }] }],
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.deepEqual(second.content, [{ type: 'text', text: 'Tool result: sunny' }]);
  });

  it('streams tool use with partial JSON the SDK parses', async () => {
    const stream = client.messages.stream({
      model: 'mock/tools',
      max_tokens: 200,
      tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'lookup' },
      messages: [{ role: 'user', content: 'find it' }],
    });
    let json = '';
    stream.on('inputJson', (partial) => (json += partial));
    const msg = await stream.finalMessage();
    assert.equal(msg.stop_reason, 'tool_use');
    const block = msg.content[0];
    assert.ok(block.type === 'tool_use');
    assert.equal(block.name, 'lookup');
    assert.deepEqual(block.input, { input: 'find it' });
    assert.deepEqual(JSON.parse(json), { input: 'find it' });
  });

  it('counts tokens locally', async () => {
    const res = await client.messages.countTokens({ model: 'mock/echo', system: 'You are terse.', messages: [{ role: 'user', content: 'How many tokens is this?' }] });
    assert.ok(res.input_tokens > 5 && res.input_tokens < 40, String(res.input_tokens));
    const more = await client.messages.countTokens({ model: 'mock/echo', messages: [{ role: 'user', content: 'How many tokens is this? '.repeat(20) }] });
    assert.ok(more.input_tokens > res.input_tokens);
    await assert.rejects(client.messages.countTokens({ model: 'no-such-provider/model', messages: [{ role: 'user', content: 'x' }] }), (e: any) => e instanceof Anthropic.NotFoundError && e.type === 'not_found_error');
  });

  it('is listed in the OpenAPI document', async () => {
    const doc: any = await (await fetch(`${server.url}/docs/json`)).json();
    assert.ok(doc.paths['/v1/messages']?.post);
    assert.ok(doc.paths['/v1/messages/count_tokens']?.post);
    assert.ok(doc.paths['/v1/messages'].post.requestBody.content['application/json'].schema.properties.max_tokens);
  });
});

describe('what reaches an OpenAI-format upstream', () => {
  it('images (base64 and URL) arrive as image_url parts; Anthropic-only fields stay behind', async () => {
    openaiUp.setHandler(scripted(fakeOpenAI, () => ({ text: 'Two images.' })));
    const longUser = `user_${'ab'.repeat(32)}_account_1_session_2`;
    const msg = await client.messages.create({
      model: 'up-openai/test-model',
      max_tokens: 300,
      system: [{ type: 'text', text: 'You see images.', cache_control: { type: 'ephemeral' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?', cache_control: { type: 'ephemeral' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
      thinking: { type: 'enabled', budget_tokens: 5000 },
      metadata: { user_id: longUser },
      stop_sequences: ['STOP'],
      top_k: 5,
    } as any);
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Two images.' }]);
    const body = lastBody(openaiUp);
    assert.equal(body.model, 'test-model');
    assert.equal(body.max_tokens, 300);
    assert.deepEqual(body.stop, ['STOP']);
    assert.equal(body.reasoning_effort, 'medium');
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'You see images.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
    for (const field of ['thinking', 'top_k', 'metadata', 'stop_sequences', 'system']) assert.equal(field in body, false, field);
    assert.match(body.user, /^[0-9a-f]{64}$/, 'a long user id is hashed to fit OpenAI');
  });

  it('thinking stays off for a model the catalog marks as not reasoning', async () => {
    await server.services.catalog.upsert({ id: 'up-openai/plain-model', provider: 'up-openai', pricing: PRICES, capabilities: { reasoning: false } } as any);
    openaiUp.setHandler(scripted(fakeOpenAI, () => ({ text: 'plain' })));
    await client.messages.create({ model: 'up-openai/plain-model', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 2000 }, messages: [{ role: 'user', content: 'x' }] });
    const body = lastBody(openaiUp);
    assert.equal(body.model, 'plain-model');
    assert.equal('reasoning_effort' in body, false);
    assert.equal('thinking' in body, false);
  });

  it('tool results become tool messages right after the assistant tool calls', async () => {
    openaiUp.setHandler(scripted(fakeOpenAI, () => ({ text: 'Take an umbrella.' })));
    await client.messages.create({
      model: 'up-openai/test-model',
      max_tokens: 100,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'rain' }] }, { type: 'text', text: 'Umbrella?' }] },
      ],
    });
    const body = lastBody(openaiUp);
    assert.deepEqual(body.messages.slice(1), [
      { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'rain' },
      { role: 'user', content: 'Umbrella?' },
    ]);
    assert.deepEqual(body.tools, [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
    assert.equal(body.tool_choice, 'auto');
    assert.equal(body.parallel_tool_calls, false);
  });

  const usageReply = (stream: boolean, req: FakeRequest) => {
    const usage = { prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050, prompt_tokens_details: { cached_tokens: 600, cache_write_tokens: 100 } };
    const base = { id: 'chatcmpl-usage1', created: 1_732_000_000, model: req.body.model };
    if (!stream) {
      return { json: { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'cached answer' }, finish_reason: 'stop' }], usage } };
    }
    const c = (choices: unknown[], extra = {}) => ({ data: { ...base, object: 'chat.completion.chunk', choices, ...extra } });
    return {
      sse: [
        c([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
        c([{ index: 0, delta: { content: 'cached ' }, finish_reason: null }]),
        c([{ index: 0, delta: { content: 'answer' }, finish_reason: null }]),
        c([{ index: 0, delta: {}, finish_reason: 'stop' }]),
        c([], { usage }),
        '[DONE]',
      ],
    };
  };
  // input 300 (1000 - 600 read - 100 written), cache read 600, cache write 100, output 50.
  const expectedUsage = { input_tokens: 300, cache_read_input_tokens: 600, cache_creation_input_tokens: 100, output_tokens: 50 };
  const expectedCost = (300 * 3 + 600 * 0.3 + 100 * 3.75 + 50 * 15) / 1e6;

  it('usage: cached prompt tokens are reported apart from input_tokens, with the exact cost', async () => {
    openaiUp.setHandler((req) => usageReply(false, req));
    const msg = await client.messages.create({ model: 'up-openai/test-model', max_tokens: 100, messages: [{ role: 'user', content: 'again' }] });
    const { cost, ...usage } = msg.usage as any;
    assert.deepEqual(usage, expectedUsage);
    assert.equal(cost, expectedCost);
  });

  it('usage in a stream: message_delta carries the upstream counts', async () => {
    openaiUp.setHandler((req) => usageReply(true, req));
    const events: any[] = [];
    const stream = await client.messages.create({ model: 'up-openai/test-model', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'again' }] });
    for await (const ev of stream) events.push(ev);
    const delta = events.find((e) => e.type === 'message_delta');
    const { cost, ...usage } = delta.usage;
    assert.deepEqual(usage, expectedUsage);
    assert.equal(cost, expectedCost);
    const final = await client.messages.stream({ model: 'up-openai/test-model', max_tokens: 100, messages: [{ role: 'user', content: 'again' }] }).finalMessage();
    assert.equal(final.usage.input_tokens, 300);
    assert.equal(final.usage.cache_read_input_tokens, 600);
    assert.equal(final.usage.cache_creation_input_tokens, 100);
    assert.equal(final.usage.output_tokens, 50);
  });

  it('sends ping events while the upstream is silent', async () => {
    openaiUp.setHandler(scripted(fakeOpenAI, () => ({ text: 'slow answer here', chunkDelayMs: 400 })));
    const res = await post('/v1/messages', JSON.stringify({ model: 'up-openai/test-model', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const raw = await res.text();
    assert.match(raw, /^event: ping\ndata: \{"type":"ping"\}$/m);
    assert.match(raw, /event: message_stop\ndata: \{"type":"message_stop"\}\n\n$/);
  });
});

describe('an Anthropic-format upstream', () => {
  it('receives thinking and cache_control as sent; thinking comes back as a thinking block', async () => {
    anthropicUp.setHandler(scripted(fakeAnthropic, () => ({ reasoning: 'Let me think.', text: 'Forty-two.', usage: { input: 20, output: 9, cacheRead: 5, cacheWrite: 3 } })));
    const msg = await client.messages.create({
      model: 'up-anthropic/claude-test',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 3000 },
      system: [{ type: 'text', text: 'Answer briefly.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'The answer?' }],
    } as any);
    const body = lastBody(anthropicUp);
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 3000 });
    assert.equal(body.max_tokens, 4000);
    assert.deepEqual(body.system, [{ type: 'text', text: 'Answer briefly.', cache_control: { type: 'ephemeral' } }]);
    assert.deepEqual(msg.content, [
      { type: 'thinking', thinking: 'Let me think.', signature: SIGNATURE },
      { type: 'text', text: 'Forty-two.' },
    ]);
    const { cost, ...usage } = msg.usage as any;
    assert.deepEqual(usage, { input_tokens: 20, cache_read_input_tokens: 5, cache_creation_input_tokens: 3, output_tokens: 9 });
    assert.equal(cost, (20 * 3 + 5 * 0.3 + 3 * 3.75 + 9 * 15) / 1e6);
  });

  it('receives top_k (without thinking, which forbids it)', async () => {
    anthropicUp.setHandler(scripted(fakeAnthropic, () => ({ text: 'ok' })));
    await client.messages.create({ model: 'up-anthropic/claude-test', max_tokens: 50, top_k: 7, temperature: 0.3, messages: [{ role: 'user', content: 'x' }] } as any);
    const body = lastBody(anthropicUp);
    assert.equal(body.top_k, 7);
    assert.equal(body.temperature, 0.3);
    assert.equal('thinking' in body, false);
  });

  const weatherTool = { name: 'weather', description: 'Current weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } };

  for (const streamed of [false, true]) {
    it(`thinking with tool use: the signed thinking block reaches the client and goes back with the tool result${streamed ? ' (streamed)' : ''}`, async () => {
      anthropicUp.setHandler(thinkingToolLoop);
      const params = { model: 'up-anthropic/claude-test', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 }, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] } as any;
      const first = streamed ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
      assert.deepEqual(first.content[0], { type: 'thinking', thinking: 'I need the weather tool.', signature: SIGNATURE });
      assert.equal(first.content[1]!.type, 'tool_use');

      const second = await client.messages.create({
        ...params,
        messages: [...params.messages, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_w1', content: '21 C' }] }],
      });
      assert.equal((second.content.find((b) => b.type === 'text') as any).text, 'It is 21 degrees.');
      const sent = lastBody(anthropicUp).messages[1];
      assert.deepEqual(sent.content[0], { type: 'thinking', thinking: 'I need the weather tool.', signature: SIGNATURE });
      assert.equal(sent.content[1].type, 'tool_use');
    });
  }

  it('redacted thinking comes through as a redacted_thinking block, streamed or not, and goes back as sent', async () => {
    const redacted = { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' };
    const body = { id: 'msg_r1', type: 'message', role: 'assistant', model: 'claude-test', content: [redacted, { type: 'text', text: 'Done.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 3 } };
    const ev = (type: string, data: object) => ({ event: type, data: { type, ...data } });
    const events = [
      ev('message_start', { message: { ...body, content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
      ev('content_block_start', { index: 0, content_block: redacted }),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
      ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Done.' } }),
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ];
    anthropicUp.setHandler((req) => (req.body.stream ? { sse: events } : { json: body }));
    const params = { model: 'up-anthropic/claude-test', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 }, messages: [{ role: 'user', content: 'x' }] } as any;
    const plain = await client.messages.create(params);
    const streamedMsg = await client.messages.stream(params).finalMessage();
    for (const msg of [plain, streamedMsg]) assert.deepEqual(msg.content, [redacted, { type: 'text', text: 'Done.' }]);

    await client.messages.create({ ...params, messages: [...params.messages, { role: 'assistant', content: plain.content }, { role: 'user', content: 'and?' }] });
    assert.deepEqual(lastBody(anthropicUp).messages[1].content, [redacted, { type: 'text', text: 'Done.' }]);
  });

  it('streams thinking deltas before the text', async () => {
    anthropicUp.setHandler(scripted(fakeAnthropic, () => ({ reasoning: 'Step one. Step two.', text: 'Done now.' })));
    const stream = client.messages.stream({ model: 'up-anthropic/claude-test', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2000 }, messages: [{ role: 'user', content: 'go' }] } as any);
    let thinking = '';
    stream.on('thinking', (delta) => (thinking += delta));
    const msg = await stream.finalMessage();
    assert.equal(thinking, 'Step one. Step two.');
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ['thinking', 'text'],
    );
    assert.equal((msg.content[1] as any).text, 'Done now.');
  });
});

describe('errors in Anthropic shape, raised as typed SDK errors', () => {
  it('an upstream rate limit -> 429 rate_limit_error with Retry-After', async () => {
    anthropicUp.setHandler(() => ({ status: 429, headers: { 'retry-after': '7' }, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } } }));
    await assert.rejects(client.messages.create({ model: 'up-anthropic/claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }), (err: any) => {
      const e: any = err;
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.equal(e.status, 429);
      assert.equal(e.type, 'rate_limit_error');
      assert.equal(e.error.type, 'error');
      assert.match(e.error.error.message, /Slow down/);
      assert.equal(e.headers.get('retry-after'), '7');
      assert.match(e.requestID, /^req_/);
      return true;
    });
  });

  it('an overloaded upstream (529) -> 529 overloaded_error', async () => {
    anthropicUp.setHandler(() => fakeAnthropic.error(529, 'Overloaded'));
    await assert.rejects(
      client.messages.create({ model: 'up-anthropic/claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof Anthropic.OverloadedError && e.status === 529 && e.type === 'overloaded_error',
    );
  });

  it('upstream failures from the mock: 400 invalid_request_error, 5xx api_error', async () => {
    await assert.rejects(
      client.messages.create({ model: 'mock/echo', max_tokens: 10, messages: [{ role: 'user', content: 'fail [mock-error:400]' }] }),
      (e: any) => e instanceof Anthropic.BadRequestError && e.type === 'invalid_request_error',
    );
    await assert.rejects(
      client.messages.create({ model: 'mock/echo', max_tokens: 10, messages: [{ role: 'user', content: 'fail [mock-error:500]' }] }),
      (e: any) => e instanceof Anthropic.InternalServerError && e.status === 502 && e.type === 'api_error',
    );
  });

  it('an unknown model -> 404 not_found_error', async () => {
    await assert.rejects(
      client.messages.create({ model: 'mock/nope', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof Anthropic.NotFoundError && e.type === 'not_found_error',
    );
  });

  it('an upstream stream cut midway -> an error event the SDK raises', async () => {
    openaiUp.setHandler(scripted(fakeOpenAI, () => ({ text: 'alpha beta gamma delta epsilon zeta eta theta', cutAfter: 3, chunkDelayMs: 5 })));
    const res = await post('/v1/messages', JSON.stringify({ model: 'up-openai/test-model', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] }));
    assert.equal(res.status, 200);
    const raw = await res.text();
    const events = raw.split('\n\n').filter(Boolean);
    const last = events.at(-1)!;
    assert.match(last, /^event: error\ndata: /);
    const data = JSON.parse(last.split('\ndata: ')[1]);
    assert.equal(data.type, 'error');
    assert.equal(typeof data.error.type, 'string');
    assert.ok(data.error.message);
    assert.ok(!raw.includes('message_stop'));
    await assert.rejects(
      (async () => {
        const stream = await client.messages.create({ model: 'up-openai/test-model', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] });
        for await (const _ of stream);
      })(),
      (e: any) => e instanceof Anthropic.APIError && e.type === data.error.type,
    );
  });
});

describe('bad requests -> 400 invalid_request_error in Anthropic shape', () => {
  const ok = { model: 'mock/echo', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] };

  it('missing max_tokens (through the SDK)', async () => {
    await assert.rejects(client.messages.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'x' }] } as any), (err: any) => {
      const e: any = err;
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.error.error.message, /max_tokens/);
      return true;
    });
  });

  it('malformed JSON and an empty body', async () => {
    const err = await anthropicError(await post('/v1/messages', '{"model": "mock/echo", "messages": ['), 400, 'invalid_request_error');
    assert.match(err.message, /not valid JSON/);
    await anthropicError(await post('/v1/messages', ''), 400, 'invalid_request_error');
  });

  it('wrong types and shapes', async () => {
    for (const bad of [
      { ...ok, messages: 'hello' },
      { ...ok, model: 42 },
      { ...ok, max_tokens: '10' },
      { ...ok, max_tokens: 0 },
      { ...ok, temperature: 'hot' },
      { ...ok, stream: 'yes' },
      { ...ok, messages: [] },
      { ...ok, messages: [{ role: 'wizard', content: 'x' }] },
      { ...ok, messages: [{ role: 'user', content: [{ type: 'hologram' }] }] },
      { ...ok, tool_choice: { type: 'tool' } },
      { ...ok, tools: [{ type: 'web_search_20250305', name: 'web_search' }] },
      { ...ok, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }] }] },
    ]) {
      const res = await post('/v1/messages', JSON.stringify(bad));
      await anthropicError(res, 400, 'invalid_request_error');
    }
  });

  it('count_tokens validates too', async () => {
    await anthropicError(await post('/v1/messages/count_tokens', JSON.stringify({ model: 'mock/echo' })), 400, 'invalid_request_error');
  });
});

describe('authentication', () => {
  it('401 authentication_error without a key', async () => {
    const res = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }) });
    await anthropicError(res, 401, 'authentication_error');
  });

  it('401 through the SDK with a wrong key', async () => {
    await assert.rejects(
      sdk({ apiKey: 'sk-wrong' }).messages.create({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (e: any) => e instanceof Anthropic.AuthenticationError && e.status === 401 && e.type === 'authentication_error',
    );
  });

  it('x-api-key with anthropic-version and anthropic-beta headers works with plain fetch', async () => {
    const res = await post('/v1/messages', JSON.stringify({ model: 'mock/echo', max_tokens: 5, messages: [{ role: 'user', content: 'plain' }] }), { 'anthropic-beta': 'prompt-caching-2024-07-31' });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.deepEqual(body.content, [{ type: 'text', text: 'plain' }]);
  });

  it('other /v1 routes keep the OpenAI error shape', async () => {
    const res = await fetch(`${server.url}/v1/models`);
    assert.equal(res.status, 401);
    const body: any = await res.json();
    assert.equal(body.error.type, 'authentication_error');
    assert.equal(body.type, undefined);
  });
});
