/**
 * Anthropic Messages SSE stream -> OpenAI chat.completion.chunk objects. Event translation is split from
 * SSE framing so that other transports of the same events (Bedrock's event stream) can reuse it.
 */
import type { ChatChunk, ChatRequest, ChunkDelta, FinishReason, StreamDecoder, UpstreamTarget, Usage } from '../types.ts';
import { emptyUsage } from '../types.ts';
import { SseParser, type SseEvent } from '../sse.ts';
import { malformedUpstream } from '../errors.ts';
import { errorFromWire } from './errors.ts';
import { structuredOutputTool } from './request.ts';
import { finishReasonOf, fromAnthropicUsage } from './response.ts';
import type { ResponseBlock, WireError, WireMessage, WireUsage } from './wire.ts';

/** One parsed stream event, e.g. `{type:'content_block_delta', index, delta:{type:'text_delta', text}}`. */
export interface AnthropicEvent {
  type: string;
  index?: number;
  message?: WireMessage;
  content_block?: ResponseBlock;
  delta?: { type?: string; text?: string; thinking?: string; partial_json?: string; stop_reason?: string | null; [k: string]: unknown };
  usage?: WireUsage;
  error?: WireError;
  [extra: string]: unknown;
}

interface BlockState {
  kind: 'text' | 'thinking' | 'tool' | 'answer' | 'other';
  /** Position of the call among this message's tool calls (OpenAI `index`). */
  toolIndex?: number;
  /** Input given whole in content_block_start, emitted at stop if no input_json_delta followed. */
  startInput?: string;
  sawInput?: boolean;
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Stateful translation of one message's events into chunks. */
export class AnthropicEventTranslator {
  usage: Usage | undefined;
  private id = 'msg_unknown';
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private started = false;
  private finished = false;
  private readonly blocks = new Map<number, BlockState>();
  private toolCalls = 0;

  constructor(
    fallbackModel: string,
    /** Name of the forced json_schema tool, whose input is streamed as content. */
    private readonly answerTool: string | undefined,
  ) {
    this.model = fallbackModel;
  }

  handle(ev: AnthropicEvent): ChatChunk[] {
    const out: ChatChunk[] = [];
    switch (ev.type) {
      case 'message_start':
        this.onMessageStart(ev, out);
        break;
      case 'content_block_start':
        this.onBlockStart(ev, out);
        break;
      case 'content_block_delta':
        this.onBlockDelta(ev, out);
        break;
      case 'content_block_stop':
        this.onBlockStop(ev, out);
        break;
      case 'message_delta':
        this.onMessageDelta(ev, out);
        break;
      case 'error':
        throw errorFromWire(ev.error);
      default:
        // ping, message_stop, and event types added later: nothing to emit.
        break;
    }
    return out;
  }

  private chunk(out: ChatChunk[], delta: ChunkDelta, finish: FinishReason | null = null): void {
    if (!this.started) {
      // Events before message_start (non-conforming servers): still open with the role.
      this.started = true;
      out.push(this.make({ role: 'assistant', content: '' }, null));
    }
    out.push(this.make(delta, finish));
  }

