import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChatRequestSchema } from '../../src/providers/chat-schema.ts';
import type { ChatChunk, ChatRequest, ResolvedProvider, UpstreamTarget } from '../../src/providers/types.ts';
import { UpstreamError } from '../../src/providers/errors.ts';
import { httpProviderClient } from '../../src/providers/client.ts';
import { closeTransport } from '../../src/providers/transport.ts';
import { anthropicAdapter } from '../../src/providers/anthropic/index.ts';
import { fakeAnthropic } from '../support/fake-anthropic.ts';
import { scripted, type ScriptedTurn } from '../support/fake-script.ts';
import { sseFrame, startFakeUpstream, type FakeRequest, type FakeUpstream } from '../support/fake-upstream.ts';
import { readChunks } from '../support/chat-stream.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/anthropic/${name}`, import.meta.url), 'utf8');
const fixtureJson = (name: string) => JSON.parse(fixture(name));

const provider = (over: Partial<ResolvedProvider> = {}): ResolvedProvider => ({
  id: 'anthropic',
  type: 'anthropic',
  preset: 'anthropic',
  baseUrl: 'https://api.anthropic.com',
  apiKey: 'sk-ant-test-key',
  headers: { 'anthropic-beta': 'context-1m-2025-08-07' },
  streamUsageOption: false,
  ...over,
});
const target: UpstreamTarget = { provider: provider(), model: 'claude-sonnet-4-5-20250929' };

const chat = (body: Record<string, unknown>): ChatRequest => ChatRequestSchema.parse({ model: 'anthropic/claude', ...body });
const hello = [{ role: 'user', content: 'Hello' }];

async function bodyOf(req: ChatRequest, stream = false, t: UpstreamTarget = target) {
  const up = await anthropicAdapter.toUpstreamRequest(t, req, stream);
  return JSON.parse(up.body!);
}

const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

function expectUpstreamError(fn: () => unknown, check: Partial<UpstreamError>): UpstreamError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UpstreamError, `expected an UpstreamError, got ${String(caught)}`);
  for (const [k, v] of Object.entries(check)) assert.deepEqual((caught as any)[k], v, `error.${k}`);
  return caught;
}

