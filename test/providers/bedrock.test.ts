import { after, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ChatRequestSchema, EmbeddingsRequestSchema } from '../../src/providers/chat-schema.ts';
import type { ChatChunk, ChatRequest, ResolvedProvider, UpstreamRequest, UpstreamTarget } from '../../src/providers/types.ts';
import { UpstreamError } from '../../src/providers/errors.ts';
import { bedrockAdapter } from '../../src/providers/bedrock/index.ts';
import { toConverseRequest } from '../../src/providers/bedrock/request.ts';
import { signRequest } from '../../src/providers/bedrock/sign.ts';
import { httpProviderClient } from '../../src/providers/client.ts';
import { closeTransport } from '../../src/providers/transport.ts';
import { startFakeUpstream } from '../support/fake-upstream.ts';
import { scripted, type ScriptedTurn } from '../support/fake-script.ts';
import { bedrockErrorReply, encodeEvent, encodeException, fakeBedrock, splitOdd } from '../support/fake-bedrock.ts';
import { readChunks } from '../support/chat-stream.ts';

const FIX = new URL('../fixtures/bedrock/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIX));
const json = (name: string) => JSON.parse(fixture(name).toString('utf8'));

function provider(over: Partial<ResolvedProvider> = {}): ResolvedProvider {
  return {
    id: 'bedrock',
    type: 'bedrock',
    preset: undefined,
    baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com',
    apiKey: undefined,
    headers: {},
    streamUsageOption: false,
    ...over,
  };
}

const CLAUDE = 'anthropic.claude-sonnet-4-20250514-v1:0';
const target = (over: Partial<ResolvedProvider> = {}, model = CLAUDE): UpstreamTarget => ({ provider: provider(over), model });
const chat = (body: Record<string, unknown>): ChatRequest => ChatRequestSchema.parse({ model: 'bedrock/x', ...body });
const hi = [{ role: 'user', content: 'Hi' }];
const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

function rejectsWith(fn: () => unknown, check: (e: UpstreamError) => void) {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown instanceof UpstreamError, `expected an UpstreamError, got ${String(thrown)}`);
  check(thrown);
}

/** Runs bytes through a fresh decoder, in pieces of `size` bytes (whole when undefined). */
function decode(bytes: Uint8Array, req: ChatRequest, size?: number) {
  const d = bedrockAdapter.createStreamDecoder(target(), req);
  const chunks: ChatChunk[] = [];
  if (size === undefined) chunks.push(...d.push(bytes));
  else for (let i = 0; i < bytes.length; i += size) chunks.push(...d.push(bytes.subarray(i, i + size)));
  chunks.push(...d.end());
  return { chunks, usage: d.usage };
}

