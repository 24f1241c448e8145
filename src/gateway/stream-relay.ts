/**
 * The gateway's side of a streaming chat completion, once the upstream's first chunk has arrived: it renames
 * the model, notes time to first token and the generated text, holds the chunk carrying finish_reason so
 * usage can ride on it, adds the usage chunk with cost, turns a late failure into an error item, and settles
 * (charge, limits, stats, request log) exactly once. Batched like ChatStream: one `read()` per upstream read.
 */
import type { ChatChunk, ChatRequest, Usage } from '../providers/types.ts';
import type { ChatStream } from '../providers/chat-stream.ts';
import type { CancelSignal } from '../providers/cancel.ts';
import { AppError, httpStatusOf } from '../errors.ts';
import { upstreamTimeout } from '../providers/errors.ts';
import { costPico } from '../domain/pricing.ts';
import type { Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import type { Deadline } from './deadline.ts';
import type { Lease } from './lease.ts';
import { deploymentId, type Resilience } from './attempt.ts';
import { estimateChatUsage, toOpenAIUsage, totalTokens } from './usage.ts';

/** An error event inside an SSE stream, in OpenAI's error shape. */
export interface StreamErrorItem {
  error: { message: string; type: string; code: string | null; param: string | null };
}
export type StreamItem = ChatChunk | StreamErrorItem;

export const isErrorItem = (item: StreamItem): item is StreamErrorItem => 'error' in item && !('choices' in item);

/** What an inbound API's writer reads. `close()` must be called once the writer is done, however it ended. */
export interface StreamItems {
  /** The next items to send (never empty); undefined once the stream is over. Never rejects. */
  read(): Promise<StreamItem[] | undefined>;
  /** Settles (if the stream did not end on its own) and releases the upstream. Idempotent. */
  close(): void;
}

export interface RelayParts {
  ctx: RequestContext;
  req: ChatRequest;
  candidate: Candidate;
  attempts: number;
  upstream: ChatStream;
  /** The batch read while the attempt was open (undefined: the upstream ended without a chunk). */
  first: ChatChunk[] | undefined;
  /** The request's deadline signal (aborts on client exit or total timeout). */
  signal: CancelSignal;
  deadline: Deadline;
  lease: Lease;
  recorder: Recorder;
  resilience: Resilience;
}

function errorItem(err: unknown): StreamErrorItem {
  if (err instanceof AppError) return { error: { message: err.message, type: err.type, code: err.code, param: err.param } };
  return { error: { message: 'The upstream stream failed.', type: 'api_error', code: 'stream_error', param: null } };
}

/** Text generated in a chunk, for estimating output tokens when the upstream reports no usage. */
function chunkText(chunk: ChatChunk): string {
  let s = '';
  for (const c of chunk.choices) {
    const d = c.delta;
    if (typeof d.content === 'string') s += d.content;
    if (typeof d.reasoning_content === 'string') s += d.reasoning_content;
    if (d.tool_calls) for (const t of d.tool_calls) s += (t.function?.name ?? '') + (t.function?.arguments ?? '');
  }
  return s;
}

export class StreamRelay implements StreamItems {
  private pending: ChatChunk[] | undefined;
  private readonly includeUsage: boolean;
  private readonly generated: string[] = [];
  private ttftMs: number | undefined;
  private finishReason: string | null = null;
  private last: ChatChunk | undefined;
  /** The chunk carrying finish_reason, held back so that, without include_usage, usage rides on it. */
  private held: ChatChunk | undefined;
  private settled = false;
  private closed = false;

  constructor(private readonly p: RelayParts) {
    this.pending = p.first;
    this.includeUsage = p.req.stream_options?.include_usage === true;
  }

  async read(): Promise<StreamItem[] | undefined> {
    if (this.settled) return undefined;
    try {
      for (;;) {
        // An upstream that ended before its first chunk keeps answering undefined (ChatStream's contract).
        const batch = this.pending ?? (await this.p.upstream.read());
        this.pending = undefined;
        if (!batch) return this.finish();
        const out = this.relay(batch);
        if (out.length) return out;
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.settle(undefined);
    // Leaving early (client gone) must release the upstream connection.
    if (!this.p.signal.aborted) this.p.upstream.close();
    this.p.deadline.dispose();
  }

  /** Renames and inspects a batch; returns what can be sent now (a finish chunk waits for the next batch). */
  private relay(batch: ChatChunk[]): StreamItem[] {
    const { candidate: c, ctx } = this.p;
    const out: StreamItem[] = [];
    for (let i = 0; i < batch.length; i++) {
      const chunk = batch[i];
      chunk.model = c.modelId;
      chunk.provider = c.entry.provider.id;
      const text = chunkText(chunk);
      let finishes = false;
      for (const choice of chunk.choices) {
        if (choice.finish_reason) {
          this.finishReason = choice.finish_reason;
          finishes = true;
        }
      }
      if (text) {
        this.generated.push(text);
        // Time to first token: the first chunk with content (text, reasoning or a tool call).
        this.ttftMs ??= performance.now() - ctx.startedAt;
      } else if (this.ttftMs === undefined && chunk.choices.some((ch) => ch.delta.tool_calls)) {
        this.ttftMs = performance.now() - ctx.startedAt;
      }
      this.last = chunk;
      if (this.held) out.push(this.held);
      this.held = undefined;
      if (finishes) this.held = chunk;
      else out.push(chunk);
    }
    return out;
  }

  /** The upstream ended: settle, then the held chunk and the usage chunk. */
  private finish(): StreamItem[] | undefined {
    const { usage, cost } = this.settle(undefined);
    const { candidate: c, ctx } = this.p;
    const out: StreamItem[] = [];
    const usageView = usage ? toOpenAIUsage(usage, cost) : undefined;
    if (this.held) {
      if (!this.includeUsage && usageView) this.held.usage = usageView;
      out.push(this.held);
      this.held = undefined;
    }
    const last = this.last;
    // The usage chunk of include_usage; an upstream that sent no chunk at all gets one either way.
    if (usageView && (this.includeUsage || !last)) {
      out.push({ id: last?.id ?? `chatcmpl-${ctx.requestId}`, object: 'chat.completion.chunk', created: last?.created ?? Math.floor(Date.now() / 1000), model: c.modelId, provider: c.entry.provider.id, choices: [], usage: usageView });
    }
    return out.length ? out : undefined;
  }

  /** A failure after the stream was committed: settle, then the held chunk and an error item (none for a client that left). */
  private fail(err: unknown): StreamItem[] | undefined {
    const { ctx, deadline } = this.p;
    const failure = ctx.signal.aborted ? err : deadline.expired ? upstreamTimeout('(total deadline exceeded)') : err;
    this.settle(failure);
    if (ctx.signal.aborted) return undefined;
    const out: StreamItem[] = [];
    if (this.held) out.push(this.held);
    this.held = undefined;
    out.push(errorItem(failure));
    return out;
  }

  private settle(failure: unknown): { usage: Usage | undefined; cost: bigint } {
    const none = { usage: undefined, cost: 0n };
    if (this.settled) return none;
    this.settled = true;
    const { ctx, req, candidate: c, lease, resilience, recorder } = this.p;
    const aborted = ctx.signal.aborted;
    const failed = failure !== undefined;
    const text = this.generated.join('');
    let usage: Usage | undefined;
    let cost = 0n;
    // Failures are free; a client that hung up pays for what was generated.
    // Reported usage is charged as reported; without it, only generated text is (an empty answer is free).
    if (!failed || aborted) {
      usage = this.p.upstream.usage ?? (text ? estimateChatUsage(req, text) : undefined);
      cost = usage && text ? costPico(usage, c.pricing) : 0n;
    }
    lease.settle(cost, c, usage ? totalTokens(usage) : undefined);
    const deployment = deploymentId(c);
    if (!failed) resilience.stats.stream(deployment, this.ttftMs, usage?.output ?? 0, performance.now() - ctx.startedAt);
    else if (!aborted) resilience.breakers.failure(deployment, 'yes');
    recorder.record({
      ctx,
      endpoint: 'chat',
      requestedModel: req.model,
      candidate: c,
      stream: true,
      status: aborted ? 499 : failed ? httpStatusOf(failure) : 200,
      error: aborted ? undefined : failure,
      usage,
      costPico: cost,
      finishReason: this.finishReason,
      attempts: this.p.attempts,
      ttftMs: this.ttftMs,
      clientAborted: aborted,
    });
    return { usage, cost };
  }
}
