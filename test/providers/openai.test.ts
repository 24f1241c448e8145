import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChatRequestSchema, EmbeddingsRequestSchema } from '../../src/providers/chat-schema.ts';
import type { ChatChunk, ChatRequest, ResolvedProvider, StreamDecoder, UpstreamTarget } from '../../src/providers/types.ts';
import { UpstreamError } from '../../src/providers/errors.ts';
import {
  fromEmbeddingsResponse,
  fromUpstreamError,
  fromUpstreamResponse,
  fromUpstreamUsage,
  openaiAdapter,
  toEmbeddingsRequest,
  toUpstreamRequest,
} from '../../src/providers/openai/index.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/openai/${name}`, import.meta.url), 'utf8');
const fixtureJson = (name: string) => JSON.parse(fixture(name));

const provider = (over: Partial<ResolvedProvider> = {}): ResolvedProvider => ({
  id: 'openai',
  type: 'openai',
  preset: 'openai',
  baseUrl: 'https://api.openai.com/v1',
  apiKey: 'sk-test-123',
  headers: {},
  streamUsageOption: true,
  ...over,
});
const target = (over: Partial<ResolvedProvider> = {}, model = 'gpt-4o-mini'): UpstreamTarget => ({ provider: provider(over), model });
const chat = (body: Record<string, unknown> = {}): ChatRequest =>
  ChatRequestSchema.parse({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body });
const bodyOf = (t: UpstreamTarget, req: ChatRequest, stream: boolean) => JSON.parse(toUpstreamRequest(t, req, stream).body!);

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error to be thrown');
}

function expectUpstreamError(fn: () => unknown, check: Record<string, unknown>): UpstreamError {
  const err = catchError(fn);
  assert.ok(err instanceof UpstreamError, `expected an UpstreamError, got ${String(err)}`);
  for (const [k, v] of Object.entries(check)) assert.deepEqual((err as any)[k], v, `error.${k}`);
  return err;
}

const enc = new TextEncoder();

function decodeWhole(text: string, decoder: StreamDecoder = openaiAdapter.createStreamDecoder(target(), chat())): { chunks: ChatChunk[]; decoder: StreamDecoder } {
  const chunks = [...decoder.push(enc.encode(text)), ...decoder.end()];
  return { chunks, decoder };
}