/** Folds chunks into what a client would assemble. */
function assemble(chunks: ChatChunk[]) {
  let content = '';
  let reasoning = '';
  const tools: { id?: string; name?: string; args: string }[] = [];
  let finish: string | null = null;
  for (const c of chunks) {
    const ch = c.choices[0];
    if (!ch) continue;
    content += ch.delta.content ?? '';
    reasoning += ch.delta.reasoning_content ?? '';
    for (const t of ch.delta.tool_calls ?? []) {
      tools[t.index] ??= { args: '' };
      if (t.id) tools[t.index].id = t.id;
      if (t.function?.name) tools[t.index].name = t.function.name;
      tools[t.index].args += t.function?.arguments ?? '';
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  return { content, reasoning, tools, finish };
}

const strip = (chunks: ChatChunk[]) => chunks.map(({ id: _id, created: _c, ...rest }) => rest);

// ------------------------------------------------------------------------------------------------ request

describe('bedrock request translation', () => {
  it('translates a full conversation as in the recorded fixture', () => {
    const req = ChatRequestSchema.parse(json('openai-request.json'));
    assert.deepEqual(toConverseRequest(target(), req), json('converse-request.json'));
  });

  it('builds /converse and /converse-stream URLs with the model id percent-encoded', async () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0';
    const plain = await bedrockAdapter.toUpstreamRequest(target({ apiKey: 'k' }), chat({ messages: hi }), false);
    assert.equal(plain.url, `https://bedrock-runtime.us-east-1.amazonaws.com/model/${encodeURIComponent(CLAUDE)}/converse`);
    assert.match(plain.url, /\/model\/anthropic\.claude-sonnet-4-20250514-v1%3A0\/converse$/);
    const streamed = await bedrockAdapter.toUpstreamRequest(target({ apiKey: 'k' }, arn), chat({ messages: hi }), true);
    assert.ok(streamed.url.endsWith(`/model/${encodeURIComponent(arn)}/converse-stream`));
    assert.ok(!streamed.url.includes('inference-profile/'), 'the slash inside the ARN is encoded');
    assert.equal(streamed.method, 'POST');
    assert.deepEqual(JSON.parse(streamed.body!), { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] });
  });

  it('maps image data URLs to bytes and s3 URIs to s3Location, and refuses http URLs with a clear 400', () => {
    const body = toConverseRequest(
      target(),
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image_url', image_url: { url: 'data:image/webp;base64,UklGRg==' } },
              { type: 'image_url', image_url: { url: 's3://my-bucket/cats/tabby.PNG' } },
            ],
          },
        ],
      }),
    );
    assert.deepEqual(body.messages[0].content, [
      { image: { format: 'webp', source: { bytes: 'UklGRg==' } } },
      { image: { format: 'png', source: { s3Location: { uri: 's3://my-bucket/cats/tabby.PNG' } } } },
    ]);
    rejectsWith(
      () => toConverseRequest(target(), chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] })),
      (e) => {
        assert.equal(e.status, 400);
        assert.equal(e.retryable, false);
        assert.equal(e.code, 'unsupported_image_url');
        assert.match(e.message, /base64 data URL/);
        assert.equal(e.param, 'messages[0].content[0]');
      },
    );
    rejectsWith(
      () => toConverseRequest(target(), chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] }] })),
      (e) => assert.equal(e.code, 'unsupported_image_format'),
    );
  });

  it('rejects tool call arguments that are not a JSON object', () => {
    const bad = (args: string) =>
      chat({ messages: [...hi, { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: args } }] }] });
    rejectsWith(() => toConverseRequest(target(), bad('{"city": ')), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_tool_arguments');
      assert.equal(e.param, 'messages[1].tool_calls[0].function.arguments');
    });
    rejectsWith(() => toConverseRequest(target(), bad('[1,2]')), (e) => assert.equal(e.code, 'invalid_tool_arguments'));
  });

  it('merges consecutive tool results into one user message; JSON objects as json, others as text', () => {
    const body = toConverseRequest(
      target(),
      chat({
        messages: [
          ...hi,
          { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'a', content: '[1, 2, 3]' },
          { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: '{"ok":' }, { type: 'text', text: 'true}' }] },
        ],
        tools: [weatherTool],
      }),
    );
    assert.equal(body.messages.length, 3);
    assert.deepEqual(body.messages[1], { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 'a', name: 'f', input: {} } }] });
    assert.deepEqual(body.messages[2], {
      role: 'user',
      content: [
        { toolResult: { toolUseId: 'a', content: [{ text: '[1, 2, 3]' }] } },
        { toolResult: { toolUseId: 'b', content: [{ json: { ok: true } }] } },
      ],
    });
  });

  it('maps tool_choice auto / required / a named function', () => {
    const choice = (tool_choice: unknown) => toConverseRequest(target(), chat({ messages: hi, tools: [weatherTool], tool_choice })).toolConfig;
    assert.deepEqual(choice('auto')!.toolChoice, { auto: {} });
    assert.deepEqual(choice('required')!.toolChoice, { any: {} });
    assert.deepEqual(choice({ type: 'function', function: { name: 'get_weather' } })!.toolChoice, { tool: { name: 'get_weather' } });
    const unset = toConverseRequest(target(), chat({ messages: hi, tools: [weatherTool] })).toolConfig!;
    assert.equal(unset.toolChoice, undefined);
    assert.deepEqual(unset.tools, [
      { toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } },
    ]);
  });

  it("tool_choice 'none' drops the tools, but keeps them (without a choice) when the history holds tool blocks", () => {
    assert.equal(toConverseRequest(target(), chat({ messages: hi, tools: [weatherTool], tool_choice: 'none' })).toolConfig, undefined);
    const history = [
      ...hi,
      { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'sunny' },
    ];
    const kept = toConverseRequest(target(), chat({ messages: history, tools: [weatherTool], tool_choice: 'none' })).toolConfig!;
    assert.deepEqual(kept.tools.map((t) => t.toolSpec.name), ['get_weather']);
    assert.equal('toolChoice' in kept, false);
    // History with tool blocks but no declared tools: Bedrock still requires a toolConfig naming them.
    const synthesized = toConverseRequest(target(), chat({ messages: history })).toolConfig!;
    assert.deepEqual(synthesized, { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: {} } } } }] });
  });

  it('forces a tool for json_schema and instructs for json_object', () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const body = toConverseRequest(target(), chat({ messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'city info', schema } } }));
    assert.deepEqual(body.toolConfig, {
      tools: [{ toolSpec: { name: 'city_info', description: 'Respond with the final answer in this structure.', inputSchema: { json: schema } } }],
      toolChoice: { tool: { name: 'city_info' } },
    });
    const withTools = toConverseRequest(target(), chat({ messages: hi, tools: [weatherTool], response_format: { type: 'json_schema', json_schema: { name: 'answer', schema } } }));
    assert.deepEqual(withTools.toolConfig!.tools.map((t) => t.toolSpec.name), ['get_weather', 'answer']);
    assert.deepEqual(withTools.toolConfig!.toolChoice, { any: {} });
    const jsonObject = toConverseRequest(target(), chat({ messages: hi, response_format: { type: 'json_object' } }));
    assert.equal(jsonObject.toolConfig, undefined);
    assert.match(jsonObject.system![0].text, /valid JSON object/);
  });

  it('maps inference config: max_completion_tokens over max_tokens, temperature clamped to 1, single stop string', () => {
    const body = toConverseRequest(target(), chat({ messages: hi, max_tokens: 300, temperature: 1.6, top_p: 0.5, stop: 'END', n: 1, frequency_penalty: 1 }));
    assert.deepEqual(body.inferenceConfig, { maxTokens: 300, temperature: 1, topP: 0.5, stopSequences: ['END'] });
    assert.deepEqual(Object.keys(body).sort(), ['inferenceConfig', 'messages']);
  });

  it('turns reasoning_effort into Claude thinking, without sampling changes and with room above the budget', () => {
    const body = toConverseRequest(target(), chat({ messages: hi, reasoning_effort: 'medium', max_tokens: 1000, temperature: 0.2, top_p: 0.7 }));
    assert.deepEqual(body.additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 4096 } });
    assert.deepEqual(body.inferenceConfig, { maxTokens: 5096 });
    // Not a Claude model, or a forced tool: no thinking.
    assert.equal(toConverseRequest(target({}, 'amazon.nova-pro-v1:0'), chat({ messages: hi, reasoning_effort: 'high' })).additionalModelRequestFields, undefined);
    const forced = toConverseRequest(target(), chat({ messages: hi, reasoning_effort: 'high', tools: [weatherTool], tool_choice: 'required', temperature: 0.2 }));
    assert.equal(forced.additionalModelRequestFields, undefined);
    assert.deepEqual(forced.inferenceConfig, { temperature: 0.2 });
    // Inside a tool loop the signed thinking block cannot be returned: no thinking.
    const loop = [
      ...hi,
      { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'sunny' },
    ];
    assert.equal(toConverseRequest(target(), chat({ messages: loop, tools: [weatherTool], reasoning_effort: 'low' })).additionalModelRequestFields, undefined);
    const answered = [...loop, { role: 'assistant', content: 'It is sunny.' }, { role: 'user', content: 'Thanks' }];
    assert.deepEqual(toConverseRequest(target(), chat({ messages: answered, tools: [weatherTool], reasoning_effort: 'low' })).additionalModelRequestFields, {
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
  });

  it('maps reasoning_effort none to no thinking and xhigh to the largest budget', () => {
    const none = toConverseRequest(target(), chat({ messages: hi, reasoning_effort: 'none', temperature: 0.2 }));
    assert.equal(none.additionalModelRequestFields, undefined);
    assert.deepEqual(none.inferenceConfig, { temperature: 0.2 });
    assert.deepEqual(toConverseRequest(target(), chat({ messages: hi, reasoning_effort: 'xhigh' })).additionalModelRequestFields, { thinking: { type: 'enabled', budget_tokens: 32768 } });
  });

  it('refuses n > 1 and logprobs with a 400 naming the parameter instead of dropping them', () => {
    rejectsWith(() => toConverseRequest(target(), chat({ messages: hi, n: 2 })), (e) => {
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, 'n');
    });
    rejectsWith(() => toConverseRequest(target(), chat({ messages: hi, logprobs: true })), (e) => assert.equal(e.param, 'logprobs'));
    assert.ok(toConverseRequest(target(), chat({ messages: hi, n: 1, logprobs: false })).messages.length);
  });
});

