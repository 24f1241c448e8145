/** Anthropic Messages wire format for the fake upstream: JSON messages, SSE event streams and error bodies. */
import type { FakeHandler, FakeReply, FakeRequest, SseItem } from './fake-upstream.ts';
import { pieces, scripted, type ProviderFake, type ScriptedTurn } from './fake-script.ts';

/** Anthropic's usage fields: `input_tokens` excludes cache reads and cache writes. */
function usageOf(turn: ScriptedTurn) {
  const u = turn.usage ?? { input: 10, output: 5 };
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite ?? 0,
    cache_read_input_tokens: u.cacheRead ?? 0,
    output_tokens: u.output,
    ...(u.reasoning ? { output_tokens_details: { thinking_tokens: u.reasoning } } : {}),
    service_tier: 'standard',
  };
}

const STOP_REASONS = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' } as const;

function stopReasonOf(turn: ScriptedTurn): string {
  return STOP_REASONS[turn.finish ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop')];
}

function inputOf(args: string): unknown {
  try {
    return args.trim() ? JSON.parse(args) : {};
  } catch {
    return {};
  }
}

export const SIGNATURE = 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds2VsbGL4W+ZXKkHKN6pQ==';

function contentOf(turn: ScriptedTurn): object[] {
  const content: object[] = [];
  if (turn.reasoning) content.push({ type: 'thinking', thinking: turn.reasoning, signature: SIGNATURE });
  if (turn.text) content.push({ type: 'text', text: turn.text, citations: null });
  for (const t of turn.toolCalls ?? []) content.push({ type: 'tool_use', id: t.id, name: t.name, input: inputOf(t.arguments) });
  return content;
}

function streamOf(turn: ScriptedTurn, id: string, model: string): SseItem[] {
  const events: SseItem[] = [];
  const ev = (type: string, data: object) => events.push({ event: type, data: { type, ...data } });
  const usage = usageOf(turn);
  // message_start reports input and cache fields with a small running output count; message_delta the final output.
  const startUsage = { ...usage, output_tokens: Math.min(1, usage.output_tokens) };
  delete (startUsage as { output_tokens_details?: unknown }).output_tokens_details;
  ev('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, ...(turn.omitUsage ? {} : { usage: startUsage }) },
  });
  ev('ping', {});
  let index = 0;
  if (turn.reasoning) {
    ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const p of pieces(turn.reasoning)) ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: p } });
    ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: SIGNATURE } });
    ev('content_block_stop', { index });
    index++;
  }
  if (turn.text) {
    ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const p of pieces(turn.text)) ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } });
    ev('content_block_stop', { index });
    index++;
  }
  for (const t of turn.toolCalls ?? []) {
    ev('content_block_start', { index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } });
    // The real API opens every tool input with an empty partial_json.
    ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
    for (const p of pieces(t.arguments)) ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } });
    ev('content_block_stop', { index });
    index++;
  }
  const outputUsage = { output_tokens: usage.output_tokens, ...(usage.output_tokens_details ? { output_tokens_details: usage.output_tokens_details } : {}) };
  ev('message_delta', { delta: { stop_reason: stopReasonOf(turn), stop_sequence: null }, ...(turn.omitUsage ? {} : { usage: outputUsage }) });
  ev('message_stop', {});
  return events;
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

function errorTypeOf(status: number): string {
  return ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.filter((b: any) => b?.type === 'text').map((b: any) => b.text).join('');
}

export const fakeAnthropic: ProviderFake = {
  format: 'anthropic',
  isStream: (req) => req.body?.stream === true,

  reply(turn, stream, req): FakeReply {
    const id = 'msg_01FakeAnthropic0000000001';
    const model = req.body?.model ?? 'claude-fake';
    if (stream) return { sse: streamOf(turn, id, model), chunkDelayMs: turn.chunkDelayMs, cutAfter: turn.cutAfter };
    return {
      headers: { 'request-id': 'req_fake0001' },
      json: {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: contentOf(turn),
        stop_reason: stopReasonOf(turn),
        stop_sequence: null,
        ...(turn.omitUsage ? {} : { usage: usageOf(turn) }),
      },
    };
  },

  error(status, message): FakeReply {
    return { status, json: { type: 'error', error: { type: errorTypeOf(status), message }, request_id: 'req_fake0001' } };
  },

  lastUserText(req) {
    const msgs = (req.body?.messages ?? []) as { role: string; content: unknown }[];
    const last = [...msgs].reverse().find((m) => m.role === 'user' && textOf(m.content) !== '');
    return last ? textOf(last.content) : '';
  },

  toolNames: (req: FakeRequest) => ((req.body?.tools ?? []) as { name: string }[]).map((t) => t.name),
};

/**
 * A weather-tool loop with thinking, checked like the real API: with thinking on, the assistant turn whose
 * tool calls are being answered must open with its own signed thinking block (or a redacted one), else 400.
 * First turn: thinking + a `weather` tool call (id toolu_w1); after the tool result: thinking + the answer.
 */
export const thinkingToolLoop: FakeHandler = scripted(fakeAnthropic, (req) => {
  const msgs = req.body.messages as { role: string; content: any[] | string }[];
  const last = msgs.at(-1)!;
  if (Array.isArray(last.content) && last.content[0]?.type === 'tool_result') {
    const answered = msgs.at(-2)!;
    const first = Array.isArray(answered.content) ? answered.content[0] : undefined;
    const signed = (first?.type === 'thinking' && first.signature === SIGNATURE) || first?.type === 'redacted_thinking';
    if (req.body.thinking?.type === 'enabled' && !signed) {
      return { reply: fakeAnthropic.error(400, 'messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`.') };
    }
    return { reasoning: 'The tool answered.', text: 'It is 21 degrees.' };
  }
  return { reasoning: 'I need the weather tool.', toolCalls: [{ id: 'toolu_w1', name: 'weather', arguments: '{"city":"Paris"}' }] };
});
