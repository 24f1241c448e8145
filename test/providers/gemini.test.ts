import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { geminiAdapter, SKIP_SIGNATURE, toUpstreamRequest } from '../../src/providers/gemini/index.ts';
import { httpProviderClient } from '../../src/providers/client.ts';
import { closeTransport } from '../../src/providers/transport.ts';
import { UpstreamError } from '../../src/providers/errors.ts';
import type { ChatChunk, ChatMessage, ChatRequest, EmbeddingsRequest, UpstreamTarget } from '../../src/providers/types.ts';
import { fakeGemini, FAKE_THOUGHT_SIGNATURE } from '../support/fake-gemini.ts';
import { scripted, type ScriptedTurn } from '../support/fake-script.ts';
import { startFakeUpstream, type FakeRequest, type FakeUpstream } from '../support/fake-upstream.ts';
import { readChunks } from '../support/chat-stream.ts';

// ---------------------------------------------------------------- helpers

const fixture = (name: string) => readFileSync(new URL(`../fixtures/gemini/${name}`, import.meta.url), 'utf8');
const fixtureJson = (name: string): unknown => JSON.parse(fixture(name));

function targetFor(baseUrl = 'https://generativelanguage.googleapis.com/v1beta', model = 'gemini-2.5-flash'): UpstreamTarget {
  return {
    provider: { id: 'gemini', type: 'gemini', preset: 'gemini', baseUrl, apiKey: 'test-key', headers: { 'x-goog-user-project': 'proj-1' }, streamUsageOption: false },
    model,
  };
}
const target = targetFor();

const chat = (over: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Hi' }], ...over });
const bodyOf = (r: ChatRequest, stream = false) => JSON.parse(toUpstreamRequest(target, r, stream).body!);

function expectUpstreamError(fn: () => unknown, check: (e: UpstreamError) => void): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof UpstreamError, `expected an UpstreamError, got ${String(caught)}`);
  check(caught);
}

function decode(bytes: Uint8Array, mode: 'whole' | 'byte'): { chunks: ChatChunk[]; usage: ReturnType<typeof geminiAdapter.createStreamDecoder>['usage'] } {
  const d = geminiAdapter.createStreamDecoder(target, chat());
  const chunks: ChatChunk[] = [];
  if (mode === 'whole') chunks.push(...d.push(bytes));
  else for (let i = 0; i < bytes.length; i++) chunks.push(...d.push(bytes.subarray(i, i + 1)));
  chunks.push(...d.end());
  return { chunks, usage: d.usage };
}

/** Generated tool call ids and the clock differ between runs; everything else must match exactly. */
function normalize(chunks: ChatChunk[]): ChatChunk[] {
  return JSON.parse(JSON.stringify(chunks), (key, value) => (key === 'created' ? 0 : key === 'id' && typeof value === 'string' && value.startsWith('call_') ? 'call_X' : value));
}

interface Assembled {
  content: string;
  reasoning: string;
  toolCalls: { id?: string; name?: string; arguments: string; signature?: string }[];
  finish: string | null;
}

/** Folds chunks back into one message, the way an OpenAI client does. */
function assemble(chunks: ChatChunk[]): Assembled {
  const out: Assembled = { content: '', reasoning: '', toolCalls: [], finish: null };
  for (const c of chunks) {
    for (const ch of c.choices) {
      out.content += ch.delta.content ?? '';
      out.reasoning += ch.delta.reasoning_content ?? '';
      for (const tc of ch.delta.tool_calls ?? []) {
        const slot = (out.toolCalls[tc.index] ??= { arguments: '' });
        if (tc.id) slot.id = tc.id;
        if (tc.function?.name) slot.name = tc.function.name;
        slot.arguments += tc.function?.arguments ?? '';
        const sig = (tc as { extra_content?: { google?: { thought_signature?: string } } }).extra_content?.google?.thought_signature;
        if (sig) slot.signature = sig;
      }
      if (ch.finish_reason) out.finish = ch.finish_reason;
    }
  }
  return out;
}

function fakeRequest(path: string, body: unknown = {}): FakeRequest {
  return { method: 'POST', url: path, path, query: new URLSearchParams(), headers: {}, rawBody: Buffer.from(JSON.stringify(body)), body };
}