// ------------------------------------------------------------------------------------------------ auth

/** Independent SigV4 check with node:crypto: rebuilds the canonical request from what will be sent. */
function verifySigV4(req: UpstreamRequest, secret: string, region: string): boolean {
  const auth = req.headers.authorization;
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  assert.ok(m, `unexpected authorization header: ${auth}`);
  const [, , date, reg, service, signedHeaders, signature] = m;
  assert.equal(reg, region);
  const url = new URL(req.url);
  // Non-S3 services sign the path URI-encoded once more than it is sent.
  const canonicalPath = url.pathname
    .split('/')
    .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
  const lower = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const names = signedHeaders.split(';');
  const payloadHash = createHash('sha256').update(req.body ?? '').digest('hex');
  const canonical = [req.method, canonicalPath, '', ...names.map((n) => `${n}:${lower[n]}`), '', signedHeaders, payloadHash].join('\n');
  const amzDate = lower['x-amz-date'];
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

describe('bedrock auth', () => {
  const creds = { accessKeyId: 'AKID', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const fixed = new Date('2025-03-04T05:06:07Z');

  it('signs with SigV4: credential scope, x-amz-date, payload hash, deterministic for a fixed clock', async () => {
    const unsigned: UpstreamRequest = {
      method: 'POST',
      url: `https://bedrock-runtime.us-east-1.amazonaws.com/model/${encodeURIComponent(CLAUDE)}/converse`,
      headers: { 'content-type': 'application/json' },
      body: '{"messages":[{"role":"user","content":[{"text":"Hi"}]}]}',
    };
    const a = await signRequest(unsigned, provider(creds), fixed);
    const b = await signRequest(unsigned, provider(creds), fixed);
    assert.deepEqual(a, b);
    assert.ok(a.headers.authorization.startsWith('AWS4-HMAC-SHA256 Credential=AKID/20250304/us-east-1/bedrock/aws4_request, SignedHeaders='));
    assert.match(a.headers.authorization, /SignedHeaders=[^,]*content-type;host;x-amz-content-sha256;x-amz-date/);
    assert.equal(a.headers['x-amz-date'], '20250304T050607Z');
    assert.equal(a.headers['x-amz-content-sha256'], createHash('sha256').update(unsigned.body!).digest('hex'));
    assert.equal(a.headers.host, 'bedrock-runtime.us-east-1.amazonaws.com');
    assert.ok(verifySigV4(a, creds.secretAccessKey, 'us-east-1'), 'signature verifies independently');
    const tampered = { ...a, body: a.body!.replace('Hi', 'Ho') };
    assert.equal(verifySigV4({ ...tampered, headers: { ...a.headers, 'x-amz-content-sha256': createHash('sha256').update(tampered.body).digest('hex') } }, creds.secretAccessKey, 'us-east-1'), false);
  });

  it('signs adapter requests with region, session token and provider headers', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: fixed.getTime() });
    const p = { ...creds, region: 'eu-west-3', sessionToken: 'SESSIONTOKEN', headers: { 'x-team': 'blue' } };
    const req = await bedrockAdapter.toUpstreamRequest(target(p, 'arn:aws:bedrock:eu-west-3::foundation-model/mistral.mistral-large-2402-v1:0'), chat({ messages: hi }), true);
    assert.ok(req.headers.authorization.startsWith('AWS4-HMAC-SHA256 Credential=AKID/20250304/eu-west-3/bedrock/aws4_request'));
    assert.equal(req.headers['x-amz-security-token'], 'SESSIONTOKEN');
    assert.equal(req.headers['x-team'], 'blue');
    assert.match(req.headers.authorization, /x-amz-security-token/);
    assert.match(req.headers.authorization, /x-team/);
    assert.ok(verifySigV4(req, creds.secretAccessKey, 'eu-west-3'));
    const again = await bedrockAdapter.toUpstreamRequest(target(p, 'arn:aws:bedrock:eu-west-3::foundation-model/mistral.mistral-large-2402-v1:0'), chat({ messages: hi }), true);
    assert.equal(again.headers.authorization, req.headers.authorization);
  });

  it('uses a Bedrock API key as a Bearer token when no access keys are set', async () => {
    const req = await bedrockAdapter.toUpstreamRequest(target({ apiKey: 'ABSKbedrockapikey', headers: { 'x-team': 'blue' } }), chat({ messages: hi }), false);
    assert.equal(req.headers.authorization, 'Bearer ABSKbedrockapikey');
    assert.equal(req.headers['content-type'], 'application/json');
    assert.equal(req.headers['x-team'], 'blue');
    assert.equal(req.headers['x-amz-date'], undefined);
  });
});