function decodeByteByByte(text: string): { chunks: ChatChunk[]; decoder: StreamDecoder } {
  const decoder = openaiAdapter.createStreamDecoder(target(), chat());
  const bytes = enc.encode(text);
  const chunks: ChatChunk[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(...decoder.push(bytes.subarray(i, i + 1)));
  chunks.push(...decoder.end());
  return { chunks, decoder };
}

describe('openai request building', () => {
  it('posts to <base>/chat/completions with a bearer key and the upstream model id', () => {
    const up = toUpstreamRequest(target({}, 'gpt-4o-mini-2024-07-18'), chat(), false);
    assert.equal(up.method, 'POST');
    assert.equal(up.url, 'https://api.openai.com/v1/chat/completions');
    assert.deepEqual(up.headers, { 'content-type': 'application/json', authorization: 'Bearer sk-test-123' });
    const body = JSON.parse(up.body!);
    assert.equal(body.model, 'gpt-4o-mini-2024-07-18');
    assert.equal(body.stream, false);
    assert.deepEqual(body.messages, [{ role: 'user', content: 'Hi' }]);
  });

  it('sends no authorization header when the provider has no key, and keeps provider headers', () => {
    const up = toUpstreamRequest(target({ apiKey: undefined, baseUrl: 'http://127.0.0.1:11434/v1', headers: { 'x-title': 'switchyard' } }), chat(), false);
    assert.equal(up.url, 'http://127.0.0.1:11434/v1/chat/completions');
    assert.deepEqual(up.headers, { 'content-type': 'application/json', 'x-title': 'switchyard' });
  });

  it('asks for stream usage with stream_options.include_usage when streaming', () => {
    const body = bodyOf(target(), chat(), true);
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('keeps other stream_options the client sent and forces include_usage on', () => {
    const body = bodyOf(target(), chat({ stream_options: { include_usage: false, include_obfuscation: false } }), true);
    assert.deepEqual(body.stream_options, { include_usage: true, include_obfuscation: false });
  });

  it('sends an output limit as max_completion_tokens to OpenAI and as max_tokens elsewhere', () => {
    const openai = bodyOf(target({ maxCompletionTokens: true }, 'o3-mini'), chat({ max_tokens: 300 }), false);
    assert.equal(openai.max_completion_tokens, 300);
    assert.equal('max_tokens' in openai, false);
    const both = bodyOf(target({ maxCompletionTokens: true }), chat({ max_tokens: 300, max_completion_tokens: 200 }), false);
    assert.deepEqual([both.max_completion_tokens, 'max_tokens' in both], [200, false]);
    const groq = bodyOf(target({ preset: 'groq', baseUrl: 'https://api.groq.com/openai/v1' }), chat({ max_tokens: 300 }), false);
    assert.deepEqual([groq.max_tokens, 'max_completion_tokens' in groq], [300, false]);
  });

  it('leaves Anthropic thinking_blocks out of the messages it sends, and the rest of them as they were', () => {
    const blocks = [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }];
    const messages = [
      { role: 'user' as const, content: 'hi' },
      { role: 'assistant' as const, content: 'hello', reasoning_content: 'hmm', thinking_blocks: blocks },
      { role: 'user' as const, content: 'again' },
    ];
    const body = bodyOf(target(), chat({ messages }), false);
    assert.deepEqual(body.messages, [messages[0], { role: 'assistant', content: 'hello', reasoning_content: 'hmm' }, messages[2]]);
    assert.deepEqual(messages[1]!.thinking_blocks, blocks, 'the request itself is not changed');
  });

  it('adds no stream_options when the provider does not support them (streamUsageOption=false)', () => {
    const body = bodyOf(target({ preset: 'mistral', baseUrl: 'https://api.mistral.ai/v1', streamUsageOption: false }), chat(), true);
    assert.equal(body.stream, true);
    assert.equal('stream_options' in body, false);
  });

  it('drops stream_options from a non-streaming request', () => {
    const body = bodyOf(target(), chat({ stream_options: { include_usage: true } }), false);
    assert.equal(body.stream, false);
    assert.equal('stream_options' in body, false);
  });

  it('passes unknown request fields through unchanged', () => {
    const req = chat({
      prediction: { type: 'content', content: 'draft' },
      service_tier: 'flex',
      web_search_options: { search_context_size: 'low' },
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }],
      temperature: 0.2,
    });
    const body = bodyOf(target(), req, false);
    assert.deepEqual(body.prediction, { type: 'content', content: 'draft' });
    assert.equal(body.service_tier, 'flex');
    assert.deepEqual(body.web_search_options, { search_context_size: 'low' });
    assert.equal(body.temperature, 0.2);
    assert.equal(body.tools[0].function.name, 'get_weather');
  });

  it('builds Azure deployment URLs with api-version and an api-key header', () => {
    const azure = { id: 'azure', preset: 'azure', baseUrl: 'https://my-res.openai.azure.com', apiKey: 'azure-key-1' };
    const up = toUpstreamRequest(target(azure, 'gpt4o prod'), chat(), false);
    assert.equal(up.url, 'https://my-res.openai.azure.com/openai/deployments/gpt4o%20prod/chat/completions?api-version=2024-10-21');
    assert.equal(up.headers['api-key'], 'azure-key-1');
    assert.equal(up.headers.authorization, undefined);

    const pinned = toUpstreamRequest(target({ ...azure, apiVersion: '2025-04-01-preview' }, 'gpt-4o'), chat(), true);
    assert.equal(pinned.url, 'https://my-res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2025-04-01-preview');
  });
});