function rawBytes(reply: ReturnType<typeof fakeGemini.reply>): Uint8Array {
  assert.ok('raw' in reply, 'stream reply is raw SSE');
  return Buffer.concat(reply.raw.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
}

// ---------------------------------------------------------------- request translation

describe('gemini request: endpoint and headers', () => {
  it('posts generateContent with the API key header and provider headers', () => {
    const r = toUpstreamRequest(target, chat(), false);
    assert.equal(r.method, 'POST');
    assert.equal(r.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(r.headers['x-goog-api-key'], 'test-key');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers['x-goog-user-project'], 'proj-1');
    assert.equal(r.headers.authorization, undefined);
  });

  it('streams through streamGenerateContent?alt=sse with the same body', () => {
    const r = toUpstreamRequest(target, chat(), true);
    assert.equal(r.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    assert.deepEqual(JSON.parse(r.body!), bodyOf(chat()));
  });

  it('keeps a full resource name as given', () => {
    const r = toUpstreamRequest(targetFor(undefined, 'tunedModels/my-tune-42'), chat(), false);
    assert.equal(r.url, 'https://generativelanguage.googleapis.com/v1beta/tunedModels/my-tune-42:generateContent');
  });
});

describe('gemini request: messages', () => {
  it('moves system and developer messages to systemInstruction and maps roles', () => {
    const b = bodyOf(
      chat({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: 'Hello' },
          { role: 'assistant', content: 'Bonjour' },
          { role: 'user', content: 'Capital of Italy?' },
        ],
      }),
    );
    assert.deepEqual(b.systemInstruction, { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    assert.deepEqual(b.contents, [
      { role: 'user', parts: [{ text: 'Hello' }] },
      { role: 'model', parts: [{ text: 'Bonjour' }] },
      { role: 'user', parts: [{ text: 'Capital of Italy?' }] },
    ]);
  });

  it('merges consecutive messages of the same role', () => {
    const b = bodyOf(chat({ messages: [{ role: 'user', content: 'one' }, { role: 'user', content: 'two' }] }));
    assert.deepEqual(b.contents, [{ role: 'user', parts: [{ text: 'one' }, { text: 'two' }] }]);
    assert.equal(b.systemInstruction, undefined);
  });

  it('sends data-URL images inline and remote images by reference', () => {
    const b = bodyOf(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Compare these' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/photos/cat.webp?size=large' } },
              { type: 'image_url', image_url: { url: 'https://example.com/render?id=7' } },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(b.contents[0].parts, [
      { text: 'Compare these' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/photos/cat.webp?size=large' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/render?id=7' } },
    ]);
  });

  it('sends audio and inline files as inlineData', () => {
    const b = bodyOf(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } },
              { type: 'file', file: { filename: 'report.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
              { type: 'image_url', image_url: { url: 'data:text/plain,hi%20there' } },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(b.contents[0].parts, [
      { inlineData: { mimeType: 'audio/wav', data: 'UklGRg==' } },
      { inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } },
      { inlineData: { mimeType: 'text/plain', data: Buffer.from('hi there').toString('base64') } },
    ]);
  });

  it('refuses image URLs it cannot send', () => {
    const r = chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }] }] });
    expectUpstreamError(
      () => toUpstreamRequest(target, r, false),
      (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.param, 'messages[0].content[0].image_url.url');
      },
    );
  });

  it('turns assistant tool calls into functionCall parts and tool results into functionResponse parts', () => {
    const b = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'Weather in Paris and London?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' }, extra_content: { google: { thought_signature: 'SIG1' } } },
              { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"city":"London"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_b', content: 'It is 14:05' },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp_c":21,"sky":"clear"}' },
          { role: 'user', content: 'Thanks' },
        ],
      }),
    );
    assert.deepEqual(b.contents, [
      { role: 'user', parts: [{ text: 'Weather in Paris and London?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'SIG1' },
          { functionCall: { name: 'get_time', args: { city: 'London' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_time', response: { content: 'It is 14:05' } } },
          { functionResponse: { name: 'get_weather', response: { temp_c: 21, sky: 'clear' } } },
          { text: 'Thanks' },
        ],
      },
    ]);
  });

  it('marks a replayed function call without its signature with the documented skip sentinel', () => {
    const b = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'x1', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
          { role: 'tool', tool_call_id: 'x1', content: '[1,2]' },
        ],
      }),
    );
    assert.deepEqual(b.contents[1].parts, [{ text: 'Checking.' }, { functionCall: { name: 'get_weather', args: {} }, thoughtSignature: SKIP_SIGNATURE }]);
    // A JSON array is not an object: it is wrapped like text.
    assert.deepEqual(b.contents[2].parts[0].functionResponse.response, { content: '[1,2]' });
  });

  it('answers 400 for tool call arguments that are not JSON', () => {
    const r = chat({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"city": Par' } }] },
      ],
    });
    expectUpstreamError(
      () => toUpstreamRequest(target, r, false),
      (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.retryable, false);
        assert.equal(e.param, 'messages[1].tool_calls[0].function.arguments');
      },
    );
  });

  it('answers 400 for a tool result whose call it cannot find', () => {
    const r = chat({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] });
    expectUpstreamError(
      () => toUpstreamRequest(target, r, false),
      (e) => assert.equal(e.param, 'messages[1].tool_call_id'),
    );
  });
});