// ------------------------------------------------------------------------------------------------ response

describe('bedrock response translation', () => {
  it('translates text with usage, cache reads and writes kept apart from input', () => {
    const { completion, usage } = bedrockAdapter.fromUpstreamResponse(json('converse-text.json'), target(), chat({ messages: hi }));
    assert.match(completion.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, CLAUDE);
    assert.equal(completion.choices[0].message.content, 'The capital of France is Paris.');
    assert.equal(completion.choices[0].message.tool_calls, undefined);
    assert.equal(completion.choices[0].finish_reason, 'stop');
    assert.deepEqual(usage, { input: 24, cacheRead: 1536, cacheWrite: 524, output: 9, reasoning: 0 });
    assert.equal(completion.usage!.prompt_tokens, 2084);
    assert.equal(completion.usage!.total_tokens, 2093);
    assert.equal(completion.usage!.prompt_tokens_details!.cached_tokens, 1536);
  });

  it('translates toolUse blocks into tool_calls', () => {
    const { completion, usage } = bedrockAdapter.fromUpstreamResponse(json('converse-tool-use.json'), target(), chat({ messages: hi }));
    const msg = completion.choices[0].message;
    assert.equal(msg.content, "I'll look up the weather in Seattle.");
    assert.deepEqual(msg.tool_calls, [
      { id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Seattle","unit":"celsius"}' } },
      { id: 'tooluse_3t8fM1qjT8WkQ0fXwz5b2A', type: 'function', function: { name: 'get_time', arguments: '{"timezone":"America/Los_Angeles"}' } },
    ]);
    assert.equal(completion.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(usage, { input: 412, cacheRead: 0, cacheWrite: 0, output: 97, reasoning: 0 });
  });

  it('translates reasoningContent into reasoning_content and max_tokens into length', () => {
    const { completion } = bedrockAdapter.fromUpstreamResponse(json('converse-reasoning.json'), target(), chat({ messages: hi }));
    const msg = completion.choices[0].message;
    assert.equal(msg.reasoning_content, 'The user asks for 17 * 23. 17 * 20 = 340, 17 * 3 = 51, so 391.');
    assert.equal(msg.content, '17 × 23 = 391.');
    assert.equal(completion.choices[0].finish_reason, 'length');
  });

  it('returns the forced json_schema tool input as content with finish stop', () => {
    const req = chat({ messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'city_info', schema: { type: 'object' } } } });
    const { completion } = bedrockAdapter.fromUpstreamResponse(json('converse-json-schema.json'), target(), req);
    assert.deepEqual(JSON.parse(completion.choices[0].message.content!), { city: 'Paris', country: 'France', population: 2102650 });
    assert.equal(completion.choices[0].message.tool_calls, undefined);
    assert.equal(completion.choices[0].finish_reason, 'stop');
  });

  it('maps guardrail and content filter stops, leaves usage undefined when absent, rejects malformed bodies', () => {
    const body = (stopReason: string) => ({ output: { message: { role: 'assistant', content: [] } }, stopReason });
    const r = bedrockAdapter.fromUpstreamResponse(body('guardrail_intervened'), target(), chat({ messages: hi }));
    assert.equal(r.completion.choices[0].finish_reason, 'content_filter');
    assert.equal(r.completion.choices[0].message.content, '');
    assert.equal(r.usage, undefined);
    assert.equal(r.completion.usage, undefined);
    assert.equal(bedrockAdapter.fromUpstreamResponse(body('content_filtered'), target(), chat({ messages: hi })).completion.choices[0].finish_reason, 'content_filter');
    assert.equal(bedrockAdapter.fromUpstreamResponse(body('stop_sequence'), target(), chat({ messages: hi })).completion.choices[0].finish_reason, 'stop');
    rejectsWith(() => bedrockAdapter.fromUpstreamResponse({ message: 'nope' }, target(), chat({ messages: hi })), (e) => {
      assert.equal(e.code, 'upstream_malformed_response');
      assert.equal(e.status, 502);
    });
  });
});

