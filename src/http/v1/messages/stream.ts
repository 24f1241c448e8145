/**
 * OpenAI chat.completion.chunk stream (the pivot format) -> Anthropic Messages stream events. Stateful and
 * pure: chunks in, event objects out; SSE framing is `sseEvent`. The event order is Anthropic's:
 * `message_start`, then per content block `content_block_start` / `content_block_delta`* /
 * `content_block_stop`, then `message_delta` (stop reason and final usage) and `message_stop`.
 * `message_delta` waits for the end of the stream, because usage may come in a chunk after finish_reason.
 */
import { thinkingBlocksOf, type ChatChunk, type FinishReason, type OpenAIUsage, type ThinkingBlock } from '../../../providers/types.ts';
import { anthropicErrorType } from './errors.ts';
import { matchedStop, messageId, toAnthropicUsage, toStopReason } from './response.ts';

export interface AnthropicStreamEvent {
  type: string;
  [field: string]: unknown;
}

/** One event as SSE: Anthropic names every event (`event:`) and repeats the name as `type` in the data. */
export function sseEvent(ev: AnthropicStreamEvent): string {
  return `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
}

export const PING_EVENT: AnthropicStreamEvent = { type: 'ping' };

export interface EncoderOptions {
  /** Model id reported in message_start (the gateway's public id). */
  model: string;
  /** Prompt tokens as estimated before the call, for message_start; message_delta carries the real count. */
  inputTokens?: number;
  /** The request's stop_sequences, to report which one ended generation when the upstream says. */
  stopSequences?: readonly string[];
}

interface ToolState {
  id: string | undefined;
  name: string;
  /** Arguments received before the block could open (the name was not known yet). */
  pending: string;
  block: number | undefined;
}

type OpenBlock = { index: number; kind: 'text' | 'thinking' | 'tool' };

/** An error item as the gateway yields it mid-stream (OpenAI's error shape). */
export interface StreamErrorLike {
  error: { message: string; type: string };
}

export class AnthropicStreamEncoder {
  private started = false;
  private finished = false;
  private nextIndex = 0;
  private open: OpenBlock | undefined;
  private readonly tools = new Map<number, ToolState>();
  private finish: FinishReason | null = null;
  private stopSequence: string | null = null;
  private usage: OpenAIUsage | undefined;

  constructor(private readonly opts: EncoderOptions) {}

  /** Events for one chunk (message_start comes with the first). */
  push(chunk: ChatChunk): AnthropicStreamEvent[] {
    const out: AnthropicStreamEvent[] = [];
    if (!this.started) this.start(chunk, out);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices.find((c) => c.index === 0) ?? chunk.choices[0];
    if (!choice) return out;
    const d = choice.delta ?? {};
    if (typeof d.reasoning_content === 'string' && d.reasoning_content) {
      this.ensure('thinking', out);
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'thinking_delta', thinking: d.reasoning_content } });
    }
    for (const block of thinkingBlocksOf(d)) this.thinkingBlock(block, out);
    const text = (typeof d.content === 'string' ? d.content : '') || (typeof d.refusal === 'string' ? d.refusal : '');
    if (text) {
      this.ensure('text', out);
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'text_delta', text } });
    }
    for (const tc of d.tool_calls ?? []) this.toolDelta(tc, out);
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.stopSequence = matchedStop(choice as unknown as Record<string, unknown>, this.opts.stopSequences ?? []) ?? this.stopSequence;
      if (typeof d.refusal === 'string' && d.refusal && !d.content) this.finish = 'content_filter';
    }
    return out;
  }

  /** The closing events once the upstream stream ended normally. */
  end(): AnthropicStreamEvent[] {
    const out: AnthropicStreamEvent[] = [];
    if (this.finished) return out;
    if (!this.started) this.start(undefined, out);
    // Tool calls whose name never arrived still get a block, so their arguments are not lost.
    for (const t of this.tools.values()) if (t.block === undefined) this.openTool(t, out);
    this.close(out);
    this.finished = true;
    const hasToolCalls = [...this.tools.values()].some((t) => t.block !== undefined);
    const { stop_reason, stop_sequence } = toStopReason(this.finish, { hasToolCalls, stopSequence: this.stopSequence });
    const usage: Record<string, unknown> = this.usage ? { ...toAnthropicUsage(this.usage) } : { output_tokens: 0 };
    out.push({ type: 'message_delta', delta: { stop_reason, stop_sequence }, usage });
    out.push({ type: 'message_stop' });
    return out;
  }

  /** An upstream failure after the stream began: Anthropic's `error` event, and nothing after it. */
  error(item: StreamErrorLike): AnthropicStreamEvent[] {
    if (this.finished) return [];
    this.finished = true;
    return [{ type: 'error', error: { type: anthropicErrorType(item.error?.type), message: item.error?.message || 'The upstream stream failed.' } }];
  }

  private start(chunk: ChatChunk | undefined, out: AnthropicStreamEvent[]): void {
    this.started = true;
    out.push({
      type: 'message_start',
      message: {
        id: messageId(chunk?.id),
        type: 'message',
        role: 'assistant',
        model: this.opts.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: this.opts.inputTokens ?? 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  /**
   * Anthropic's signature ends the thinking block it signs (its text came as reasoning_content); an encrypted
   * block is complete in itself. Either way the next thinking text starts a new block.
   */
  private thinkingBlock(block: ThinkingBlock, out: AnthropicStreamEvent[]): void {
    if (block.type === 'thinking') {
      this.ensure('thinking', out);
      out.push({ type: 'content_block_delta', index: this.open!.index, delta: { type: 'signature_delta', signature: block.signature } });
      this.close(out);
      return;
    }
    this.close(out);
    const index = this.nextIndex++;
    out.push({ type: 'content_block_start', index, content_block: { type: 'redacted_thinking', data: block.data } });
    out.push({ type: 'content_block_stop', index });
  }

  /** Makes a block of `kind` the open one, closing whatever else was open. */
  private ensure(kind: 'text' | 'thinking', out: AnthropicStreamEvent[]): void {
    if (this.open?.kind === kind) return;
    this.close(out);
    const index = this.nextIndex++;
    this.open = { index, kind };
    const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    out.push({ type: 'content_block_start', index, content_block: block });
  }

  private close(out: AnthropicStreamEvent[]): void {
    if (!this.open) return;
    out.push({ type: 'content_block_stop', index: this.open.index });
    this.open = undefined;
  }

  private toolDelta(tc: NonNullable<ChatChunk['choices'][number]['delta']['tool_calls']>[number], out: AnthropicStreamEvent[]): void {
    const i = typeof tc.index === 'number' ? tc.index : 0;
    let t = this.tools.get(i);
    if (!t) {
      t = { id: undefined, name: '', pending: '', block: undefined };
      this.tools.set(i, t);
    }
    if (tc.id && !t.id) t.id = tc.id;
    const name = tc.function?.name;
    const args = tc.function?.arguments ?? '';
    if (t.block === undefined) {
      if (name) t.name += name;
      t.pending += args;
      if (t.name) this.openTool(t, out);
      return;
    }
    if (args) out.push({ type: 'content_block_delta', index: t.block, delta: { type: 'input_json_delta', partial_json: args } });
  }

  private openTool(t: ToolState, out: AnthropicStreamEvent[]): void {
    this.close(out);
    const index = this.nextIndex++;
    t.block = index;
    this.open = { index, kind: 'tool' };
    out.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: t.id ?? `toolu_${index}`, name: t.name, input: {} } });
    if (t.pending) {
      out.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: t.pending } });
      t.pending = '';
    }
  }
}