describe('gemini request: tools', () => {
  const tools: ChatRequest['tools'] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather',
        strict: true,
        parameters: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: {
            city: { type: 'string', description: 'City name' },
            $schema: { type: 'string', description: 'a parameter that happens to be called $schema' },
            unit: { anyOf: [{ type: 'string', enum: ['c', 'f'], $comment: 'short' }, { type: 'null' }] },
            where: { $ref: '#/$defs/place', description: 'dropped: nothing may sit beside $ref' },
          },
          $defs: { place: { type: 'object', properties: { lat: { type: 'number' } }, additionalProperties: false } },
          required: ['city'],
          additionalProperties: false,
        },
      },
    },
    { type: 'function', function: { name: 'ping', parameters: { type: 'object', properties: {} } } },
  ];

  it('declares functions with cleaned JSON Schema in parametersJsonSchema', () => {
    const b = bodyOf(chat({ tools }));
    assert.deepEqual(b.tools, [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Current weather',
            parametersJsonSchema: {
              type: 'object',
              properties: {
                city: { type: 'string', description: 'City name' },
                $schema: { type: 'string', description: 'a parameter that happens to be called $schema' },
                unit: { anyOf: [{ type: 'string', enum: ['c', 'f'] }, { type: 'null' }] },
                where: { $ref: '#/$defs/place' },
              },
              $defs: { place: { type: 'object', properties: { lat: { type: 'number' } }, additionalProperties: false } },
              required: ['city'],
              additionalProperties: false,
            },
          },
          { name: 'ping' },
        ],
      },
    ]);
    assert.equal(b.toolConfig, undefined);
  });

  it('maps every tool_choice form onto functionCallingConfig', () => {
    assert.deepEqual(bodyOf(chat({ tools, tool_choice: 'auto' })).toolConfig, { functionCallingConfig: { mode: 'AUTO' } });
    assert.deepEqual(bodyOf(chat({ tools, tool_choice: 'none' })).toolConfig, { functionCallingConfig: { mode: 'NONE' } });
    assert.deepEqual(bodyOf(chat({ tools, tool_choice: 'required' })).toolConfig, { functionCallingConfig: { mode: 'ANY' } });
    assert.deepEqual(bodyOf(chat({ tools, tool_choice: { type: 'function', function: { name: 'ping' } } })).toolConfig, {
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['ping'] },
    });
  });
});

describe('gemini request: generation config', () => {
  it('maps sampling, limits, stops, candidates, penalties, seed and logprobs', () => {
    const b = bodyOf(
      chat({
        temperature: 0.3,
        top_p: 0.9,
        max_tokens: 100,
        max_completion_tokens: 250,
        stop: ['END', '###'],
        n: 2,
        seed: 42,
        presence_penalty: 0.5,
        frequency_penalty: -0.25,
        logprobs: true,
        top_logprobs: 3,
        user: 'u-1',
        logit_bias: { '50256': -100 },
        parallel_tool_calls: false,
        store: true,
      } as Partial<ChatRequest>),
    );
    assert.deepEqual(b.generationConfig, {
      temperature: 0.3,
      topP: 0.9,
      maxOutputTokens: 250,
      stopSequences: ['END', '###'],
      candidateCount: 2,
      seed: 42,
      presencePenalty: 0.5,
      frequencyPenalty: -0.25,
      responseLogprobs: true,
      logprobs: 3,
    });
    assert.deepEqual(Object.keys(b).sort(), ['contents', 'generationConfig']);
  });

  it('sends no generationConfig when nothing is set, and a single stop as a list', () => {
    assert.equal(bodyOf(chat()).generationConfig, undefined);
    assert.deepEqual(bodyOf(chat({ stop: 'STOP', max_tokens: 10 })).generationConfig, { maxOutputTokens: 10, stopSequences: ['STOP'] });
  });

  it('maps json_object and json_schema response formats', () => {
    assert.deepEqual(bodyOf(chat({ response_format: { type: 'json_object' } })).generationConfig, { responseMimeType: 'application/json' });
    const schema = { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false };
    assert.deepEqual(bodyOf(chat({ response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema } } })).generationConfig, {
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'], additionalProperties: false },
    });
    assert.equal(bodyOf(chat({ response_format: { type: 'text' } })).generationConfig, undefined);
  });

  it('maps reasoning_effort to a thinking budget with thought summaries on', () => {
    assert.deepEqual(bodyOf(chat({ reasoning_effort: 'low' })).generationConfig, { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } });
    assert.deepEqual(bodyOf(chat({ reasoning_effort: 'high' })).generationConfig.thinkingConfig.thinkingBudget, 24576);
  });

  it('maps reasoning_effort none to thinking off and xhigh to the largest budget', () => {
    assert.deepEqual(bodyOf(chat({ reasoning_effort: 'none' })).generationConfig, { thinkingConfig: { thinkingBudget: 0 } });
    assert.deepEqual(bodyOf(chat({ reasoning_effort: 'xhigh' })).generationConfig, { thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } });
  });
});

// ---------------------------------------------------------------- response translation