// ------------------------------------------------------------------------------------------------ stream

describe('bedrock stream decoding', () => {
  const capture = fixture('converse-stream.bin');

  it('decodes the recorded capture into OpenAI chunks', () => {
    const { chunks, usage } = decode(capture, chat({ messages: hi, tools: [weatherTool] }));
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.equal(chunks.filter((c) => c.choices[0].delta.role).length, 1);
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.equal(new Set(chunks.map((c) => c.created)).size, 1);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === CLAUDE && c.usage === undefined));
    const a = assemble(chunks);
    assert.equal(a.reasoning, 'The user wants Seattle weather. I should call get_weather.');
    assert.equal(a.content, 'Let me check the weather for you.');
    assert.deepEqual(a.tools, [{ id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', name: 'get_weather', args: '{"city": "Seattle", "unit": "celsius"}' }]);
    assert.equal(a.finish, 'tool_calls');
    // The first delta of a call carries id, type, name and empty arguments; later ones only arguments.
    const calls = chunks.flatMap((c) => c.choices[0].delta.tool_calls ?? []);
    assert.deepEqual(calls[0], { index: 0, id: 'tooluse_kZJMlvQmRJ6eAyJE5GIl7Q', type: 'function', function: { name: 'get_weather', arguments: '' } });
    assert.deepEqual(calls[1], { index: 0, function: { arguments: '{"city": "Sea' } });
    // finish_reason is on the last chunk only.
    assert.equal(chunks.at(-1)!.choices[0].finish_reason, 'tool_calls');
    assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
    assert.deepEqual(usage, { input: 405, cacheRead: 2048, cacheWrite: 12, output: 112, reasoning: 0 });
  });

  it('gives the same chunks fed byte by byte, in odd pieces, or whole', () => {
    const req = chat({ messages: hi });
    const whole = decode(capture, req);
    const bytewise = decode(capture, req, 1);
    const odd = decode(capture, req, 37);
    assert.deepEqual(strip(bytewise.chunks), strip(whole.chunks));
    assert.deepEqual(strip(odd.chunks), strip(whole.chunks));
    assert.deepEqual(bytewise.usage, whole.usage);
  });

  it('throws a retryable UpstreamError on a throttling exception frame', () => {
    const bytes = Buffer.concat([encodeEvent('messageStart', { role: 'assistant' }), encodeException('throttlingException', 'Too many tokens, please wait before trying again.')]);
    const d = bedrockAdapter.createStreamDecoder(target(), chat({ messages: hi }));
    const first = d.push(bytes.subarray(0, 40));
    assert.deepEqual(first, []);
    rejectsWith(() => d.push(bytes.subarray(40)), (e) => {
      assert.equal(e.retryable, true);
      assert.equal(e.status, 429);
      assert.equal(e.code, 'ThrottlingException');
      assert.equal(e.message, 'Too many tokens, please wait before trying again.');
      assert.equal(e.upstreamStatus, undefined);
    });
  });

  it('classifies other exception frames: model stream errors retryable, validation not', () => {
    const thrown = (type: string) => {
      let err: UpstreamError | undefined;
      rejectsWith(() => decode(encodeException(type, `${type} happened`), chat({ messages: hi })), (e) => (err = e));
      return err!;
    };
    assert.equal(thrown('modelStreamErrorException').retryable, true);
    assert.equal(thrown('modelStreamErrorException').status, 502);
    assert.equal(thrown('internalServerException').retryable, true);
    assert.equal(thrown('serviceUnavailableException').retryable, true);
    const v = thrown('validationException');
    assert.equal(v.retryable, false);
    assert.equal(v.status, 400);
    assert.equal(v.message, 'validationException happened');
  });

  it('rejects a frame whose CRC does not match', () => {
    const frame = Buffer.from(encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'corrupt' } }));
    frame[frame.length - 6] ^= 0x20; // flip a payload bit: the message CRC no longer matches
    rejectsWith(() => decode(frame, chat({ messages: hi })), (e) => {
      assert.equal(e.code, 'upstream_malformed_response');
      assert.match(e.message, /checksum|CRC/i);
    });
    const prelude = Buffer.from(encodeEvent('messageStart', { role: 'assistant' }));
    prelude[9] ^= 0xff; // the prelude CRC
    rejectsWith(() => decode(prelude, chat({ messages: hi })), (e) => assert.equal(e.code, 'upstream_malformed_response'));
  });

  it('returns what it has for a truncated stream', () => {
    const bytes = Buffer.concat([
      encodeEvent('messageStart', { role: 'assistant' }),
      encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Partial answer' } }),
      encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: ' that never ends' } }),
    ]);
    const { chunks, usage } = decode(bytes.subarray(0, bytes.length - 10), chat({ messages: hi }));
    const a = assemble(chunks);
    assert.equal(a.content, 'Partial answer');
    assert.equal(a.finish, null);
    assert.equal(usage, undefined);
  });

  it('streams the json_schema tool input as content and finishes with stop', () => {
    const req = chat({ messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'city_info', schema: { type: 'object' } } } });
    const bytes = Buffer.concat([
      encodeEvent('messageStart', { role: 'assistant' }),
      encodeEvent('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_1', name: 'city_info' } } }),
      encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":' } } }),
      encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '"Paris"}' } } }),
      encodeEvent('contentBlockStop', { contentBlockIndex: 0 }),
      encodeEvent('messageStop', { stopReason: 'tool_use' }),
    ]);
    const a = assemble(decode(bytes, req).chunks);
    assert.equal(a.content, '{"city":"Paris"}');
    assert.deepEqual(a.tools, []);
    assert.equal(a.finish, 'stop');
  });
});

