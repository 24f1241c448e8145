/**
 * ConverseStream decoding: `application/vnd.amazon.eventstream` bytes -> OpenAI chunks.
 *
 * Each binary message starts with a prelude (total length, headers length: uint32 big-endian, then a CRC);
 * bytes are buffered until one whole message is there, then EventStreamCodec checks both CRCs and splits
 * headers from the JSON payload. `:message-type` says event or exception; `:event-type` names the event.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ChatChunk, ChatRequest, ChunkDelta, FinishReason, StreamDecoder, UpstreamTarget, Usage } from '../types.ts';
import { malformedUpstream, UpstreamError } from '../errors.ts';
import { completionId, finalFinish, fromConverseUsage } from './response.ts';
import { schemaToolOf } from './request.ts';
import { fromStreamException } from './errors.ts';

type Json = Record<string, any>;
type Headers = Record<string, { type: string; value: unknown }>;

const PRELUDE_BYTES = 12;
const MIN_MESSAGE_BYTES = 16; // prelude + message CRC
/** AWS caps event-stream messages at 16 MiB; anything far larger is a broken length, not a big event. */
const MAX_MESSAGE_BYTES = 24 * 1024 * 1024;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** A decoded event-stream message: string headers and the raw payload. */
export interface EventMessage {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Re-frames a byte stream into whole event-stream messages. */
export class EventStreamFramer {
  private buf: Uint8Array = new Uint8Array(0);

  push(bytes: Uint8Array): EventMessage[] {
    this.buf = this.buf.length ? concat(this.buf, bytes) : bytes;
    const out: EventMessage[] = [];
    while (this.buf.length >= PRELUDE_BYTES) {
      const total = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength).getUint32(0, false);
      if (total < MIN_MESSAGE_BYTES || total > MAX_MESSAGE_BYTES) throw malformedUpstream(`event-stream message length ${total} is out of range`);
      if (this.buf.length < total) break;
      out.push(decodeMessage(this.buf.subarray(0, total)));
      this.buf = this.buf.subarray(total);
    }
    return out;
  }

  /** Bytes of an incomplete trailing message (a cut stream). */
  get pending(): number {
    return this.buf.length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function decodeMessage(bytes: Uint8Array): EventMessage {
  let decoded: { headers: Headers; body: Uint8Array };
  try {
    decoded = codec.decode(bytes) as unknown as { headers: Headers; body: Uint8Array };
  } catch (err) {
    // CRC mismatches and broken header encodings land here.
    throw malformedUpstream(`event-stream message rejected: ${(err as Error).message}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, h] of Object.entries(decoded.headers)) headers[k] = String(h.value);
  return { headers, body: decoded.body };
}

function parseJson(body: Uint8Array, what: string): Json {
  const text = toUtf8(body);
  try {
    const v = text ? JSON.parse(text) : {};
    if (v && typeof v === 'object') return v as Json;
  } catch {
    /* fall through */
  }
  throw malformedUpstream(`invalid JSON in ${what} event: ${text.slice(0, 200)}`);
}

/** What a content block index stands for in the OpenAI stream. */
type BlockRole = { kind: 'tool'; index: number } | { kind: 'schema' };

export class BedrockStreamDecoder implements StreamDecoder {
  private readonly framer = new EventStreamFramer();
  private readonly id = completionId();
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly schemaToolName: string | undefined;
  private readonly blocks = new Map<number, BlockRole>();
  private started = false;
  private toolCalls = 0;
  usage: Usage | undefined;

  constructor(
    private readonly target: UpstreamTarget,
    req: ChatRequest,
  ) {
    this.schemaToolName = schemaToolOf(req)?.name;
  }

  push(bytes: Uint8Array): ChatChunk[] {
    const out: ChatChunk[] = [];
    for (const msg of this.framer.push(bytes)) this.handle(msg, out);
    return out;
  }

  /** A trailing partial message means the stream was cut: keep what was decoded, the gateway handles the rest. */
  end(): ChatChunk[] {
    return [];
  }

  private chunk(delta: ChunkDelta, finish: FinishReason | null = null): ChatChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.target.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
  }

  /** The first chunk carries the role, whichever event comes first. */
  private emit(out: ChatChunk[], delta: ChunkDelta, finish: FinishReason | null = null): void {
    if (!this.started) {
      this.started = true;
      out.push(this.chunk({ role: 'assistant', content: '', ...delta }, finish));
      return;
    }
    out.push(this.chunk(delta, finish));
  }

  private handle(msg: EventMessage, out: ChatChunk[]): void {
    const type = msg.headers[':message-type'];
    if (type === 'exception') throw fromStreamException(msg.headers[':exception-type'], toUtf8(msg.body));
    if (type === 'error') {
      const code = msg.headers[':error-code'];
      throw new UpstreamError(502, 'api_error', `Bedrock stream error ${code ?? ''}: ${msg.headers[':error-message'] ?? ''}`.trim(), code ?? 'upstream_stream_error', true);
    }
    if (type !== 'event') return; // unknown message types are skipped, as the SDKs do
    const event = msg.headers[':event-type'];
    switch (event) {
      case 'messageStart':
        if (!this.started) this.emit(out, {});
        return;
      case 'contentBlockStart':
        return this.blockStart(parseJson(msg.body, event), out);
      case 'contentBlockDelta':
        return this.blockDelta(parseJson(msg.body, event), out);
      case 'messageStop': {
        const stop = parseJson(msg.body, event).stopReason;
        this.emit(out, {}, finalFinish(stop, this.toolCalls));
        return;
      }
      case 'metadata': {
        const usage = fromConverseUsage(parseJson(msg.body, event).usage);
        if (usage) this.usage = usage;
        return;
      }
      default:
        return; // contentBlockStop and newer events carry nothing we translate
    }
  }

  private blockStart(e: Json, out: ChatChunk[]): void {
    const tu = e.start?.toolUse;
    if (!tu) return;
    const block = Number(e.contentBlockIndex ?? 0);
    if (this.schemaToolName && tu.name === this.schemaToolName) {
      this.blocks.set(block, { kind: 'schema' });
      if (!this.started) this.emit(out, {});
      return;
    }
    const index = this.toolCalls++;
    this.blocks.set(block, { kind: 'tool', index });
    this.emit(out, { tool_calls: [{ index, id: String(tu.toolUseId ?? ''), type: 'function', function: { name: String(tu.name ?? ''), arguments: '' } }] });
  }

  private blockDelta(e: Json, out: ChatChunk[]): void {
    const d = e.delta;
    if (!d || typeof d !== 'object') throw malformedUpstream('contentBlockDelta without a delta');
    if (typeof d.text === 'string') {
      if (d.text) this.emit(out, { content: d.text });
      return;
    }
    if (d.toolUse) {
      const role = this.blocks.get(Number(e.contentBlockIndex ?? 0));
      if (!role) throw malformedUpstream(`toolUse delta for block ${e.contentBlockIndex} that never started`);
      const piece = typeof d.toolUse.input === 'string' ? d.toolUse.input : '';
      if (!piece) return;
      if (role.kind === 'schema') this.emit(out, { content: piece });
      else this.emit(out, { tool_calls: [{ index: role.index, function: { arguments: piece } }] });
      return;
    }
    const reasoning = d.reasoningContent?.text;
    if (typeof reasoning === 'string' && reasoning) this.emit(out, { reasoning_content: reasoning });
    // reasoning signatures and redacted reasoning have no OpenAI equivalent
  }
}