describe('gemini response', () => {
  it('translates a text response', () => {
    const { completion, usage } = geminiAdapter.fromUpstreamResponse(fixtureJson('response-text.json'), target, chat());
    assert.equal(completion.id, 'xLIjaaOSB5-2nvgPq8aQyAQ');
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, 'gemini-2.5-flash');
    assert.deepEqual(completion.choices, [{ index: 0, message: { role: 'assistant', content: 'The capital of France is **Paris**.' }, finish_reason: 'stop' }]);
    // Thoughts were not returned but are billed: output = candidates + thoughts.
    assert.deepEqual(usage, { input: 9, cacheRead: 0, cacheWrite: 0, output: 36, reasoning: 28 });
    assert.deepEqual(completion.usage, {
      prompt_tokens: 9,
      completion_tokens: 36,
      total_tokens: 45,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 28 },
    });
  });

  it('translates function calls with generated ids and keeps the thought signature', () => {
    const { completion } = geminiAdapter.fromUpstreamResponse(fixtureJson('response-function-call.json'), target, chat());
    const [choice] = completion.choices;
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, null);
    const calls = choice.message.tool_calls!;
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((c) => [c.type, c.function.name, JSON.parse(c.function.arguments)]),
      [
        ['function', 'get_weather', { city: 'Paris', unit: 'celsius' }],
        ['function', 'get_weather', { city: 'London', unit: 'celsius' }],
      ],
    );
    for (const c of calls) assert.match(c.id, /^call_[0-9a-f]{24}$/);
    assert.notEqual(calls[0].id, calls[1].id);
    assert.match((calls[0] as any).extra_content.google.thought_signature, /^CiQBVKhc/);
    assert.equal((calls[1] as any).extra_content, undefined);
  });

  it('replays a returned call and its signature into the next request unchanged', () => {
    const { completion } = geminiAdapter.fromUpstreamResponse(fixtureJson('response-function-call.json'), target, chat());
    const msg = completion.choices[0].message;
    const next = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'Weather?' },
          // ToolCall (types.ts) has no index signature, the loose request schema type does: hence the cast.
          { role: 'assistant', content: msg.content, tool_calls: msg.tool_calls as ChatMessage['tool_calls'] },
          { role: 'tool', tool_call_id: msg.tool_calls![0].id, content: '{"temp":18}' },
          { role: 'tool', tool_call_id: msg.tool_calls![1].id, content: '{"temp":12}' },
        ],
      }),
    );
    const original = (fixtureJson('response-function-call.json') as any).candidates[0].content.parts;
    assert.deepEqual(next.contents[1].parts, original);
    assert.deepEqual(
      next.contents[2].parts.map((p: any) => p.functionResponse.name),
      ['get_weather', 'get_weather'],
    );
  });

  it('puts thought parts in reasoning_content and subtracts cached tokens from input', () => {
    const { completion, usage } = geminiAdapter.fromUpstreamResponse(fixtureJson('response-thoughts-cached.json'), target, chat());
    const m = completion.choices[0].message;
    assert.equal(m.content, "Either party may terminate with 30 days' written notice (section 12.2).");
    assert.match(m.reasoning_content!, /^\*\*Checking the clause\*\*/);
    assert.deepEqual(usage, { input: 102, cacheRead: 2048, cacheWrite: 0, output: 430, reasoning: 310 });
    assert.equal(completion.usage!.prompt_tokens, 2150);
  });

  it('counts tool-use prompt tokens as input and leaves usage undefined when none is reported', () => {
    const body = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 50, cachedContentTokenCount: 20, toolUsePromptTokenCount: 7, candidatesTokenCount: 3, totalTokenCount: 60 },
    };
    assert.deepEqual(geminiAdapter.fromUpstreamResponse(body, target, chat()).usage, { input: 37, cacheRead: 20, cacheWrite: 0, output: 3, reasoning: 0 });
    const bare = geminiAdapter.fromUpstreamResponse({ candidates: body.candidates }, target, chat());
    assert.equal(bare.usage, undefined);
    assert.equal(bare.completion.usage, undefined);
    assert.match(bare.completion.id, /^chatcmpl-/);
    assert.equal(bare.completion.model, 'gemini-2.5-flash');
  });

  it('maps finish reasons', () => {
    const finish = (finishReason: string) =>
      geminiAdapter.fromUpstreamResponse({ candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason }] }, target, chat()).completion.choices[0].finish_reason;
    assert.equal(finish('STOP'), 'stop');
    assert.equal(finish('MAX_TOKENS'), 'length');
    for (const r of ['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY']) assert.equal(finish(r), 'content_filter', r);
    assert.equal(finish('MALFORMED_FUNCTION_CALL'), 'stop');
    assert.equal(finish('OTHER'), 'stop');
  });

  it('returns one choice per candidate, by index', () => {
    const body = {
      candidates: [
        { content: { parts: [{ text: 'B' }] }, finishReason: 'STOP', index: 1 },
        { content: { parts: [{ text: 'A' }] }, finishReason: 'MAX_TOKENS', index: 0 },
      ],
    };
    const { completion } = geminiAdapter.fromUpstreamResponse(body, target, chat({ n: 2 }));
    assert.deepEqual(
      completion.choices.map((c) => [c.index, c.message.content, c.finish_reason]),
      [
        [0, 'A', 'length'],
        [1, 'B', 'stop'],
      ],
    );
  });

  it('maps logprobs into the OpenAI shape', () => {
    const body = {
      candidates: [
        {
          content: { parts: [{ text: 'Hi' }] },
          finishReason: 'STOP',
          logprobsResult: {
            topCandidates: [{ candidates: [{ token: 'Hi', tokenId: 1, logProbability: -0.1 }, { token: 'Hey', tokenId: 2, logProbability: -2.5 }] }],
            chosenCandidates: [{ token: 'Hi', tokenId: 1, logProbability: -0.1 }],
          },
        },
      ],
    };
    const { completion } = geminiAdapter.fromUpstreamResponse(body, target, chat());
    assert.deepEqual(completion.choices[0].logprobs, {
      content: [
        {
          token: 'Hi',
          logprob: -0.1,
          bytes: [72, 105],
          top_logprobs: [
            { token: 'Hi', logprob: -0.1, bytes: [72, 105] },
            { token: 'Hey', logprob: -2.5, bytes: [72, 101, 121] },
          ],
        },
      ],
      refusal: null,
    });
  });

  it('answers a blocked prompt with an empty, content-filtered choice', () => {
    const { completion, usage } = geminiAdapter.fromUpstreamResponse(fixtureJson('response-blocked.json'), target, chat());
    assert.deepEqual(completion.choices, [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter' }]);
    assert.deepEqual(usage, { input: 12, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
  });

  it('treats a body without candidates or block reason as malformed', () => {
    expectUpstreamError(
      () => geminiAdapter.fromUpstreamResponse({ modelVersion: 'x' }, target, chat()),
      (e) => {
        assert.equal(e.code, 'upstream_malformed_response');
        assert.equal(e.retryable, true);
      },
    );
    expectUpstreamError(
      () => geminiAdapter.fromUpstreamResponse('nope', target, chat()),
      (e) => assert.equal(e.code, 'upstream_malformed_response'),
    );
  });
});

// ---------------------------------------------------------------- streaming

describe('gemini stream', () => {
  it('decodes a text stream the same whether fed whole or byte by byte', () => {
    const bytes = Buffer.from(fixture('stream-text.sse'));
    const whole = decode(bytes, 'whole');
    const bytewise = decode(bytes, 'byte');
    assert.deepEqual(normalize(bytewise.chunks), normalize(whole.chunks));
    assert.deepEqual(bytewise.usage, whole.usage);

    const chunks = whole.chunks;
    assert.equal(chunks.length, 3);
    assert.ok(chunks.every((c) => c.id === 'K7UjaYH0BumqnvgP0cGzgQs' && c.object === 'chat.completion.chunk' && c.model === 'gemini-2.5-flash'));
    assert.ok(chunks.every((c) => c.created === chunks[0].created));
    assert.deepEqual(chunks[0].choices, [{ index: 0, delta: { role: 'assistant', content: 'Silver light on the' }, finish_reason: null }]);
    assert.deepEqual(chunks[1].choices, [{ index: 0, delta: { content: ' harbor,\nboats asleep in' }, finish_reason: null }]);
    assert.deepEqual(chunks[2].choices, [{ index: 0, delta: { content: ' the tide,\nthe moon keeps watch.' }, finish_reason: 'stop' }]);
    assert.ok(chunks.every((c) => c.usage === undefined), 'no usage chunk');
    // The last usageMetadata wins.
    assert.deepEqual(whole.usage, { input: 11, cacheRead: 0, cacheWrite: 0, output: 60, reasoning: 41 });
  });

  it('decodes thoughts and whole function calls, one delta per call', () => {
    const { chunks, usage } = decode(Buffer.from(fixture('stream-tools.sse')), 'byte');
    assert.equal(chunks.length, 2);
    assert.deepEqual(chunks[0].choices[0].delta, {
      role: 'assistant',
      reasoning_content: '**Planning the lookup**\n\nThe user wants weather for two cities; I will call the tool for each.',
    });
    const [first, second] = chunks[1].choices[0].delta.tool_calls!;
    assert.equal(chunks[1].choices[0].finish_reason, 'tool_calls');
    assert.equal(chunks[1].choices[0].delta.role, undefined);
    assert.deepEqual({ ...first, id: 'X' }, {
      index: 0,
      id: 'X',
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      extra_content: { google: { thought_signature: 'CqMCAdHtim9xSigPart1+Opaque/Base64==' } },
    });
    assert.deepEqual({ ...second, id: 'X' }, { index: 1, id: 'X', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Tokyo"}' } });
    assert.match(first.id!, /^call_/);
    assert.notEqual(first.id, second.id);
    assert.deepEqual(usage, { input: 96, cacheRead: 0, cacheWrite: 0, output: 94, reasoning: 64 });
  });

  it('throws a retryable UpstreamError for an error event, after the chunks before it', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat());
    const [okPart, errPart] = fixture('stream-error.sse').split(/(?<=\r\n\r\n)/);
    const chunks = d.push(Buffer.from(okPart));
    assert.equal(chunks[0].choices[0].delta.content, 'Once upon a');
    expectUpstreamError(
      () => d.push(Buffer.from(errPart)),
      (e) => {
        assert.equal(e.upstreamStatus, 503);
        assert.equal(e.status, 502);
        assert.equal(e.retryable, true);
        assert.equal(e.code, 'UNAVAILABLE');
        assert.match(e.message, /overloaded/);
      },
    );
  });

  it('maps an in-stream error without a numeric code by its status name', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat());
    expectUpstreamError(
      () => d.push(Buffer.from('data: {"error":{"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}\r\n\r\n')),
      (e) => {
        assert.equal(e.upstreamStatus, 429);
        assert.equal(e.retryable, true);
      },
    );
    const d2 = geminiAdapter.createStreamDecoder(target, chat());
    expectUpstreamError(
      () => d2.push(Buffer.from('data: {"error":{"code":400,"message":"Bad schema","status":"INVALID_ARGUMENT"}}\n\n')),
      (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.retryable, false);
      },
    );
  });

  it('throws on malformed data', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat());
    expectUpstreamError(
      () => d.push(Buffer.from('data: {"candidates": [\r\n\r\n')),
      (e) => assert.equal(e.code, 'upstream_malformed_response'),
    );
    const d2 = geminiAdapter.createStreamDecoder(target, chat());
    expectUpstreamError(
      () => d2.push(Buffer.from('data: {"candidates": {"oops": 1}}\r\n\r\n')),
      (e) => assert.equal(e.code, 'upstream_malformed_response'),
    );
  });

  it('returns what it has when the stream is cut, including an unterminated last event', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat());
    const text = fixture('stream-text.sse');
    const cut = text.slice(0, text.lastIndexOf('\r\n\r\n'));
    const chunks = [...d.push(Buffer.from(cut)), ...d.end()];
    assert.equal(assemble(chunks).content, 'Silver light on the harbor,\nboats asleep in the tide,\nthe moon keeps watch.');
    const d2 = geminiAdapter.createStreamDecoder(target, chat());
    const early = [...d2.push(Buffer.from(text.slice(0, text.indexOf('\r\n\r\n') + 4))), ...d2.end()];
    assert.equal(assemble(early).finish, null);
    assert.equal(d2.usage?.input, 11);
  });

  it('streams a blocked prompt as one content-filtered chunk', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat());
    const chunks = d.push(Buffer.from(`data: ${JSON.stringify(fixtureJson('response-blocked.json'))}\r\n\r\n`));
    assert.deepEqual(chunks.map((c) => c.choices), [[{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: 'content_filter' }]]);
    assert.equal(chunks[0].id, 'brQjabWTL8yWnvgPnafd8Q0');
  });

  it('keeps a role chunk per candidate when n > 1', () => {
    const d = geminiAdapter.createStreamDecoder(target, chat({ n: 2 }));
    const ev = {
      candidates: [
        { content: { parts: [{ text: 'a' }] }, index: 0 },
        { content: { parts: [{ text: 'b' }] }, index: 1, finishReason: 'STOP' },
      ],
    };
    const chunks = [...d.push(Buffer.from(`data: ${JSON.stringify(ev)}\n\n`)), ...d.end()];
    assert.deepEqual(
      chunks.map((c) => c.choices[0]),
      [
        { index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null },
        { index: 1, delta: { role: 'assistant', content: 'b' }, finish_reason: 'stop' },
      ],
    );
    assert.equal(d.usage, undefined);
  });
});