// ------------------------------------------------------------------------------------------------ errors

describe('bedrock HTTP errors', () => {
  const fromFixture = (name: string) => {
    const f = json(name);
    return bedrockAdapter.fromUpstreamError(f.status, f.body, f.headers) as UpstreamError;
  };

  it('keeps a 400 ValidationException as a non-retryable client error with the message', () => {
    const e = fromFixture('error-validation.json');
    assert.ok(e instanceof UpstreamError);
    assert.equal(e.status, 400);
    assert.equal(e.type, 'invalid_request_error');
    assert.equal(e.retryable, false);
    assert.equal(e.code, 'ValidationException');
    assert.match(e.message, /Conversation blocks and tool result blocks/);
  });

  it('makes 429 ThrottlingException retryable with Retry-After', () => {
    const e = fromFixture('error-throttling.json');
    assert.equal(e.status, 429);
    assert.equal(e.type, 'rate_limit_error');
    assert.equal(e.retryable, true);
    assert.equal(e.retryAfter, 3);
    assert.equal(e.code, 'ThrottlingException');
    assert.equal(e.message, 'Too many requests, please wait before trying again.');
  });

  it('makes 503 ServiceUnavailableException ({Message} body) and ModelNotReadyException retryable', () => {
    const e = fromFixture('error-unavailable.json');
    assert.equal(e.status, 502);
    assert.equal(e.upstreamStatus, 503);
    assert.equal(e.retryable, true);
    assert.equal(e.message, 'Bedrock is unable to process your request.');
    const notReady = fromFixture('error-model-not-ready.json');
    assert.equal(notReady.retryable, true);
    assert.equal(notReady.code, 'ModelNotReadyException');
  });

  it('handles 403 credentials, 424 model errors and non-JSON bodies', () => {
    const denied = bedrockAdapter.fromUpstreamError(403, '{"message":"The security token included in the request is invalid."}', { 'x-amzn-errortype': 'UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/' }) as UpstreamError;
    assert.equal(denied.status, 502);
    assert.equal(denied.code, 'UnrecognizedClientException');
    assert.match(denied.message, /provider credentials/);
    const model = bedrockAdapter.fromUpstreamError(424, '{"message":"Model error"}', { 'X-Amzn-ErrorType': 'ModelErrorException' }) as UpstreamError;
    assert.equal(model.status, 502);
    assert.equal(model.upstreamStatus, 424);
    assert.equal(model.code, 'ModelErrorException');
    const html = bedrockAdapter.fromUpstreamError(502, '<html>Bad Gateway</html>', {}) as UpstreamError;
    assert.equal(html.message, '<html>Bad Gateway</html>');
    assert.equal(html.retryable, true);
  });
});

