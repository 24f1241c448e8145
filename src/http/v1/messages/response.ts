/**
 * OpenAI chat completion (the pivot format) -> Anthropic Messages response, plus the usage and stop-reason
 * mappings the stream encoder shares. Pure: no I/O.
 */
import { thinkingBlocksOf, type ChatChoice, type ChatCompletion, type FinishReason, type OpenAIUsage } from '../../../providers/types.ts';

/** Anthropic usage as this gateway returns it: Anthropic's fields, plus `cost` (USD) as on every response. */
export interface AnthropicUsage {
  /** Prompt tokens that were neither read from nor written to the cache (Anthropic's definition). */
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
  output_tokens_details?: { thinking_tokens: number };
  cost?: number;
  estimated?: boolean;
}

export type AnthropicContentBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicResponseMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicContentBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
  /** Switchyard: the provider that served the request (as `provider` on chat completions). */
  provider?: string;
}

const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/**
 * OpenAI usage -> Anthropic usage. OpenAI's `prompt_tokens` include cache reads (`cached_tokens`) and cache
 * writes (`cache_write_tokens`); Anthropic's `input_tokens` exclude both.
 */
export function toAnthropicUsage(u: OpenAIUsage | null | undefined): AnthropicUsage {
  const details = u?.prompt_tokens_details ?? {};
  const cacheRead = count(details.cached_tokens);
  const cacheWrite = count(details.cache_write_tokens);
  const out: AnthropicUsage = {
    input_tokens: Math.max(0, count(u?.prompt_tokens) - cacheRead - cacheWrite),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: count(u?.completion_tokens),
  };
  const reasoning = count(u?.completion_tokens_details?.reasoning_tokens);
  if (reasoning) out.output_tokens_details = { thinking_tokens: reasoning };
  if (typeof u?.cost === 'number') out.cost = u.cost;
  if (u?.estimated === true) out.estimated = true;
  return out;
}

const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/**
 * The stop sequence that ended generation, when the upstream says which: vLLM reports it as the choice's
 * `stop_reason`, SGLang as `matched_stop`. Only strings the client asked for count.
 */
export function matchedStop(choice: Record<string, unknown> | undefined, stopSequences: readonly string[]): string | null {
  if (!choice || !stopSequences.length) return null;
  for (const key of ['stop_reason', 'matched_stop']) {
    const v = choice[key];
    if (typeof v === 'string' && stopSequences.includes(v)) return v;
  }
  return null;
}

/** OpenAI finish_reason -> Anthropic stop_reason (and the stop sequence, when known). */
export function toStopReason(finish: FinishReason | null | undefined, opts: { hasToolCalls?: boolean; stopSequence?: string | null } = {}): { stop_reason: string; stop_sequence: string | null } {
  if (finish === 'stop' && opts.stopSequence) return { stop_reason: 'stop_sequence', stop_sequence: opts.stopSequence };
  // Some upstreams (Ollama, Gemini-compatible servers) end a tool-calling turn with `stop`.
  if (opts.hasToolCalls && (finish === 'stop' || finish == null)) return { stop_reason: 'tool_use', stop_sequence: null };
  return { stop_reason: (finish && STOP_REASONS[finish]) || 'end_turn', stop_sequence: null };
}

/** A tool call's JSON arguments as an Anthropic `input` object (an object even when the upstream sent junk). */
export function parseToolInput(args: string | undefined): Record<string, unknown> {
  const raw = (args ?? '').trim();
  if (!raw) return {};
  try {
    const v = JSON.parse(raw);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Anthropic message ids start with `msg_`; OpenAI-style ids are re-prefixed. */
export function messageId(id: string | undefined): string {
  if (!id) return `msg_${Date.now().toString(36)}`;
  return id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`;
}

export interface ResponseOptions {
  /** The request's stop_sequences, to report which one ended generation when the upstream says. */
  stopSequences?: readonly string[];
}

export function toAnthropicResponse(completion: ChatCompletion, opts: ResponseOptions = {}): AnthropicResponseMessage {
  const choice: ChatChoice | undefined = completion.choices[0];
  const message = choice?.message;
  const content: AnthropicContentBlock[] = [];
  const signed = message ? thinkingBlocksOf(message) : [];
  if (signed.length) {
    // Anthropic's own blocks, signatures included, so the client can send them back on the next turn.
    content.push(...signed);
  } else if (typeof message?.reasoning_content === 'string' && message.reasoning_content) {
    // No upstream but Anthropic signs thinking; an empty signature says so (such a block is dropped on input).
    content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  const text = typeof message?.content === 'string' ? message.content : '';
  const refusal = typeof message?.refusal === 'string' ? message.refusal : '';
  if (text || refusal) content.push({ type: 'text', text: text || refusal });
  for (const call of message?.tool_calls ?? []) {
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseToolInput(call.function.arguments) });
  }
  const stopSequence = matchedStop(choice as unknown as Record<string, unknown>, opts.stopSequences ?? []);
  const { stop_reason, stop_sequence } = toStopReason(refusal && !text ? 'content_filter' : choice?.finish_reason, {
    hasToolCalls: !!message?.tool_calls?.length,
    stopSequence,
  });
  const out: AnthropicResponseMessage = {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content,
    stop_reason,
    stop_sequence,
    usage: toAnthropicUsage(completion.usage),
  };
  if (typeof completion.provider === 'string') out.provider = completion.provider;
  return out;
}