describe('openai usage mapping', () => {
  it('subtracts cached tokens from input and keeps reasoning inside output', () => {
    assert.deepEqual(fromUpstreamUsage(fixtureJson('response-tool-calls.json').usage), {
      input: 2006 - 1920,
      cacheRead: 1920,
      cacheWrite: 0,
      output: 300,
      reasoning: 192,
    });
  });

  it('reads DeepSeek prompt_cache_hit_tokens', () => {
    assert.deepEqual(fromUpstreamUsage(fixtureJson('usage-deepseek.json')), { input: 256, cacheRead: 1280, cacheWrite: 0, output: 410, reasoning: 350 });
  });

  it('subtracts cache_write_tokens as well, and accepts input_tokens/output_tokens names', () => {
    assert.deepEqual(
      fromUpstreamUsage({ prompt_tokens: 1000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 300, cache_write_tokens: 200 } }),
      { input: 500, cacheRead: 300, cacheWrite: 200, output: 10, reasoning: 0 },
    );
    assert.deepEqual(
      fromUpstreamUsage({ input_tokens: 50, output_tokens: 7, input_tokens_details: { cached_tokens: 20 }, output_tokens_details: { reasoning_tokens: 4 } }),
      { input: 30, cacheRead: 20, cacheWrite: 0, output: 7, reasoning: 4 },
    );
  });

  it('ignores missing, negative and non-numeric counts and never goes below zero', () => {
    assert.equal(fromUpstreamUsage(undefined), undefined);
    assert.equal(fromUpstreamUsage(null), undefined);
    assert.deepEqual(fromUpstreamUsage({}), { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    assert.deepEqual(fromUpstreamUsage({ prompt_tokens: '12', completion_tokens: -3 }), { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    assert.deepEqual(fromUpstreamUsage({ prompt_tokens: 5, prompt_tokens_details: { cached_tokens: 9 } }), { input: 0, cacheRead: 9, cacheWrite: 0, output: 0, reasoning: 0 });
  });
});

describe('openai response validation', () => {
  it('returns the completion untouched with mapped usage', () => {
    const body = fixtureJson('response-tool-calls.json');
    const { completion, usage } = fromUpstreamResponse(body);
    assert.equal(completion.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(
      completion.choices[0].message.tool_calls!.map((t) => [t.id, t.function.name, JSON.parse(t.function.arguments)]),
      [
        ['call_DdmO9pD3xa9XTPNJ32zg2hcA', 'get_weather', { location: 'Paris, France', unit: 'celsius' }],
        ['call_ABb9xO8a3cZ6PqLhW0mVtRk1', 'get_time', { timezone: 'Europe/Paris' }],
      ],
    );
    assert.equal(completion.service_tier, 'default');
    assert.deepEqual(usage, { input: 86, cacheRead: 1920, cacheWrite: 0, output: 300, reasoning: 192 });
  });

  it('reports usage as undefined when the upstream sent none', () => {
    const body = fixtureJson('response-tool-calls.json');
    delete body.usage;
    assert.equal(fromUpstreamResponse(body).usage, undefined);
  });

  it('rejects a body without a choices array as a malformed 502', () => {
    for (const body of [{ id: 'x', object: 'chat.completion' }, { choices: null }, null, 'text', []]) {
      expectUpstreamError(() => fromUpstreamResponse(body), { status: 502, code: 'upstream_malformed_response', retryable: true });
    }
  });

  it('turns an error object next to choices into an UpstreamError', () => {
    const err = expectUpstreamError(() => fromUpstreamResponse({ choices: [], error: { message: 'Provider returned error', code: 429 } }), {
      status: 429,
      retryable: true,
      upstreamStatus: 429,
    });
    assert.equal(err.message, 'Provider returned error');
  });

  it(
    'turns a 200 body holding only an error object into that error, not a malformed-response error',

    () => {
      const err = expectUpstreamError(() => fromUpstreamResponse({ error: { message: 'No endpoints found that support tool use.', code: 404 } }), {
        status: 404,
        upstreamStatus: 404,
      });
      assert.equal(err.message, 'No endpoints found that support tool use.');
    },
  );
});

describe('openai stream decoder', () => {
  const text = fixture('stream-text-tool.sse');

  it('gives identical chunks whether fed whole or byte by byte', () => {
    const whole = decodeWhole(text);
    const bytes = decodeByteByByte(text);
    assert.equal(whole.chunks.length, 8);
    assert.deepEqual(bytes.chunks, whole.chunks);
    assert.deepEqual(bytes.decoder.usage, whole.decoder.usage);
  });

  it('decodes text, a tool call split over deltas, and the finish reason', () => {
    const { chunks } = decodeWhole(text);
    const content = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    assert.equal(content, 'Voilà, je vérifie ☀️');
    const calls = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
    assert.equal(calls[0].id, 'call_q7Zt4mWk0bXy9LdRfPe2HsVu');
    assert.equal(calls[0].function!.name, 'get_weather');
    assert.deepEqual(JSON.parse(calls.map((t) => t.function?.arguments ?? '').join('')), { location: 'Paris, France' });
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'tool_calls');
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-BtXA1nQe7dW2rZk5yLm8pVc0sJhG'));
  });

  it('absorbs the usage-only chunk into decoder.usage without emitting it, and strips usage: null', () => {
    const { chunks, decoder } = decodeWhole(text);
    assert.ok(chunks.every((c) => c.choices.length > 0));
    assert.ok(chunks.every((c) => !('usage' in c)), 'usage keys are removed from emitted chunks');
    assert.deepEqual(decoder.usage, { input: 260, cacheRead: 1024, cacheWrite: 0, output: 31, reasoning: 0 });
  });

  it('has no usage when the stream carried none', () => {
    const noUsage = text
      .split('\n\n')
      .filter((e) => !e.includes('"choices":[]'))
      .join('\n\n');
    const { chunks, decoder } = decodeWhole(noUsage);
    assert.equal(chunks.length, 8);
    assert.equal(decoder.usage, undefined);
  });

  it('reads Groq usage from x_groq.usage and still emits that chunk', () => {
    const { chunks, decoder } = decodeWhole(fixture('stream-groq.sse'));
    assert.equal(chunks.length, 3);
    assert.equal(chunks[2].choices[0].finish_reason, 'stop');
    assert.deepEqual(decoder.usage, { input: 41, cacheRead: 0, cacheWrite: 0, output: 3, reasoning: 0 });
  });

  it('emits the chunks before an in-stream error, then throws an UpstreamError with its status', () => {
    const decoder = openaiAdapter.createStreamDecoder(target(), chat());
    const events = fixture('stream-error.sse').split('\n\n');
    const first = decoder.push(enc.encode(events[0] + '\n\n' + events[1] + '\n\n'));
    assert.equal(first.length, 1);
    assert.equal(first[0].choices[0].delta.content, 'Partial');
    const err = expectUpstreamError(() => decoder.push(enc.encode(events[2] + '\n\n')), { status: 502, upstreamStatus: 502, retryable: true, code: '502' });
    assert.equal(err.message, 'Provider returned error');
  });

  it('maps an in-stream error with a string code to a retryable 502', () => {
    const decoder = openaiAdapter.createStreamDecoder(target(), chat());
    const err = expectUpstreamError(
      () => decoder.push(enc.encode('data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","code":"server_error"}}\n\n')),
      { status: 502, retryable: true, code: 'server_error', type: 'server_error' },
    );
    assert.match(err.message, /server had an error/);
  });

  it('throws upstream_malformed_response on invalid JSON, also when it arrives only at end()', () => {
    const decoder = openaiAdapter.createStreamDecoder(target(), chat());
    expectUpstreamError(() => decoder.push(enc.encode('data: {"id":"x","choices":[\n\n')), { status: 502, code: 'upstream_malformed_response' });
    const late = openaiAdapter.createStreamDecoder(target(), chat());
    assert.deepEqual(late.push(enc.encode('data: not json')), []);
    expectUpstreamError(() => late.end(), { code: 'upstream_malformed_response' });
  });

  it('rejects events that are not objects or have no choices array', () => {
    const d1 = openaiAdapter.createStreamDecoder(target(), chat());
    expectUpstreamError(() => d1.push(enc.encode('data: 42\n\n')), { code: 'upstream_malformed_response' });
    const d2 = openaiAdapter.createStreamDecoder(target(), chat());
    expectUpstreamError(() => d2.push(enc.encode('data: {"id":"x","object":"chat.completion.chunk"}\n\n')), { code: 'upstream_malformed_response' });
  });

  it('ignores [DONE], comments and keep-alives', () => {
    const decoder = openaiAdapter.createStreamDecoder(target(), chat());
    assert.deepEqual(decoder.push(enc.encode(': keep-alive\n\ndata: [DONE]\n\n')), []);
    assert.deepEqual(decoder.end(), []);
    assert.equal(decoder.usage, undefined);
  });
});

describe('openai fromUpstreamError', () => {
  it('keeps message, code, type and param of a JSON error body', () => {
    const err = fromUpstreamError(400, fixture('error-400.json'), {});
    assert.ok(err instanceof UpstreamError);
    assert.equal(err.status, 400);
    assert.equal(err.message, "Invalid type for 'temperature': expected a decimal, but got a string instead.");
    assert.equal(err.code, 'invalid_type');
    assert.equal(err.type, 'invalid_request_error');
    assert.equal(err.param, 'temperature');
    assert.equal(err.retryable, false);
    assert.equal(err.upstreamStatus, 400);
  });

  it('makes 429 retryable and parses Retry-After seconds', () => {
    const err = fromUpstreamError(429, fixture('error-429.json'), { 'retry-after': '20', 'x-ratelimit-remaining-tokens': '788' });
    assert.equal(err.status, 429);
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfter, 20);
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.equal(err.type, 'tokens');
    assert.match(err.message, /^Rate limit reached for o4-mini/);
  });

  it('prefers retry-after-ms', () => {
    assert.equal(fromUpstreamError(429, fixture('error-429.json'), { 'retry-after-ms': '226', 'retry-after': '1' }).retryAfter, 0.226);
  });

  it('turns a 401 into a non-retryable 502 gateway fault that keeps the upstream text', () => {
    const err = fromUpstreamError(401, fixture('error-401.json'), {});
    assert.equal(err.status, 502);
    assert.equal(err.type, 'api_error');
    assert.equal(err.retryable, false);
    assert.equal(err.upstreamStatus, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.match(err.message, /^Upstream rejected the provider credentials: Incorrect API key provided/);
  });

  it('turns a 500 into a retryable 502 with a default code when the body has none', () => {
    const err = fromUpstreamError(500, '{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}', {});
    assert.equal(err.status, 502);
    assert.equal(err.retryable, true);
    assert.equal(err.upstreamStatus, 500);
    assert.equal(err.code, 'upstream_500');
    assert.equal(err.type, 'server_error');
    assert.equal(err.message, 'The server had an error while processing your request. Sorry about that!');
  });

  it('keeps a non-JSON body as the message and falls back to HTTP <status> for an empty one', () => {
    const html = '<html><body><h1>502 Bad Gateway</h1></body></html>';
    const err = fromUpstreamError(502, html, {});
    assert.equal(err.message, html);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_502');
    assert.equal(err.type, 'api_error');
    assert.equal(err.retryable, true);
    assert.equal(fromUpstreamError(503, '', {}).message, 'HTTP 503');
  });

  it('accepts a bare string error and a numeric code', () => {
    assert.equal(fromUpstreamError(400, '{"error":"model not found"}', {}).message, 'model not found');
    const err = fromUpstreamError(404, '{"message":"no such model","code":404}', {});
    assert.equal(err.message, 'no such model');
    assert.equal(err.code, '404');
    assert.equal(err.type, 'not_found_error');
  });
});

describe('openai embeddings', () => {
  it('builds the embeddings request with the upstream model and the same auth', () => {
    const req = EmbeddingsRequestSchema.parse({ model: 'openai/text-embedding-3-small', input: ['hello', 'world'], dimensions: 4, encoding_format: 'float' });
    const up = toEmbeddingsRequest(target({}, 'text-embedding-3-small'), req);
    assert.equal(up.method, 'POST');
    assert.equal(up.url, 'https://api.openai.com/v1/embeddings');
    assert.equal(up.headers.authorization, 'Bearer sk-test-123');
    assert.deepEqual(JSON.parse(up.body!), { model: 'text-embedding-3-small', input: ['hello', 'world'], dimensions: 4, encoding_format: 'float' });

    const az = toEmbeddingsRequest(target({ preset: 'azure', baseUrl: 'https://r.openai.azure.com', apiKey: 'k' }, 'embed-small'), req);
    assert.equal(az.url, 'https://r.openai.azure.com/openai/deployments/embed-small/embeddings?api-version=2024-10-21');
    assert.equal(az.headers['api-key'], 'k');
  });

  it('maps the embeddings response and its usage', () => {
    const res = fromEmbeddingsResponse(fixtureJson('embeddings-response.json'));
    assert.equal(res.data.length, 2);
    assert.deepEqual(res.data[1].embedding, [0.0118374, -0.0215211, 0.0069128, 0.0143651]);
    assert.deepEqual(res.usage, { input: 9, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    assert.equal(fromEmbeddingsResponse({ data: [] }).usage, undefined);
    assert.deepEqual(fromEmbeddingsResponse({ data: [], usage: { total_tokens: 4 } }).usage!.input, 4);
  });

  it('rejects an embeddings body without data as malformed', () => {
    expectUpstreamError(() => fromEmbeddingsResponse({ object: 'list' }), { status: 502, code: 'upstream_malformed_response' });
    expectUpstreamError(() => fromEmbeddingsResponse(null), { code: 'upstream_malformed_response' });
  });
});