// ------------------------------------------------------------------------------------------------ fake upstream

describe('bedrock against the fake upstream', () => {
  const turn: ScriptedTurn = {
    reasoning: 'Need the weather tool.',
    text: 'Checking the weather.',
    toolCalls: [{ id: 'tooluse_abc', name: 'get_weather', arguments: '{"city":"Lisbon"}' }],
    usage: { input: 40, output: 25, cacheRead: 100, cacheWrite: 7 },
  };

  it('round-trips fakeBedrock.reply stream pieces through the decoder', () => {
    const reply = fakeBedrock.reply(turn, true, { path: '/model/x/converse-stream' } as never);
    assert.ok('raw' in reply);
    const d = bedrockAdapter.createStreamDecoder(target(), chat({ messages: hi }));
    const chunks = reply.raw.flatMap((p) => d.push(typeof p === 'string' ? Buffer.from(p) : p)).concat(d.end());
    const a = assemble(chunks);
    assert.deepEqual(a, {
      content: 'Checking the weather.',
      reasoning: 'Need the weather tool.',
      tools: [{ id: 'tooluse_abc', name: 'get_weather', args: '{"city":"Lisbon"}' }],
      finish: 'tool_calls',
    });
    assert.deepEqual(d.usage, { input: 40, cacheRead: 100, cacheWrite: 7, output: 25, reasoning: 0 });
    // splitOdd cuts inside messages: no piece is a whole message on its own.
    assert.equal(splitOdd([encodeEvent('metadata', {})]).length, 2);
  });

  it('serves chat, chatStream and errors over HTTP, with SigV4 on the wire', async () => {
    const up = await startFakeUpstream(scripted(fakeBedrock, () => turn));
    try {
      const client = httpProviderClient(bedrockAdapter);
      const opts = { firstByteTimeoutMs: 5000, idleTimeoutMs: 5000 };
      const t = target({ baseUrl: up.url, accessKeyId: 'AKID', secretAccessKey: 'secret', region: 'us-west-2' });
      const req = chat({ messages: [{ role: 'user', content: 'Weather in Lisbon?' }], tools: [weatherTool] });

      const res = await client.chat(t, req, opts);
      assert.equal(up.requests[0].path, `/model/${encodeURIComponent(CLAUDE)}/converse`);
      assert.match(String(up.requests[0].headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-west-2\/bedrock\/aws4_request/);
      assert.equal(up.requests[0].headers.host, new URL(up.url).host);
      assert.equal(fakeBedrock.lastUserText(up.requests[0]), 'Weather in Lisbon?');
      assert.deepEqual(fakeBedrock.toolNames(up.requests[0]), ['get_weather']);
      assert.equal(res.completion.choices[0].message.content, 'Checking the weather.');
      assert.equal(res.completion.choices[0].message.reasoning_content, 'Need the weather tool.');
      assert.equal(res.completion.choices[0].message.tool_calls![0].function.arguments, '{"city":"Lisbon"}');
      assert.deepEqual(res.usage, { input: 40, cacheRead: 100, cacheWrite: 7, output: 25, reasoning: 0 });

      const stream = await client.chatStream(t, req, opts);
      const chunks: ChatChunk[] = [];
      await readChunks(stream, chunks);
      assert.ok(fakeBedrock.isStream(up.requests[1]));
      assert.equal(assemble(chunks).content, 'Checking the weather.');
      assert.equal(assemble(chunks).finish, 'tool_calls');
      assert.deepEqual(stream.usage, res.usage);

      up.setHandler(() => bedrockErrorReply(429, 'ThrottlingException', 'Rate exceeded'));
      await assert.rejects(client.chat(t, req, opts), (e: unknown) => e instanceof UpstreamError && e.retryable && e.status === 429 && e.message === 'Rate exceeded');
      up.setHandler(() => fakeBedrock.error(400, 'Malformed input request'));
      await assert.rejects(client.chatStream(t, req, opts), (e: unknown) => e instanceof UpstreamError && !e.retryable && e.code === 'ValidationException');

      // A stream cut after 3 events still yields what arrived.
      up.setHandler(scripted(fakeBedrock, () => ({ text: 'abcdefghi', cutAfter: 3, chunkDelayMs: 5 })));
      const cut: ChatChunk[] = [];
      await assert.rejects(async () => {
        await readChunks(await client.chatStream(t, req, opts), cut);
      });
      assert.equal(assemble(cut).content, 'abcdef');
    } finally {
      await up.close();
    }
  });
});

// ------------------------------------------------------------------------------------------------ embeddings

describe('bedrock Titan embeddings', () => {
  it('builds an InvokeModel request for a single string and maps the vector and token count', async () => {
    const req = EmbeddingsRequestSchema.parse({ model: 'bedrock/titan', input: 'hello world', dimensions: 256 });
    const up = await bedrockAdapter.toEmbeddingsRequest!(target({ apiKey: 'k' }, 'amazon.titan-embed-text-v2:0'), req);
    assert.equal(up.url, 'https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-embed-text-v2%3A0/invoke');
    assert.deepEqual(JSON.parse(up.body!), { inputText: 'hello world', dimensions: 256 });
    const res = bedrockAdapter.fromEmbeddingsResponse!({ embedding: [0.5, -0.25], inputTextTokenCount: 3 }, target(), req);
    assert.deepEqual(res.data, [{ object: 'embedding', index: 0, embedding: [0.5, -0.25] }]);
    assert.deepEqual(res.usage, { input: 3, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    const b64 = bedrockAdapter.fromEmbeddingsResponse!({ embedding: [0.5, -0.25], inputTextTokenCount: 3 }, target(), { ...req, encoding_format: 'base64' });
    const buf = Buffer.from(b64.data[0].embedding as string, 'base64');
    assert.deepEqual([buf.readFloatLE(0), buf.readFloatLE(4)], [0.5, -0.25]);
  });

  it('refuses several inputs in one call', async () => {
    const req = EmbeddingsRequestSchema.parse({ model: 'bedrock/titan', input: ['a', 'b'] });
    await assert.rejects(bedrockAdapter.toEmbeddingsRequest!(target(), req) as Promise<unknown>, (e: unknown) => e instanceof UpstreamError && e.status === 400);
  });
});

after(async () => {
  mock.timers.reset();
  await closeTransport();
});