describe('gemini fake round trip', () => {
  const streamPath = '/v1beta/models/gemini-2.5-flash:streamGenerateContent';

  it('decodes the fake stream of a text turn with reasoning into the scripted turn', () => {
    const turn: ScriptedTurn = { text: 'Hello there, friend!', reasoning: 'The user greets me.', usage: { input: 30, cacheRead: 10, output: 25, reasoning: 8 } };
    const reply = fakeGemini.reply(turn, true, fakeRequest(streamPath));
    for (const mode of ['whole', 'byte'] as const) {
      const { chunks, usage } = decode(rawBytes(reply), mode);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.deepEqual(assemble(chunks), { content: 'Hello there, friend!', reasoning: 'The user greets me.', toolCalls: [], finish: 'stop' });
      assert.deepEqual(usage, { input: 30, cacheRead: 10, cacheWrite: 0, output: 25, reasoning: 8 });
    }
  });

  it('decodes the fake stream of a tool-call turn', () => {
    const turn: ScriptedTurn = {
      toolCalls: [
        { id: 'ignored_1', name: 'lookup', arguments: '{"q":"alpha"}' },
        { id: 'ignored_2', name: 'lookup', arguments: '{"q":"beta"}' },
      ],
      omitUsage: true,
    };
    const { chunks, usage } = decode(rawBytes(fakeGemini.reply(turn, true, fakeRequest(streamPath))), 'byte');
    const a = assemble(chunks);
    assert.equal(a.finish, 'tool_calls');
    assert.deepEqual(
      a.toolCalls.map((t) => [t.name, t.arguments, t.signature]),
      [
        ['lookup', '{"q":"alpha"}', FAKE_THOUGHT_SIGNATURE],
        ['lookup', '{"q":"beta"}', undefined],
      ],
    );
    assert.equal(usage, undefined);
  });

  it('renders a non-stream reply the adapter reads back, and a length finish', () => {
    const reply = fakeGemini.reply({ text: 'Truncated answ', finish: 'length', usage: { input: 5, output: 4 } }, false, fakeRequest('/v1beta/models/gemini-2.5-flash:generateContent'));
    assert.ok('json' in reply);
    const { completion, usage } = geminiAdapter.fromUpstreamResponse(reply.json, target, chat());
    assert.equal(completion.choices[0].message.content, 'Truncated answ');
    assert.equal(completion.choices[0].finish_reason, 'length');
    assert.deepEqual(usage, { input: 5, cacheRead: 0, cacheWrite: 0, output: 4, reasoning: 0 });
  });

  it('reads the last user text and tool names from a translated request', () => {
    const b = bodyOf(
      chat({
        messages: [
          { role: 'user', content: 'first' },
          { role: 'assistant', content: 'ok' },
          { role: 'user', content: [{ type: 'text', text: 'second ' }, { type: 'text', text: 'question' }] },
        ],
        tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }],
      }),
    );
    const req = fakeRequest('/v1beta/models/gemini-2.5-flash:generateContent', b);
    assert.equal(fakeGemini.lastUserText(req), 'second question');
    assert.deepEqual(fakeGemini.toolNames(req), ['a', 'b']);
    assert.equal(fakeGemini.isStream(req), false);
    assert.equal(fakeGemini.isStream(fakeRequest(streamPath)), true);
  });
});

