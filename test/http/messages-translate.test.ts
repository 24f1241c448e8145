/**
 * The Anthropic Messages adapter's pure translations (src/http/v1/messages/), on recorded fixtures:
 * Anthropic request -> pivot request, pivot completion -> Anthropic message, pivot chunks -> Anthropic
 * stream events, and error mapping. Round trips through the outbound Anthropic adapter prove that an
 * Anthropic client talking to an Anthropic upstream through the gateway keeps what matters.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ChatRequestSchema } from '../../src/providers/chat-schema.ts';
import type { ChatChunk, ChatCompletion, ResolvedProvider, UpstreamTarget } from '../../src/providers/types.ts';
import { AppError } from '../../src/errors.ts';
import { SseParser } from '../../src/providers/sse.ts';
import { AnthropicStreamDecoder, fromUpstreamResponse, toMessagesBody } from '../../src/providers/anthropic/index.ts';
import { CountTokensRequestSchema, MessagesRequestSchema, type MessagesRequest } from '../../src/http/v1/messages/schema.ts';
import { effortForBudget, endUserId, fromAnthropicCountTokensRequest, fromAnthropicRequest } from '../../src/http/v1/messages/request.ts';
import { messageId, toAnthropicResponse, toAnthropicUsage, toStopReason } from '../../src/http/v1/messages/response.ts';
import { AnthropicStreamEncoder, sseEvent, type AnthropicStreamEvent } from '../../src/http/v1/messages/stream.ts';
import { anthropicErrorType, toAnthropicError } from '../../src/http/v1/messages/errors.ts';

const text = (dir: string, name: string) => readFileSync(new URL(`../fixtures/${dir}/${name}`, import.meta.url), 'utf8');
const inbound = (name: string) => JSON.parse(text('anthropic-inbound', name));
const parse = (body: unknown): MessagesRequest => MessagesRequestSchema.parse(body);
const base = { model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };

function sseEvents(raw: string): { event: string | undefined; data: any }[] {
  const parser = new SseParser();
  return [...parser.push(new TextEncoder().encode(raw)), ...parser.end()].map((e) => ({ event: e.event, data: JSON.parse(e.data) }));
}

function encode(chunks: ChatChunk[], opts: Partial<ConstructorParameters<typeof AnthropicStreamEncoder>[0]> = {}): AnthropicStreamEvent[] {
  const enc = new AnthropicStreamEncoder({ model: 'test/model', ...opts });
  return [...chunks.flatMap((c) => enc.push(c)), ...enc.end()];
}

const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}): ChatChunk => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'test/model',
  choices: [{ index: 0, delta, finish_reason: finish, ...extra }],
});

const completion = (message: Record<string, unknown>, finish: string, choiceExtra: Record<string, unknown> = {}): ChatCompletion => ({
  id: 'chatcmpl-abc',
  object: 'chat.completion',
  created: 1,
  model: 'test/model',
  choices: [{ index: 0, message: { role: 'assistant', content: null, ...message } as any, finish_reason: finish, ...choiceExtra }],
});

describe('request: Anthropic -> pivot', () => {
  for (const name of ['request-claude-code', 'request-vision-tools']) {
    it(`translates ${name}.json to the recorded pivot request, which the chat schema accepts`, () => {
      const req = fromAnthropicRequest(parse(inbound(`${name}.json`)));
      assert.deepEqual(JSON.parse(JSON.stringify(req)), inbound(`${name}.openai.json`));
      assert.equal(ChatRequestSchema.safeParse(req).success, true);
    });
  }

  it('keeps thinking, top_k, cache_control, the raw user id and tool-result images for Anthropic-format upstreams', () => {
    const req: any = fromAnthropicRequest(parse(inbound('request-claude-code.json')), { anthropicExtras: true });
    assert.deepEqual(req.thinking, { type: 'enabled', budget_tokens: 31999 });
    assert.equal(req.reasoning_effort, 'high');
    assert.deepEqual(req.messages[0].content[0].cache_control, { type: 'ephemeral' });
    assert.deepEqual(req.messages[1].content[1].cache_control, { type: 'ephemeral' });
    assert.deepEqual(req.messages[3].cache_control, { type: 'ephemeral' }, 'tool_result cache_control rides on the tool message');
    assert.deepEqual(req.tools[1].cache_control, { type: 'ephemeral' });
    assert.match(req.user, /^user_2f5c0a8e.*_session_/);
    const vision: any = fromAnthropicRequest(parse(inbound('request-vision-tools.json')), { anthropicExtras: true });
    assert.equal(vision.top_k, 40);
    assert.deepEqual(vision.messages[3].content, [
      { type: 'text', text: 'Cropped.' },
      { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==' } },
    ]);
    assert.deepEqual(vision.messages[5], { role: 'user', content: 'Which one is taller?' }, 'no attachment note: the image stayed in the tool result');
  });

  it('round-trips through the outbound Anthropic adapter to an equivalent Messages body', () => {
    const original = inbound('request-claude-code.json');
    const body: any = toMessagesBody(fromAnthropicRequest(parse(original), { anthropicExtras: true }), original.model, true);
    assert.deepEqual(body.system, original.system);
    assert.deepEqual(body.thinking, original.thinking);
    assert.equal(body.max_tokens, original.max_tokens);
    assert.deepEqual(body.metadata, original.metadata);
    assert.deepEqual(
      body.tools,
      original.tools.map((t: any) => ({ ...t })),
    );
    // Anthropic's own shape again, the signed thinking block first in the assistant turn (a tool loop with
    // thinking on is refused without it).
    assert.deepEqual(body.messages[0], original.messages[0]);
    assert.deepEqual(body.messages[1], original.messages[1]);
    // The tool_result's cache breakpoint lands on its last content block: the same cached prefix.
    const result = original.messages[2].content[0];
    assert.deepEqual(body.messages[2], {
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: result.tool_use_id, content: [{ ...result.content[0], cache_control: { type: 'ephemeral' } }] }],
    });
    assert.equal(body.stream, true);
  });

  it('maps thinking budgets (and output_config.effort) to reasoning_effort', () => {
    assert.equal(effortForBudget(1024), 'low');
    assert.equal(effortForBudget(2047), 'low');
    assert.equal(effortForBudget(2048), 'medium');
    assert.equal(effortForBudget(4096), 'medium');
    assert.equal(effortForBudget(8192), 'high');
    assert.equal(effortForBudget(16384), 'high');
    const effort = (extra: Record<string, unknown>) => fromAnthropicRequest(parse({ ...base, ...extra })).reasoning_effort;
    assert.equal(effort({ thinking: { type: 'enabled', budget_tokens: 1024 } }), 'low');
    assert.equal(effort({ thinking: { type: 'enabled', budget_tokens: 5000 } }), 'medium');
    assert.equal(effort({ thinking: { type: 'disabled' } }), undefined);
    assert.equal(effort({ thinking: { type: 'adaptive' } }), undefined);
    assert.equal(effort({ thinking: { type: 'adaptive' }, output_config: { effort: 'low' } }), 'low');
    assert.equal(effort({ output_config: { effort: 'max' } }), 'high');
    assert.equal(effort({}), undefined);
    // A model known not to reason gets neither, even from an Anthropic-format upstream.
    const off: any = fromAnthropicRequest(parse({ ...base, thinking: { type: 'enabled', budget_tokens: 5000 } }), { anthropicExtras: true, reasoning: false });
    assert.equal(off.reasoning_effort, undefined);
    assert.equal(off.thinking, undefined);
    // Without Anthropic-format upstreams the thinking object itself never goes upstream.
    assert.equal('thinking' in fromAnthropicRequest(parse({ ...base, thinking: { type: 'enabled', budget_tokens: 5000 } })), false);
  });

  it('maps tool_choice, disable_parallel_tool_use, and drops both without tools', () => {
    const tools = [{ name: 'f', input_schema: { type: 'object' } }];
    const pick = (tool_choice: unknown, withTools = true) => {
      const r = fromAnthropicRequest(parse({ ...base, ...(withTools ? { tools } : {}), tool_choice }));
      return { tool_choice: r.tool_choice, parallel_tool_calls: r.parallel_tool_calls };
    };
    assert.deepEqual(pick({ type: 'auto' }), { tool_choice: 'auto', parallel_tool_calls: undefined });
    assert.deepEqual(pick({ type: 'any' }), { tool_choice: 'required', parallel_tool_calls: undefined });
    assert.deepEqual(pick({ type: 'tool', name: 'f' }), { tool_choice: { type: 'function', function: { name: 'f' } }, parallel_tool_calls: undefined });
    assert.deepEqual(pick({ type: 'none' }), { tool_choice: 'none', parallel_tool_calls: undefined });
    assert.deepEqual(pick({ type: 'auto', disable_parallel_tool_use: true }), { tool_choice: 'auto', parallel_tool_calls: false });
    assert.deepEqual(pick({ type: 'auto', disable_parallel_tool_use: true }, false), { tool_choice: undefined, parallel_tool_calls: undefined });
    const noSchema = fromAnthropicRequest(parse({ ...base, tools: [{ name: 'g' }] })).tools![0];
    assert.deepEqual(noSchema.function.parameters, { type: 'object', properties: {} });
  });

  it('maps sampling fields, stop sequences, stream and metadata', () => {
    const r = fromAnthropicRequest(parse({ ...base, temperature: 0.5, top_p: 0.8, top_k: 3, stop_sequences: ['X', ''], stream: true, metadata: { user_id: 'u1' } }));
    assert.equal(r.max_tokens, 100);
    assert.equal(r.temperature, 0.5);
    assert.equal(r.top_p, 0.8);
    assert.equal('top_k' in r, false, 'top_k is dropped for OpenAI-format upstreams');
    assert.deepEqual(r.stop, ['X']);
    assert.equal(r.stream, true);
    assert.equal(r.user, 'u1');
    assert.equal(endUserId('x'.repeat(64)), 'x'.repeat(64));
    assert.match(endUserId('x'.repeat(65)), /^[0-9a-f]{64}$/);
    const plain = fromAnthropicRequest(parse(base));
    assert.deepEqual(Object.keys(plain).sort(), ['max_tokens', 'messages', 'model']);
  });

  it('handles string and empty systems, system-role messages and string assistant turns', () => {
    const r = fromAnthropicRequest(
      parse({
        ...base,
        system: 'Be terse.',
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
          { role: 'system', content: [{ type: 'text', text: 'Later rule.' }] },
          { role: 'user', content: [{ type: 'text', text: 'c' }] },
        ],
      }),
    );
    assert.deepEqual(r.messages, [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'system', content: 'Later rule.' },
      { role: 'user', content: 'c' },
    ]);
    assert.equal(fromAnthropicRequest(parse({ ...base, system: [] })).messages.length, 1);
    assert.equal(fromAnthropicRequest(parse({ ...base, system: '' })).messages.length, 1);
  });

  it('maps structured output (output_config.format) to response_format json_schema', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const r = fromAnthropicRequest(parse({ ...base, output_config: { format: { type: 'json_schema', schema } } }));
    assert.deepEqual(r.response_format, { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
  });

  it('rejects what the pivot cannot express with a 400 naming the field', () => {
    const bad = (body: unknown, param: string) => {
      assert.throws(
        () => fromAnthropicRequest(parse(body)),
        (e: any) => e instanceof AppError && e.status === 400 && e.type === 'invalid_request_error' && e.param === param,
      );
    };
    bad({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }] }, 'tools[0].type');
    bad({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'file_1' } }] }] }, 'messages[0].content[0].source');
    bad({ ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x/a.pdf' } }] }] }, 'messages[0].content[0].source');
    bad({ ...base, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] }] }, 'messages[0].content[0].type');
    bad({ ...base, messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 't' }] }] }, 'messages[0].content[0].type');
    bad({ ...base, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: [1] }] }] }, 'messages[0].content[0].input');
    assert.throws(() => fromAnthropicRequest({ ...base, max_tokens: undefined } as any), (e: any) => e.status === 400 && e.param === 'max_tokens');
  });

  it('validates the body: max_tokens required, closed set of block types, types checked', () => {
    const ok = (b: unknown) => MessagesRequestSchema.safeParse(b).success;
    assert.equal(ok(base), true);
    assert.equal(ok({ ...base, future_field: { anything: 1 } }), true, 'unknown top-level fields pass (forward compatibility)');
    assert.equal(ok({ model: 'm', messages: base.messages }), false);
    assert.equal(ok({ ...base, max_tokens: 0 }), false);
    assert.equal(ok({ ...base, max_tokens: '100' }), false);
    assert.equal(ok({ ...base, temperature: 1.5 }), false);
    assert.equal(ok({ ...base, messages: [] }), false);
    assert.equal(ok({ ...base, messages: [{ role: 'user', content: [{ type: 'hologram' }] }] }), false);
    assert.equal(ok({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 5 }] }] }), false);
    assert.equal(ok({ ...base, tool_choice: { type: 'sometimes' } }), false);
    assert.equal(CountTokensRequestSchema.safeParse({ model: 'm', messages: base.messages }).success, true, 'count_tokens needs no max_tokens');
    const counted = fromAnthropicCountTokensRequest(CountTokensRequestSchema.parse({ model: 'm', system: 's', messages: base.messages }));
    assert.deepEqual(counted, { model: 'm', messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }] });
  });
});

describe('response: pivot completion -> Anthropic message', () => {
  it('translates the recorded completion (thinking, text, tool_use, cache usage, cost)', () => {
    assert.deepEqual(toAnthropicResponse(inbound('completion-thinking-tool.json')), inbound('response-thinking-tool.json'));
  });

  it('round-trips the recorded Anthropic upstream response through the outbound adapter', () => {
    const original = JSON.parse(text('anthropic', 'response-thinking-tool.json'));
    const target: UpstreamTarget = { provider: { id: 'anthropic', type: 'anthropic' } as ResolvedProvider, model: original.model };
    const { completion } = fromUpstreamResponse(original, target, { model: 'x', messages: [] });
    const back = toAnthropicResponse(completion);
    assert.equal(back.id, original.id);
    assert.equal(back.stop_reason, original.stop_reason);
    // Block for block, the thinking signature included.
    assert.deepEqual(back.content, original.content);
    assert.deepEqual(back.usage, { input_tokens: 512, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 240, output_tokens_details: { thinking_tokens: 120 } });
  });

  it('maps finish reasons to stop reasons', () => {
    assert.deepEqual(toStopReason('stop'), { stop_reason: 'end_turn', stop_sequence: null });
    assert.deepEqual(toStopReason('length'), { stop_reason: 'max_tokens', stop_sequence: null });
    assert.deepEqual(toStopReason('tool_calls'), { stop_reason: 'tool_use', stop_sequence: null });
    assert.deepEqual(toStopReason('content_filter'), { stop_reason: 'refusal', stop_sequence: null });
    assert.deepEqual(toStopReason(null), { stop_reason: 'end_turn', stop_sequence: null });
    assert.deepEqual(toStopReason('stop', { hasToolCalls: true }), { stop_reason: 'tool_use', stop_sequence: null });
    assert.deepEqual(toStopReason('stop', { stopSequence: '###' }), { stop_reason: 'stop_sequence', stop_sequence: '###' });
    // vLLM reports the matched stop string as the choice's stop_reason; only the client's own sequences count.
    const vllm = completion({ content: 'up to here' }, 'stop', { stop_reason: '###' });
    assert.equal(toAnthropicResponse(vllm, { stopSequences: ['###'] }).stop_reason, 'stop_sequence');
    assert.equal(toAnthropicResponse(vllm, { stopSequences: ['###'] }).stop_sequence, '###');
    assert.equal(toAnthropicResponse(vllm, { stopSequences: ['END'] }).stop_reason, 'end_turn');
    assert.equal(toAnthropicResponse(completion({ content: 'cut' }, 'length')).stop_reason, 'max_tokens');
  });

  it('turns a refusal into text with stop_reason refusal, and tolerates bad tool arguments', () => {
    const refused = toAnthropicResponse(completion({ refusal: 'I cannot help with that.' }, 'stop'));
    assert.deepEqual(refused.content, [{ type: 'text', text: 'I cannot help with that.' }]);
    assert.equal(refused.stop_reason, 'refusal');
    const junk = toAnthropicResponse(completion({ tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{not json' } }] }, 'tool_calls'));
    assert.deepEqual(junk.content, [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }]);
    const empty = toAnthropicResponse(completion({ content: '' }, 'stop'));
    assert.deepEqual(empty.content, []);
    assert.deepEqual(empty.usage, { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 });
  });

  it('usage: input_tokens excludes cache reads and writes; cost and estimates are kept', () => {
    assert.deepEqual(
      toAnthropicUsage({ prompt_tokens: 1000, completion_tokens: 50, total_tokens: 1050, prompt_tokens_details: { cached_tokens: 600, cache_write_tokens: 100 }, cost: 0.01, estimated: true }),
      { input_tokens: 300, cache_creation_input_tokens: 100, cache_read_input_tokens: 600, output_tokens: 50, cost: 0.01, estimated: true },
    );
    assert.equal(toAnthropicUsage({ prompt_tokens: 5, completion_tokens: 1, total_tokens: 6, prompt_tokens_details: { cached_tokens: 9 } }).input_tokens, 0);
  });

  it('gives message ids the msg_ prefix', () => {
    assert.equal(messageId('msg_01ABC'), 'msg_01ABC');
    assert.equal(messageId('chatcmpl-xyz'), 'msg_xyz');
    assert.equal(messageId('gen-123'), 'msg_gen-123');
    assert.match(messageId(undefined), /^msg_/);
  });
});

describe('stream: pivot chunks -> Anthropic events', () => {
  it('encodes the recorded chunks as the recorded SSE', () => {
    const enc = new AnthropicStreamEncoder({ model: 'deepseek/deepseek-reasoner', inputTokens: 3500 });
    let out = '';
    for (const c of inbound('chunks-thinking-tool.json')) out += enc.push(c).map(sseEvent).join('');
    out += enc.end().map(sseEvent).join('');
    assert.equal(out, text('anthropic-inbound', 'stream-thinking-tool.sse'));
    // Every event is named, and the name repeats as `type` in its data (the SDK skips unnamed events).
    for (const e of sseEvents(out)) assert.equal(e.event, e.data.type);
  });

  it('round-trips the recorded Anthropic upstream stream through the outbound decoder', () => {
    const raw = text('anthropic', 'stream-thinking-tool.sse');
    const target: UpstreamTarget = { provider: { id: 'anthropic', type: 'anthropic' } as ResolvedProvider, model: 'claude' };
    const decoder = new AnthropicStreamDecoder(target, { model: 'x', messages: [] });
    const chunks = [...decoder.push(new TextEncoder().encode(raw)), ...decoder.end()];
    const ours = encode(chunks).map((e) => JSON.parse(JSON.stringify(e)));
    // Anthropic's own events minus what the pivot does not carry: pings and empty JSON deltas. The thinking
    // block's signature_delta comes through.
    const theirs = sseEvents(raw)
      .map((e) => e.data)
      .filter((d) => d.type !== 'ping' && d.delta?.partial_json !== '');
    assert.deepEqual(
      ours.map((e) => e.type),
      theirs.map((e) => e.type),
    );
    for (let i = 1; i < ours.length - 2; i++) assert.deepEqual(ours[i], theirs[i], `event ${i}`);
    assert.equal(ours[0].message.id, theirs[0].message.id);
    assert.deepEqual(ours.at(-2)!.delta, theirs.at(-2)!.delta);
  });

  it('a stream with no content still opens and closes the message', () => {
    const events = encode([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop')]);
    assert.deepEqual(
      events.map((e) => e.type),
      ['message_start', 'message_delta', 'message_stop'],
    );
    assert.deepEqual(events[1], { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 0 } });
  });

  it('usage arriving after finish_reason (include_usage) still reaches message_delta', () => {
    const usage = { prompt_tokens: 30, completion_tokens: 2, total_tokens: 32, prompt_tokens_details: { cached_tokens: 10 }, cost: 0.5 };
    const events = encode([chunk({ content: 'hi' }), chunk({}, 'length'), { ...chunk({}), choices: [], usage }]);
    const delta = events.find((e) => e.type === 'message_delta')!;
    assert.deepEqual(delta, {
      type: 'message_delta',
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
      usage: { input_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 10, output_tokens: 2, cost: 0.5 },
    });
  });

  it('buffers tool arguments that arrive before the tool name, and marks tool turns that end in stop', () => {
    const events = encode([
      chunk({ tool_calls: [{ index: 0, id: 'call_1', function: { arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { name: 'f', arguments: '1}' } }] }),
      chunk({}, 'stop'),
    ]);
    assert.deepEqual(events.slice(1), [
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 0 } },
      { type: 'message_stop' },
    ]);
  });

  it('reports the matched stop sequence and content-filter refusals', () => {
    const stopped = encode([chunk({ content: 'a' }), chunk({}, 'stop', { stop_reason: 'END' })], { stopSequences: ['END'] });
    assert.deepEqual(stopped.find((e) => e.type === 'message_delta')!.delta, { stop_reason: 'stop_sequence', stop_sequence: 'END' });
    const refused = encode([chunk({ refusal: 'No.' }, 'stop')]);
    assert.deepEqual(refused[2], { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'No.' } });
    assert.deepEqual(refused.find((e) => e.type === 'message_delta')!.delta, { stop_reason: 'refusal', stop_sequence: null });
  });

  it('an upstream error mid-stream becomes an Anthropic error event, and nothing follows it', () => {
    const enc = new AnthropicStreamEncoder({ model: 'm' });
    enc.push(chunk({ content: 'partial' }));
    assert.deepEqual(enc.error({ error: { type: 'service_unavailable', message: 'Upstream overloaded' } }), [
      { type: 'error', error: { type: 'overloaded_error', message: 'Upstream overloaded' } },
    ]);
    assert.deepEqual(enc.end(), []);
    assert.equal(sseEvent({ type: 'error', error: { type: 'api_error', message: 'x' } }), 'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"x"}}\n\n');
  });
});

describe('errors: gateway statuses and types -> Anthropic', () => {
  it('maps statuses as Anthropic documents them (503 -> 529 overloaded_error)', () => {
    const table: [number, number, string][] = [
      [400, 400, 'invalid_request_error'],
      [401, 401, 'authentication_error'],
      [402, 402, 'billing_error'],
      [403, 403, 'permission_error'],
      [404, 404, 'not_found_error'],
      [413, 413, 'request_too_large'],
      [422, 422, 'invalid_request_error'],
      [429, 429, 'rate_limit_error'],
      [500, 500, 'api_error'],
      [502, 502, 'api_error'],
      [503, 529, 'overloaded_error'],
      [504, 504, 'timeout_error'],
    ];
    for (const [status, expected, type] of table) assert.deepEqual(toAnthropicError(status), { status: expected, type }, String(status));
  });

  it('maps stream error types', () => {
    assert.equal(anthropicErrorType('rate_limit_error'), 'rate_limit_error');
    assert.equal(anthropicErrorType('overloaded_error'), 'overloaded_error');
    assert.equal(anthropicErrorType('timeout_error'), 'timeout_error');
    assert.equal(anthropicErrorType('service_unavailable'), 'overloaded_error');
    assert.equal(anthropicErrorType('insufficient_quota'), 'billing_error');
    assert.equal(anthropicErrorType('something_new'), 'api_error');
    assert.equal(anthropicErrorType(undefined), 'api_error');
  });
});