  private make(delta: ChunkDelta, finish: FinishReason | null): ChatChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    };
  }

  private onMessageStart(ev: AnthropicEvent, out: ChatChunk[]): void {
    const m = ev.message;
    if (!m || typeof m !== 'object') throw malformedUpstream('message_start without a message');
    if (typeof m.id === 'string') this.id = m.id;
    if (typeof m.model === 'string') this.model = m.model;
    if (m.usage) this.usage = fromAnthropicUsage(m.usage);
    if (!this.started) {
      this.started = true;
      out.push(this.make({ role: 'assistant', content: '' }, null));
    }
  }

  private onBlockStart(ev: AnthropicEvent, out: ChatChunk[]): void {
    const b = ev.content_block;
    const index = ev.index;
    if (typeof index !== 'number' || !b || typeof b !== 'object') throw malformedUpstream('content_block_start without index or content_block');
    if (b.type === 'text') {
      this.blocks.set(index, { kind: 'text' });
      if (b.text) this.chunk(out, { content: b.text });
    } else if (b.type === 'thinking') {
      this.blocks.set(index, { kind: 'thinking' });
      if (b.thinking) this.chunk(out, { reasoning_content: b.thinking });
    } else if (b.type === 'tool_use') {
      const input = b.input && typeof b.input === 'object' && Object.keys(b.input).length ? JSON.stringify(b.input) : undefined;
      if (this.answerTool && b.name === this.answerTool) {
        this.blocks.set(index, { kind: 'answer', startInput: input });
        return;
      }
      const toolIndex = this.toolCalls++;
      this.blocks.set(index, { kind: 'tool', toolIndex, startInput: input });
      this.chunk(out, { tool_calls: [{ index: toolIndex, id: String(b.id ?? ''), type: 'function', function: { name: String(b.name ?? ''), arguments: '' } }] });
    } else if (b.type === 'redacted_thinking' && typeof b.data === 'string' && b.data) {
      // Encrypted reasoning: nothing to show, but the client must be able to send it back.
      this.blocks.set(index, { kind: 'other' });
      this.chunk(out, { thinking_blocks: [{ type: 'redacted_thinking', data: b.data }] });
    } else {
      // server_tool_use, web search results, ...: no OpenAI equivalent.
      this.blocks.set(index, { kind: 'other' });
    }
  }

  private onBlockDelta(ev: AnthropicEvent, out: ChatChunk[]): void {
    const d = ev.delta;
    if (!d || typeof d !== 'object') throw malformedUpstream('content_block_delta without a delta');
    const block = typeof ev.index === 'number' ? this.blocks.get(ev.index) : undefined;
    switch (d.type) {
      case 'text_delta':
        if (d.text) this.chunk(out, { content: d.text });
        return;
      case 'thinking_delta':
        if (d.thinking) this.chunk(out, { reasoning_content: d.thinking });
        return;
      case 'input_json_delta': {
        if (!block || !d.partial_json) return;
        block.sawInput = true;
        if (block.kind === 'answer') this.chunk(out, { content: d.partial_json });
        else if (block.kind === 'tool') this.chunk(out, { tool_calls: [{ index: block.toolIndex!, function: { arguments: d.partial_json } }] });
        return;
      }
      case 'signature_delta':
        // Ends a thinking block: its text went out as reasoning_content, so the block carries only the signature.
        if (typeof d.signature === 'string' && d.signature) this.chunk(out, { thinking_blocks: [{ type: 'thinking', thinking: '', signature: d.signature }] });
        return;
      default:
        // citations_delta carries nothing we forward.
        return;
    }
  }

  private onBlockStop(ev: AnthropicEvent, out: ChatChunk[]): void {
    const block = typeof ev.index === 'number' ? this.blocks.get(ev.index) : undefined;
    if (!block?.startInput || block.sawInput) return;
    if (block.kind === 'answer') this.chunk(out, { content: block.startInput });
    else if (block.kind === 'tool') this.chunk(out, { tool_calls: [{ index: block.toolIndex!, function: { arguments: block.startInput } }] });
  }

  private onMessageDelta(ev: AnthropicEvent, out: ChatChunk[]): void {
    if (ev.usage && typeof ev.usage === 'object') this.mergeUsage(ev.usage);
    const reason = ev.delta?.stop_reason;
    if (!reason || this.finished) return;
    this.finished = true;
    let finish = finishReasonOf(reason);
    // The answer tool's call is the structured answer: a normal stop for the client.
    if (finish === 'tool_calls' && this.toolCalls === 0) finish = 'stop';
    this.chunk(out, {}, finish);
  }

  /** message_delta usage is cumulative: output is the last value; input fields only when repeated non-zero. */
  private mergeUsage(u: WireUsage): void {
    const usage = this.usage ?? emptyUsage();
    if (typeof u.output_tokens === 'number') usage.output = positive(u.output_tokens) ? Math.floor(u.output_tokens) : 0;
    if (positive(u.input_tokens)) usage.input = Math.floor(u.input_tokens);
    if (positive(u.cache_read_input_tokens)) usage.cacheRead = Math.floor(u.cache_read_input_tokens);
    if (positive(u.cache_creation_input_tokens)) usage.cacheWrite = Math.floor(u.cache_creation_input_tokens);
    const thinking = u.output_tokens_details?.thinking_tokens;
    if (positive(thinking)) usage.reasoning = Math.floor(thinking);
    this.usage = usage;
  }
}

/** Parses one SSE event's JSON; the `type` field wins over the SSE event name. */
export function parseEvent(e: SseEvent): AnthropicEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.data);
  } catch {
    throw malformedUpstream(`invalid JSON in stream event${e.event ? ` '${e.event}'` : ''}: ${e.data.slice(0, 200)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw malformedUpstream('stream event is not an object');
  const ev = parsed as AnthropicEvent;
  if (typeof ev.type !== 'string') {
    if (!e.event) throw malformedUpstream('stream event has no type');
    ev.type = e.event;
  }
  return ev;
}

export class AnthropicStreamDecoder implements StreamDecoder {
  private readonly sse = new SseParser();
  private readonly translator: AnthropicEventTranslator;

  constructor(target: UpstreamTarget, req: ChatRequest) {
    this.translator = new AnthropicEventTranslator(target.model, structuredOutputTool(req)?.name);
  }

  get usage(): Usage | undefined {
    return this.translator.usage;
  }

  push(bytes: Uint8Array): ChatChunk[] {
    return this.translate(this.sse.push(bytes));
  }

  end(): ChatChunk[] {
    return this.translate(this.sse.end());
  }

  private translate(events: SseEvent[]): ChatChunk[] {
    const out: ChatChunk[] = [];
    for (const e of events) {
      const chunks = this.translator.handle(parseEvent(e));
      for (let i = 0; i < chunks.length; i++) out.push(chunks[i]);
    }
    return out;
  }
}