// ---------------------------------------------------------------- errors

describe('gemini HTTP errors', () => {
  it('keeps the message of a 400 and does not retry it', () => {
    const e = geminiAdapter.fromUpstreamError(400, fixture('error-400.json'), {}) as UpstreamError;
    assert.ok(e instanceof UpstreamError);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    assert.equal(e.code, 'INVALID_ARGUMENT');
    assert.equal(e.retryable, false);
    assert.match(e.message, /contents is not specified/);
  });

  it('retries a 429, honouring Retry-After over the body hint', () => {
    const withHeader = geminiAdapter.fromUpstreamError(429, fixture('error-429.json'), { 'retry-after': '12' }) as UpstreamError;
    assert.equal(withHeader.status, 429);
    assert.equal(withHeader.retryable, true);
    assert.equal(withHeader.retryAfter, 12);
    assert.equal(withHeader.code, 'RESOURCE_EXHAUSTED');
    assert.match(withHeader.message, /exceeded your current quota/);
    // Without the header, Google's RetryInfo.retryDelay is the hint.
    const fromBody = geminiAdapter.fromUpstreamError(429, fixture('error-429.json'), {}) as UpstreamError;
    assert.equal(fromBody.retryAfter, 37);
  });

  it('retries a 503 and a 500', () => {
    const e = geminiAdapter.fromUpstreamError(503, fixture('error-503.json'), {}) as UpstreamError;
    assert.equal(e.status, 502);
    assert.equal(e.upstreamStatus, 503);
    assert.equal(e.retryable, true);
    assert.equal(e.message, 'The model is overloaded. Please try again later.');
    const internal = geminiAdapter.fromUpstreamError(500, '{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}', {}) as UpstreamError;
    assert.equal(internal.retryable, true);
  });

  it('reads the array form and non-JSON bodies', () => {
    const arr = geminiAdapter.fromUpstreamError(404, '[{"error":{"code":404,"message":"models/nope is not found","status":"NOT_FOUND"}}]', {}) as UpstreamError;
    assert.equal(arr.status, 404);
    assert.equal(arr.message, 'models/nope is not found');
    const html = geminiAdapter.fromUpstreamError(502, '<html>Bad Gateway</html>', {}) as UpstreamError;
    assert.equal(html.message, '<html>Bad Gateway</html>');
    assert.equal(html.retryable, true);
  });

  it('reports a key the upstream refused as a gateway fault', () => {
    const e = geminiAdapter.fromUpstreamError(403, '{"error":{"code":403,"message":"Method doesn\'t allow unregistered callers.","status":"PERMISSION_DENIED"}}', {}) as UpstreamError;
    assert.equal(e.status, 502);
    assert.equal(e.retryable, false);
    assert.match(e.message, /unregistered callers/);
  });
});