describe('anthropic request translation', () => {
  it('translates a full conversation to the recorded Messages body', async () => {
    const req = chat(fixtureJson('request-openai.json'));
    const up = await anthropicAdapter.toUpstreamRequest(target, req, false);
    assert.equal(up.method, 'POST');
    assert.equal(up.url, 'https://api.anthropic.com/v1/messages');
    assert.deepEqual(up.headers, {
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': 'sk-ant-test-key',
      'anthropic-beta': 'context-1m-2025-08-07',
    });
    // Exact equality also proves OpenAI-only fields (seed, n, logprobs, penalties, logit_bias) were dropped.
    assert.deepEqual(JSON.parse(up.body!), fixtureJson('request-anthropic.json'));
  });

  it('defaults max_tokens, sets stream only when streaming, and accepts a base URL ending in /v1', async () => {
    const t = { ...target, provider: provider({ baseUrl: 'https://proxy.example.com/anthropic/v1/', apiKey: undefined, headers: {} }) };
    const up = await anthropicAdapter.toUpstreamRequest(t, chat({ messages: hello, max_tokens: 99 }), true);
    assert.equal(up.url, 'https://proxy.example.com/anthropic/v1/messages');
    assert.equal(up.headers['x-api-key'], undefined);
    const body = JSON.parse(up.body!);
    assert.equal(body.stream, true);
    assert.equal(body.max_tokens, 99);
    assert.deepEqual(body.messages, [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }]);
    const plain = await bodyOf(chat({ messages: hello }));
    assert.equal(plain.max_tokens, 4096);
    assert.equal('stream' in plain, false);
    assert.equal('system' in plain, false);
  });

  it('merges consecutive same-role messages and puts tool results first in their user turn', async () => {
    const body = await bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'one' },
          { role: 'user', content: [{ type: 'text', text: 'two', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
          { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
          { role: 'tool', tool_call_id: 'toolu_1', content: 'cold' },
          { role: 'user', content: 'and tomorrow?', cache_control: { type: 'ephemeral' } },
        ],
      }),
    );
    assert.deepEqual(body.messages, [
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two', cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'cold' },
          { type: 'text', text: 'and tomorrow?', cache_control: { type: 'ephemeral' } },
        ],
      },
    ]);
  });

  it('trims trailing whitespace from a final assistant prefill', async () => {
    const body = await bodyOf(chat({ messages: [...hello, { role: 'assistant', content: 'The answer is ' }] }));
    assert.deepEqual(body.messages[1], { role: 'assistant', content: [{ type: 'text', text: 'The answer is' }] });
  });

  it('maps tool_choice variants and parallel_tool_calls', async () => {
    const choice = async (extra: Record<string, unknown>) => (await bodyOf(chat({ messages: hello, tools: [weatherTool], ...extra }))).tool_choice;
    assert.deepEqual(await choice({ tool_choice: 'auto' }), { type: 'auto' });
    assert.deepEqual(await choice({ tool_choice: 'required' }), { type: 'any' });
    assert.deepEqual(await choice({ tool_choice: 'none' }), { type: 'none' });
    assert.deepEqual(await choice({ tool_choice: { type: 'function', function: { name: 'get_weather' } } }), { type: 'tool', name: 'get_weather' });
    assert.deepEqual(await choice({ tool_choice: 'required', parallel_tool_calls: false }), { type: 'any', disable_parallel_tool_use: true });
    assert.deepEqual(await choice({ parallel_tool_calls: false }), { type: 'auto', disable_parallel_tool_use: true });
    assert.deepEqual(await choice({ tool_choice: 'none', parallel_tool_calls: false }), { type: 'none' });
    assert.equal(await choice({}), undefined);
    // No tools: no tool_choice either (Anthropic rejects a choice without tools).
    const noTools = await bodyOf(chat({ messages: hello, tool_choice: 'required' }));
    assert.equal('tool_choice' in noTools, false);
    assert.equal('tools' in noTools, false);
  });

  it('clamps temperature to 0..1 and sends top_p only without temperature', async () => {
    const body = await bodyOf(chat({ messages: hello, temperature: 1.7, top_p: 0.5, stop: ['END', ''] }));
    assert.equal(body.temperature, 1);
    // Recent Claude models refuse both at once.
    assert.equal('top_p' in body, false);
    assert.deepEqual(body.stop_sequences, ['END']);
    assert.equal((await bodyOf(chat({ messages: hello, temperature: 0.3 }))).temperature, 0.3);
    const topP = await bodyOf(chat({ messages: hello, top_p: 0.5 }));
    assert.equal(topP.top_p, 0.5);
    assert.equal('temperature' in topP, false);
  });

  it('rejects unparsable tool arguments with a 400, not a crash', async () => {
    const req = chat({
      messages: [...hello, { role: 'assistant', tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Par' } }] }],
    });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, req, false), {
      status: 400,
      type: 'invalid_request_error',
      retryable: false,
      param: 'messages[1].tool_calls[0].function.arguments',
    });
    const notObject = chat({ messages: [...hello, { role: 'assistant', tool_calls: [{ id: 'toolu_9', type: 'function', function: { name: 'x', arguments: '[1]' } }] }] });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, notObject, false), { status: 400 });
  });

  it('rejects content Anthropic cannot take with a 400', () => {
    const ftp = chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, ftp, false), { status: 400, param: 'messages[0].content[0]' });
    const audio = chat({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, audio, false), { status: 400 });
    const noId = chat({ messages: [...hello, { role: 'tool', content: 'x' }] });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, noId, false), { status: 400, param: 'messages[1].tool_call_id' });
  });

  it('turns inline PDFs into document blocks and normalizes image/jpg', async () => {
    const body = await bodyOf(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0xLjQK' } },
              { type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/4AAQ' } },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(body.messages[0].content, [
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQK' }, title: 'report.pdf' },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
    ]);
  });

  it('forces a tool named after a json_schema response format', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, population: { type: 'integer' } }, required: ['city'] };
    const rf = { type: 'json_schema', json_schema: { name: 'city info', schema, strict: true } };
    const body = await bodyOf(chat({ messages: hello, response_format: rf }));
    assert.equal(body.tools.length, 1);
    assert.equal(body.tools[0].name, 'city_info');
    assert.deepEqual(body.tools[0].input_schema, schema);
    assert.deepEqual(body.tool_choice, { type: 'tool', name: 'city_info' });
    // Next to the caller's own tools, some tool call is forced: theirs or the answer.
    const withTools = await bodyOf(chat({ messages: hello, response_format: rf, tools: [weatherTool] }));
    assert.deepEqual(withTools.tools.map((t: { name: string }) => t.name), ['get_weather', 'city_info']);
    assert.deepEqual(withTools.tool_choice, { type: 'any' });
  });

  it('asks for a single JSON object for json_object', async () => {
    const body = await bodyOf(chat({ messages: [{ role: 'system', content: 'Be terse.' }, ...hello], response_format: { type: 'json_object' } }));
    assert.equal(body.system.length, 2);
    assert.equal(body.system[0].text, 'Be terse.');
    assert.match(body.system[1].text, /single valid JSON object/);
  });

  it('maps reasoning_effort to a thinking budget below max_tokens and drops sampling thinking forbids', async () => {
    const high = await bodyOf(chat({ messages: hello, reasoning_effort: 'high', temperature: 0.2, top_p: 0.5 }));
    assert.deepEqual(high.thinking, { type: 'enabled', budget_tokens: 16384 });
    assert.equal(high.max_tokens, 16384 + 4096);
    assert.equal('temperature' in high, false);
    assert.equal('top_p' in high, false);
    const low = await bodyOf(chat({ messages: hello, reasoning_effort: 'low', max_tokens: 8000, top_p: 0.97 }));
    assert.deepEqual(low.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(low.max_tokens, 8000);
    assert.equal(low.top_p, 0.97);
    const medium = await bodyOf(chat({ messages: hello, reasoning_effort: 'medium', max_completion_tokens: 2000 }));
    assert.equal(medium.thinking.budget_tokens, 4096);
    assert.ok(medium.max_tokens > 4096);
    assert.equal('thinking' in (await bodyOf(chat({ messages: hello, reasoning_effort: 'minimal' }))), false);
  });

  it('maps reasoning_effort none to no thinking and xhigh to the largest budget', async () => {
    assert.equal('thinking' in (await bodyOf(chat({ messages: hello, reasoning_effort: 'none', temperature: 0.3 }))), false);
    assert.equal((await bodyOf(chat({ messages: hello, reasoning_effort: 'none', temperature: 0.3 }))).temperature, 0.3);
    const xhigh = await bodyOf(chat({ messages: hello, reasoning_effort: 'xhigh' }));
    assert.deepEqual(xhigh.thinking, { type: 'enabled', budget_tokens: 32768 });
    assert.ok(xhigh.max_tokens > 32768);
  });

  it('refuses n > 1 and logprobs with a 400 naming the parameter instead of dropping them', async () => {
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, chat({ messages: hello, n: 3 }), false), { status: 400, type: 'invalid_request_error', param: 'n', code: 'unsupported_parameter' });
    expectUpstreamError(() => anthropicAdapter.toUpstreamRequest(target, chat({ messages: hello, logprobs: true, top_logprobs: 2 }), true), { status: 400, param: 'logprobs' });
    // The defaults stay fine.
    assert.equal((await bodyOf(chat({ messages: hello, n: 1, logprobs: false }))).model, target.model);
  });

  it('passes a client-supplied thinking field through as is', async () => {
    const body = await bodyOf(chat({ messages: hello, reasoning_effort: 'high', thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 10000 }));
    assert.deepEqual(body.thinking, { type: 'enabled', budget_tokens: 2048 });
    assert.equal(body.max_tokens, 10000);
  });

  it('does not force tools when thinking is on (Anthropic refuses it)', async () => {
    const rf = { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: {} } } };
    const body = await bodyOf(chat({ messages: hello, reasoning_effort: 'low', response_format: rf, tools: [weatherTool], tool_choice: 'required' }));
    assert.deepEqual(body.tool_choice, { type: 'auto' });
    assert.match(body.system.at(-1).text, /calling the answer tool/);
  });
});