// ---------------------------------------------------------------- embeddings

describe('gemini embeddings', () => {
  const emb = (over: Partial<EmbeddingsRequest>): EmbeddingsRequest => ({ model: 'gemini/gemini-embedding-001', input: 'x', ...over });
  const embTarget = targetFor(undefined, 'gemini-embedding-001');

  it('builds a batchEmbedContents request for one or many texts', () => {
    const r = geminiAdapter.toEmbeddingsRequest!(embTarget, emb({ input: ['first text', 'second text'], dimensions: 768 })) as { url: string; body: string; headers: Record<string, string> };
    assert.equal(r.url, 'https://generativelanguage.googleapis.com/v1beta/models/gemini-embedding-001:batchEmbedContents');
    assert.equal(r.headers['x-goog-api-key'], 'test-key');
    assert.deepEqual(JSON.parse(r.body), {
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'first text' }] }, outputDimensionality: 768 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'second text' }] }, outputDimensionality: 768 },
      ],
    });
    const one = geminiAdapter.toEmbeddingsRequest!(embTarget, emb({ input: 'solo' })) as { body: string };
    assert.deepEqual(JSON.parse(one.body), { requests: [{ model: 'models/gemini-embedding-001', content: { parts: [{ text: 'solo' }] } }] });
  });

  it('refuses token-array input with a 400', () => {
    for (const input of [[1, 2, 3], [[1, 2], [3]]]) {
      expectUpstreamError(
        () => geminiAdapter.toEmbeddingsRequest!(embTarget, emb({ input })),
        (e) => {
          assert.equal(e.status, 400);
          assert.equal(e.param, 'input');
        },
      );
    }
  });

  it('translates the response, in order, without usage', () => {
    const res = geminiAdapter.fromEmbeddingsResponse!(fixtureJson('embeddings-response.json'), embTarget, emb({ input: ['a', 'b'] }));
    assert.equal(res.usage, undefined);
    assert.deepEqual(res.data, [
      { object: 'embedding', index: 0, embedding: [0.0123291, -0.0051651, -0.0160522, -0.0658264, 0.0231018, 0.0094452] },
      { object: 'embedding', index: 1, embedding: [-0.0042114, 0.0179138, -0.0089111, -0.0503845, 0.0128479, -0.0211639] },
    ]);
  });

  it('encodes base64 as little-endian float32, like OpenAI', () => {
    const res = geminiAdapter.fromEmbeddingsResponse!({ embeddings: [{ values: [1, -2.5] }] }, embTarget, emb({ encoding_format: 'base64' }));
    const buf = Buffer.from(res.data[0].embedding as string, 'base64');
    assert.deepEqual([buf.readFloatLE(0), buf.readFloatLE(4)], [1, -2.5]);
  });

  it('treats a response without embeddings as malformed', () => {
    expectUpstreamError(
      () => geminiAdapter.fromEmbeddingsResponse!({ embedding: { values: [1] } }, embTarget, emb({})),
      (e) => assert.equal(e.code, 'upstream_malformed_response'),
    );
  });
});