describe('anthropic response translation', () => {
  it('translates text with cache usage', () => {
    const { completion, usage } = anthropicAdapter.fromUpstreamResponse(fixtureJson('response-text.json'), target, chat({ messages: hello }));
    assert.equal(completion.id, 'msg_013Zva2CMHLNnXjNJJKqJ2EF');
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'claude-sonnet-4-5-20250929');
    assert.deepEqual(completion.choices[0].message, { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null });
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.deepEqual(usage, { input: 21, cacheRead: 1200, cacheWrite: 188086, output: 393, reasoning: 0 });
    assert.equal(completion.usage?.prompt_tokens, 21 + 1200 + 188086);
    assert.deepEqual(completion.usage?.prompt_tokens_details, { cached_tokens: 1200, cache_write_tokens: 188086 });
    assert.equal(completion.usage?.completion_tokens, 393);
  });

  it('translates thinking, text and tool_use blocks', () => {
    const { completion, usage } = anthropicAdapter.fromUpstreamResponse(fixtureJson('response-thinking-tool.json'), target, chat({ messages: hello }));
    const msg = completion.choices[0].message;
    assert.equal(msg.content, "I'll look both up.");
    assert.equal(msg.reasoning_content, 'The user asks for the weather in two cities; I can call get_weather for both.');
    assert.deepEqual(msg.thinking_blocks, [{ type: 'thinking', thinking: msg.reasoning_content, signature: 'WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEczmEsUjavL....' }]);
    assert.deepEqual(msg.tool_calls, [
      { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"fahrenheit"}' } },
      { id: 'toolu_01B19r01rx01mr028946mr0', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris, France"}' } },
    ]);
    assert.equal(completion.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(usage, { input: 512, cacheRead: 0, cacheWrite: 0, output: 240, reasoning: 120 });
  });

  it('turns the forced json_schema tool back into JSON content', () => {
    const req = chat({ messages: hello, response_format: { type: 'json_schema', json_schema: { name: 'city_info', schema: { type: 'object' } } } });
    const { completion } = anthropicAdapter.fromUpstreamResponse(fixtureJson('response-structured.json'), target, req);
    const msg = completion.choices[0].message;
    assert.deepEqual(JSON.parse(msg.content!), { city: 'Paris', population: 2102650 });
    assert.equal(msg.tool_calls, undefined);
    assert.equal(completion.choices[0].finish_reason, 'stop');
  });

  it('maps stop reasons', () => {
    const finish = (stop_reason: string) =>
      anthropicAdapter.fromUpstreamResponse({ id: 'msg_1', type: 'message', role: 'assistant', content: [], stop_reason }, target, chat({ messages: hello })).completion.choices[0]
        .finish_reason;
    assert.equal(finish('end_turn'), 'stop');
    assert.equal(finish('stop_sequence'), 'stop');
    assert.equal(finish('pause_turn'), 'stop');
    assert.equal(finish('max_tokens'), 'length');
    assert.equal(finish('refusal'), 'content_filter');
  });

  it('leaves usage undefined when none is reported, content null without text', () => {
    const { completion, usage } = anthropicAdapter.fromUpstreamResponse(
      { id: 'msg_2', type: 'message', role: 'assistant', content: [], stop_reason: 'end_turn' },
      target,
      chat({ messages: hello }),
    );
    assert.equal(usage, undefined);
    assert.equal(completion.usage, undefined);
    assert.equal(completion.choices[0].message.content, null);
  });

  it('throws on an error body or a body without content', () => {
    expectUpstreamError(() => anthropicAdapter.fromUpstreamResponse(fixtureJson('error-529.json'), target, chat({ messages: hello })), { status: 503, retryable: true });
    expectUpstreamError(() => anthropicAdapter.fromUpstreamResponse({ id: 'x' }, target, chat({ messages: hello })), { status: 502, code: 'upstream_malformed_response' });
  });
});

/** Compact view of chunks for exact comparison: one entry per chunk. */
function project(chunks: ChatChunk[]) {
  return chunks.map((c) => ({ ...c.choices[0].delta, ...(c.choices[0].finish_reason ? { finish: c.choices[0].finish_reason } : {}) }));
}

function decodeWhole(text: string, req = chat({ messages: hello })) {
  const d = anthropicAdapter.createStreamDecoder(target, req);
  const chunks = [...d.push(new TextEncoder().encode(text)), ...d.end()];
  return { chunks, usage: d.usage };
}

function decodeBytewise(text: string, req = chat({ messages: hello })) {
  const d = anthropicAdapter.createStreamDecoder(target, req);
  const bytes = new TextEncoder().encode(text);
  const chunks: ChatChunk[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(...d.push(bytes.subarray(i, i + 1)));
  chunks.push(...d.end());
  return { chunks, usage: d.usage };
}

describe('anthropic stream decoding', () => {
  const sse = fixture('stream-thinking-tool.sse');

  it('translates a full stream with thinking, text and a tool call', () => {
    const { chunks, usage } = decodeWhole(sse);
    assert.deepEqual(project(chunks), [
      { role: 'assistant', content: '' },
      { reasoning_content: 'The user wants the weather in Paris. ' },
      { reasoning_content: 'I should call get_weather with unit celsius.' },
      // The signature closes the thinking block, for a client to send back next turn.
      { thinking_blocks: [{ type: 'thinking', thinking: '', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds2VsbGL4W+ZXKkHKN6pQLpLQNNSwHLGHlgZQdL6ky1hBafSCRvNe/MO+SeKdaCokM8ttyl6WEo1EwR==' }] },
      { content: 'Let me check ' },
      { content: 'the weather in Paris for you.' },
      { tool_calls: [{ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"location": "Pa' } }] },
      { tool_calls: [{ index: 0, function: { arguments: 'ris, France", "unit"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ': "celsius"}' } }] },
      { finish: 'tool_calls' },
    ]);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, 'msg_01XFDUDYJgAACzvnptvVoYEL');
      assert.equal(c.created, chunks[0].created);
      assert.equal(c.model, 'claude-sonnet-4-5-20250929');
      assert.equal(c.usage, undefined);
    }
    // input_tokens excludes the cache fields; output comes from message_delta.
    assert.deepEqual(usage, { input: 472, cacheRead: 2048, cacheWrite: 1024, output: 89, reasoning: 0 });
  });

  it('gives the same result fed byte by byte', () => {
    const whole = decodeWhole(sse);
    const bytewise = decodeBytewise(sse);
    assert.deepEqual(bytewise.chunks, whole.chunks);
    assert.deepEqual(bytewise.usage, whole.usage);
  });

  it('throws a retryable 503 on an overloaded error event, after yielding what came before', () => {
    const d = anthropicAdapter.createStreamDecoder(target, chat({ messages: hello }));
    const events = fixture('stream-error.sse').split('\n\n').filter(Boolean);
    const before = events.slice(0, -1).flatMap((e) => d.push(new TextEncoder().encode(`${e}\n\n`)));
    assert.deepEqual(project(before), [{ role: 'assistant', content: '' }, { content: 'Once upon' }]);
    const err = expectUpstreamError(() => d.push(new TextEncoder().encode(`${events.at(-1)}\n\n`)), { status: 503, retryable: true, type: 'overloaded_error' });
    assert.equal(err.message, 'Overloaded');
    assert.deepEqual(d.usage, { input: 12, cacheRead: 0, cacheWrite: 0, output: 1, reasoning: 0 });
  });

  it('maps api_error and rate_limit_error events', () => {
    const errorEvent = (type: string) => `event: error\ndata: {"type":"error","error":{"type":"${type}","message":"boom"}}\n\n`;
    expectUpstreamError(() => decodeWhole(errorEvent('api_error')), { status: 502, retryable: true });
    expectUpstreamError(() => decodeWhole(errorEvent('rate_limit_error')), { status: 429, retryable: true, type: 'rate_limit_error' });
    expectUpstreamError(() => decodeWhole(errorEvent('invalid_request_error')), { status: 400, retryable: false });
  });

  it('throws a malformed-data error on bad JSON in an event', () => {
    const bad = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"\n\n';
    expectUpstreamError(() => decodeWhole(bad), { status: 502, code: 'upstream_malformed_response', retryable: true });
    expectUpstreamError(() => decodeWhole('event: content_block_delta\ndata: [1,2]\n\n'), { code: 'upstream_malformed_response' });
  });

  it('returns what it has when the stream is cut before message_delta', () => {
    const cut = sse.split('event: message_delta')[0];
    const { chunks, usage } = decodeWhole(cut);
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, null);
    assert.equal(chunks.length, 10);
    assert.deepEqual(usage, { input: 472, cacheRead: 2048, cacheWrite: 1024, output: 2, reasoning: 0 });
  });

  it('prefers non-zero input fields repeated in message_delta, and takes the last output count', () => {
    const text = [
      sseFrame({ event: 'message_start', data: { type: 'message_start', message: { id: 'msg_u', model: 'm', content: [], usage: { input_tokens: 0, output_tokens: 1 } } } }),
      sseFrame({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: null }, usage: { output_tokens: 10 } } }),
      sseFrame({
        event: 'message_delta',
        data: { type: 'message_delta', delta: { stop_reason: 'max_tokens' }, usage: { input_tokens: 30, cache_read_input_tokens: 0, cache_creation_input_tokens: 5, output_tokens: 20 } },
      }),
    ].join('');
    const { chunks, usage } = decodeWhole(text);
    assert.deepEqual(project(chunks), [{ role: 'assistant', content: '' }, { finish: 'length' }]);
    assert.deepEqual(usage, { input: 30, cacheRead: 0, cacheWrite: 5, output: 20, reasoning: 0 });
  });

  it('streams the forced json_schema tool input as content, finishing with stop', () => {
    const req = chat({ messages: hello, response_format: { type: 'json_schema', json_schema: { name: 'city_info', schema: { type: 'object' } } } });
    const text = [
      { event: 'message_start', data: { type: 'message_start', message: { id: 'msg_s', model: 'm', content: [], usage: { input_tokens: 5, output_tokens: 1 } } } },
      { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_s', name: 'city_info', input: {} } } },
      { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city":' } } },
      { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: ' "Paris"}' } } },
      { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
      { event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } } },
      { event: 'message_stop', data: { type: 'message_stop' } },
    ]
      .map(sseFrame)
      .join('');
    const { chunks } = decodeWhole(text, req);
    assert.deepEqual(project(chunks), [{ role: 'assistant', content: '' }, { content: '{"city":' }, { content: ' "Paris"}' }, { finish: 'stop' }]);
  });
});

describe('anthropic HTTP error mapping', () => {
  it('keeps a 400 as a non-retryable invalid request with the provider message', () => {
    const err = anthropicAdapter.fromUpstreamError(400, fixture('error-400.json'), {}) as UpstreamError;
    assert.ok(err instanceof UpstreamError);
    assert.equal(err.status, 400);
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.retryable, false);
    assert.equal(err.message, 'messages.1.content.0.tool_use.input: Input should be a valid dictionary');
    assert.equal(err.upstreamStatus, 400);
  });

  it('makes a 429 retryable with its Retry-After', () => {
    const err = anthropicAdapter.fromUpstreamError(429, fixture('error-429.json'), { 'retry-after': '30' }) as UpstreamError;
    assert.equal(err.status, 429);
    assert.equal(err.type, 'rate_limit_error');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfter, 30);
    assert.match(err.message, /rate limit/);
  });

  it('maps 529 overloaded to a retryable 503', () => {
    const err = anthropicAdapter.fromUpstreamError(529, fixture('error-529.json'), {}) as UpstreamError;
    assert.equal(err.status, 503);
    assert.equal(err.type, 'overloaded_error');
    assert.equal(err.retryable, true);
    assert.equal(err.upstreamStatus, 529);
    assert.equal(err.message, 'Overloaded');
  });

  it('maps 500, 401 and a non-JSON body', () => {
    const e500 = anthropicAdapter.fromUpstreamError(500, '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}', {}) as UpstreamError;
    assert.deepEqual([e500.status, e500.retryable, e500.message], [502, true, 'Internal server error']);
    const e401 = anthropicAdapter.fromUpstreamError(401, '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}', {}) as UpstreamError;
    assert.equal(e401.status, 502);
    assert.match(e401.message, /invalid x-api-key/);
    const html = anthropicAdapter.fromUpstreamError(502, '<html>Bad Gateway</html>', {}) as UpstreamError;
    assert.deepEqual([html.status, html.retryable, html.message], [502, true, '<html>Bad Gateway</html>']);
  });
});

describe('fakeAnthropic round trip', () => {
  const fakeReq = (body: Record<string, unknown>): FakeRequest => ({
    method: 'POST',
    url: '/v1/messages',
    path: '/v1/messages',
    query: new URLSearchParams(),
    headers: {},
    rawBody: Buffer.from(JSON.stringify(body)),
    body,
  });
  const turn: ScriptedTurn = {
    reasoning: 'Think about the weather.',
    text: 'Checking now.',
    toolCalls: [
      { id: 'toolu_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { id: 'toolu_b', name: 'get_weather', arguments: '{"city":"Bergen"}' },
    ],
    usage: { input: 40, output: 25, cacheRead: 100, cacheWrite: 7, reasoning: 6 },
  };

  it('renders a stream our decoder accepts', () => {
    const reply = fakeAnthropic.reply(turn, true, fakeReq({ model: 'claude-x', stream: true }));
    assert.ok('sse' in reply);
    const { chunks, usage } = decodeBytewise(reply.sse.map(sseFrame).join(''));
    const deltas = chunks.map((c) => c.choices[0].delta);
    assert.deepEqual(deltas[0], { role: 'assistant', content: '' });
    assert.equal(deltas.map((d) => d.reasoning_content ?? '').join(''), 'Think about the weather.');
    assert.equal(deltas.map((d) => d.content ?? '').join(''), 'Checking now.');
    const args = [0, 1].map((i) =>
      deltas
        .flatMap((d) => d.tool_calls ?? [])
        .filter((t) => t.index === i)
        .map((t) => t.function?.arguments ?? '')
        .join(''),
    );
    assert.deepEqual(args, ['{"city":"Oslo"}', '{"city":"Bergen"}']);
    const starts = deltas.flatMap((d) => d.tool_calls ?? []).filter((t) => t.id);
    assert.deepEqual(starts.map((t) => [t.index, t.id, t.function?.name]), [
      [0, 'toolu_a', 'get_weather'],
      [1, 'toolu_b', 'get_weather'],
    ]);
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(usage, { input: 40, cacheRead: 100, cacheWrite: 7, output: 25, reasoning: 6 });
  });

  it('renders a JSON message our response translation accepts', () => {
    const reply = fakeAnthropic.reply({ text: 'Hi there', finish: 'length', usage: { input: 3, output: 2 } }, false, fakeReq({ model: 'claude-x' }));
    assert.ok('json' in reply);
    const { completion, usage } = anthropicAdapter.fromUpstreamResponse(reply.json, target, chat({ messages: hello }));
    assert.equal(completion.choices[0].message.content, 'Hi there');
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.equal(completion.model, 'claude-x');
    assert.deepEqual(usage, { input: 3, cacheRead: 0, cacheWrite: 0, output: 2, reasoning: 0 });
  });

  it('renders stream without usage when asked to omit it', () => {
    const reply = fakeAnthropic.reply({ text: 'x', omitUsage: true }, true, fakeReq({ stream: true }));
    assert.ok('sse' in reply);
    const { usage, chunks } = decodeWhole(reply.sse.map(sseFrame).join(''));
    assert.equal(usage, undefined);
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'stop');
  });

  it('renders error bodies our error mapping reads', () => {
    const cases: [number, string, number, boolean][] = [
      [400, 'invalid_request_error', 400, false],
      [404, 'not_found_error', 404, false],
      [429, 'rate_limit_error', 429, true],
      [500, 'api_error', 502, true],
      [529, 'overloaded_error', 503, true],
    ];
    for (const [status, wireType, clientStatus, retryable] of cases) {
      const reply = fakeAnthropic.error(status, 'nope');
      assert.ok('json' in reply);
      assert.equal((reply.json as any).error.type, wireType);
      const err = anthropicAdapter.fromUpstreamError(status, JSON.stringify(reply.json), {}) as UpstreamError;
      assert.deepEqual([err.status, err.retryable, err.message], [clientStatus, retryable, 'nope'], `status ${status}`);
    }
  });

  it('reads the Anthropic request body for scripts', () => {
    const req = fakeReq({
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'get_weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }, { type: 'text', text: 'second' }] },
      ],
    });
    assert.equal(fakeAnthropic.isStream(req), false);
    assert.equal(fakeAnthropic.lastUserText(req), 'second');
    assert.deepEqual(fakeAnthropic.toolNames(req), ['get_weather']);
  });
});

describe('anthropic adapter over HTTP (fake upstream)', () => {
  let up: FakeUpstream;
  before(async () => {
    up = await startFakeUpstream();
  });
  after(async () => {
    await up.close();
    await closeTransport();
  });
  const opts = { firstByteTimeoutMs: 5000, idleTimeoutMs: 5000 };

  it('sends the Messages request and decodes the stream', async () => {
    up.setHandler(scripted(fakeAnthropic, (req) => ({ text: `echo: ${fakeAnthropic.lastUserText(req)}`, usage: { input: 4, output: 3, cacheRead: 2 } })));
    const t = { provider: provider({ baseUrl: up.url }), model: 'claude-haiku-4-5' };
    const client = httpProviderClient(anthropicAdapter);
    const stream = await client.chatStream(t, chat({ messages: [{ role: 'user', content: 'ping' }] }), opts);
    let text = '';
    for (const c of await readChunks(stream)) text += c.choices[0].delta.content ?? '';
    assert.equal(text, 'echo: ping');
    assert.deepEqual(stream.usage, { input: 4, cacheRead: 2, cacheWrite: 0, output: 3, reasoning: 0 });
    const sent = up.requests.at(-1)!;
    assert.equal(sent.path, '/v1/messages');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-test-key');
    assert.equal(sent.headers['anthropic-version'], '2023-06-01');
    assert.equal(sent.headers['anthropic-beta'], 'context-1m-2025-08-07');
    assert.equal(sent.body.stream, true);
    assert.equal(sent.body.model, 'claude-haiku-4-5');
  });

  it('surfaces a 529 as a retryable 503', async () => {
    up.setHandler(() => fakeAnthropic.error(529, 'Overloaded'));
    const t = { provider: provider({ baseUrl: up.url }), model: 'claude-haiku-4-5' };
    await assert.rejects(httpProviderClient(anthropicAdapter).chat(t, chat({ messages: hello }), opts), (err: unknown) => {
      assert.ok(err instanceof UpstreamError);
      assert.equal(err.status, 503);
      assert.equal(err.retryable, true);
      return true;
    });
  });
});