// ---------------------------------------------------------------- over HTTP, through the client

describe('gemini over HTTP against the fake upstream', () => {
  let fake: FakeUpstream;
  const client = httpProviderClient(geminiAdapter);
  const opts = { firstByteTimeoutMs: 5000, idleTimeoutMs: 5000 };
  const overHttp = () => targetFor(`${fake.url}/v1beta`);

  before(async () => {
    fake = await startFakeUpstream(
      scripted(fakeGemini, (req) => {
        const text = fakeGemini.lastUserText(req);
        if (text === 'fail') return { reply: fakeGemini.error(429, 'Resource has been exhausted (e.g. check quota).') };
        if (req.path.endsWith(':batchEmbedContents')) return { reply: { json: { embeddings: req.body.requests.map((_: unknown, i: number) => ({ values: [i, 0.5] })) } } };
        return { text: `echo: ${text}`, reasoning: 'thinking', usage: { input: 7, output: 9, reasoning: 2 } };
      }),
    );
  });
  after(async () => {
    await fake.close();
    await closeTransport();
  });

  it('completes a non-streaming chat', async () => {
    const res = await client.chat(overHttp(), chat({ messages: [{ role: 'user', content: 'ping' }] }), opts);
    assert.equal(res.completion.choices[0].message.content, 'echo: ping');
    assert.equal(res.completion.choices[0].message.reasoning_content, 'thinking');
    assert.deepEqual(res.usage, { input: 7, cacheRead: 0, cacheWrite: 0, output: 9, reasoning: 2 });
    const sent = fake.requests[fake.requests.length - 1];
    assert.equal(sent.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(sent.headers['x-goog-api-key'], 'test-key');
  });

  it('streams a chat', async () => {
    const stream = await client.chatStream(overHttp(), chat({ messages: [{ role: 'user', content: 'stream me' }] }), opts);
    const chunks: ChatChunk[] = [];
    await readChunks(stream, chunks);
    assert.equal(assemble(chunks).content, 'echo: stream me');
    assert.deepEqual(stream.usage, { input: 7, cacheRead: 0, cacheWrite: 0, output: 9, reasoning: 2 });
    const sent = fake.requests[fake.requests.length - 1];
    assert.equal(sent.url, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  it('surfaces an HTTP 429 as a retryable UpstreamError', async () => {
    await assert.rejects(client.chat(overHttp(), chat({ messages: [{ role: 'user', content: 'fail' }] }), opts), (e: unknown) => {
      assert.ok(e instanceof UpstreamError);
      assert.equal(e.status, 429);
      assert.equal(e.retryable, true);
      assert.equal(e.code, 'RESOURCE_EXHAUSTED');
      return true;
    });
  });

  it('embeds', async () => {
    const res = await client.embeddings(targetFor(`${fake.url}/v1beta`, 'gemini-embedding-001'), { model: 'e', input: ['a', 'b'] }, opts);
    assert.deepEqual(res.data.map((d) => d.embedding), [[0, 0.5], [1, 0.5]]);
  });
});
