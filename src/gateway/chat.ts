/**
 * Chat completions through the pipeline: plan route -> attempt (with failover) -> respond or stream ->
 * settle (exact cost) -> record. Streams are committed only once the first chunk arrived, so failures up
 * to that point become proper HTTP errors (and may fail over); later ones become an in-stream error event.
 */
import type { ChatChunk, ChatCompletion, ChatRequest, Usage } from '../providers/types.ts';
import type { ChatStream } from '../providers/client.ts';
import { AppError } from '../errors.ts';
import { upstreamTimeout } from '../providers/errors.ts';
import { costPico } from '../domain/pricing.ts';
import type { Config } from '../config/schema.ts';
import type { Router, Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import { attemptInOrder, AttemptsExhausted, callOptions } from './attempt.ts';
import { estimateChatUsage, toOpenAIUsage } from './usage.ts';

/** An error event inside an SSE stream, in OpenAI's error shape. */
export interface StreamErrorItem {
  error: { message: string; type: string; code: string | null; param: string | null };
}
export type StreamItem = ChatChunk | StreamErrorItem;

export interface ChatStreamSession {
  candidate: Candidate;
  items: AsyncGenerator<StreamItem, void, undefined>;
}

export type ChatOutcome = { kind: 'json'; candidate: Candidate; body: ChatCompletion } | ({ kind: 'stream' } & ChatStreamSession);

function errorItem(err: unknown): StreamErrorItem {
  if (err instanceof AppError) return { error: { message: err.message, type: err.type, code: err.code, param: err.param } };
  return { error: { message: 'The upstream stream failed.', type: 'api_error', code: 'stream_error', param: null } };
}

function statusOf(err: unknown): number {
  return err instanceof AppError ? err.status : 500;
}

/** Text generated so far, for estimating output tokens when the upstream reports no usage. */
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

function completionText(c: ChatCompletion): string {
  let s = '';
  for (const ch of c.choices) {
    if (typeof ch.message?.content === 'string') s += ch.message.content;
    if (typeof ch.message?.reasoning_content === 'string') s += ch.message.reasoning_content;
    for (const t of ch.message?.tool_calls ?? []) s += t.function.name + t.function.arguments;
  }
  return s;
}

const hasContent = (chunk: ChatChunk) => chunk.choices.some((c) => c.delta.content || c.delta.tool_calls || c.delta.reasoning_content);

export class ChatPipeline {
  constructor(
    private readonly config: Config,
    private readonly router: Router,
    private readonly recorder: Recorder,
  ) {}

  async complete(ctx: RequestContext, req: ChatRequest): Promise<ChatOutcome> {
    const stream = req.stream === true;
    let plan;
    try {
      plan = this.router.plan(req.model, 'chat');
    } catch (err) {
      this.recorder.record({ ctx, endpoint: 'chat', requestedModel: req.model, candidate: undefined, stream, status: statusOf(err), error: err, usage: undefined, costPico: 0n, attempts: 0 });
      throw err;
    }
    const deadline = AbortSignal.timeout(this.config.upstream.totalTimeoutMs);
    const signal = AbortSignal.any([ctx.signal, deadline]);
    const maxAttempts = this.config.upstream.maxAttempts;
    try {
      if (!stream) {
        const out = await attemptInOrder(plan.candidates, maxAttempts, signal, (c) => c.entry.client.chat(c.target, req, callOptions(this.config, c, signal)));
        return { kind: 'json', candidate: out.candidate, body: this.settleCompletion(ctx, req, out.value.completion, out.value.usage, out.candidate, out.attempts) };
      }
      const out = await attemptInOrder(plan.candidates, maxAttempts, signal, async (c) => {
        const s = await c.entry.client.chatStream(c.target, req, callOptions(this.config, c, signal));
        const iterator = s[Symbol.asyncIterator]();
        const first = await iterator.next();
        return { stream: s, iterator, first };
      });
      return { kind: 'stream', candidate: out.candidate, items: this.streamItems(ctx, req, out.candidate, out.attempts, out.value, signal, deadline) };
    } catch (err) {
      const last = err instanceof AttemptsExhausted ? err.last : err;
      const mapped = ctx.signal.aborted ? last : deadline.aborted ? upstreamTimeout('(total deadline exceeded)') : last;
      this.recorder.record({
        ctx,
        endpoint: 'chat',
        requestedModel: req.model,
        candidate: err instanceof AttemptsExhausted ? err.candidate : undefined,
        stream,
        status: ctx.signal.aborted ? 499 : statusOf(mapped),
        error: mapped,
        usage: undefined,
        costPico: 0n,
        attempts: err instanceof AttemptsExhausted ? err.attempts : 0,
        clientAborted: ctx.signal.aborted,
      });
      throw mapped;
    }
  }

  private settleCompletion(ctx: RequestContext, req: ChatRequest, completion: ChatCompletion, reported: Usage | undefined, c: Candidate, attempts: number): ChatCompletion {
    const text = reported ? '' : completionText(completion);
    const usage = reported ?? (text ? estimateChatUsage(req, text) : undefined);
    const cost = usage ? costPico(usage, c.pricing) : 0n;
    completion.model = c.modelId;
    completion.provider = c.entry.provider.id;
    completion.usage = toOpenAIUsage(usage ?? { input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 }, cost);
    this.recorder.record({
      ctx,
      endpoint: 'chat',
      requestedModel: req.model,
      candidate: c,
      stream: false,
      status: 200,
      usage,
      costPico: cost,
      finishReason: completion.choices[0]?.finish_reason ?? null,
      attempts,
    });
    return completion;
  }

  private async *streamItems(
    ctx: RequestContext,
    req: ChatRequest,
    c: Candidate,
    attempts: number,
    opened: { stream: ChatStream; iterator: AsyncIterator<ChatChunk>; first: IteratorResult<ChatChunk> },
    signal: AbortSignal,
    deadline: AbortSignal,
  ): AsyncGenerator<StreamItem, void, undefined> {
    const includeUsage = req.stream_options?.include_usage === true;
    const generated: string[] = [];
    let ttftMs: number | undefined;
    let finishReason: string | null = null;
    let failure: unknown;
    let last: ChatChunk | undefined;
    let id = '';
    let created = 0;
    let settled = false;
    let usage: Usage | undefined;
    let cost = 0n;
    // A chunk carrying finish_reason is held back so that, without include_usage, usage rides on it.
    let held: ChatChunk | undefined;

    const settle = () => {
      if (settled) return;
      settled = true;
      const aborted = ctx.signal.aborted;
      const text = generated.join('');
      // Failures are free; a client that hung up pays for what was generated.
      // Reported usage is charged as reported; without it, only generated text is (an empty answer is free).
      if (failure === undefined || aborted) {
        usage = opened.stream.usage ?? (text ? estimateChatUsage(req, text) : undefined);
        cost = usage ? costPico(usage, c.pricing) : 0n;
      }
      this.recorder.record({
        ctx,
        endpoint: 'chat',
        requestedModel: req.model,
        candidate: c,
        stream: true,
        status: aborted ? 499 : failure !== undefined ? statusOf(failure) : 200,
        error: aborted ? undefined : failure,
        usage,
        costPico: cost,
        finishReason,
        attempts,
        ttftMs,
        clientAborted: aborted,
      });
    };

    const prepare = (chunk: ChatChunk): ChatChunk => {
      chunk.model = c.modelId;
      chunk.provider = c.entry.provider.id;
      if (ttftMs === undefined && hasContent(chunk)) ttftMs = performance.now() - ctx.startedAt;
      const text = chunkText(chunk);
      if (text) generated.push(text);
      for (const choice of chunk.choices) if (choice.finish_reason) finishReason = choice.finish_reason;
      id = chunk.id;
      created = chunk.created;
      last = chunk;
      return chunk;
    };

    try {
      let next = opened.first;
      while (!next.done) {
        const chunk = prepare(next.value);
        if (chunk.choices.some((ch) => ch.finish_reason)) {
          if (held) yield held;
          held = chunk;
        } else {
          if (held) {
            yield held;
            held = undefined;
          }
          yield chunk;
        }
        next = await opened.iterator.next();
      }
      settle();
      const usageView = usage ? toOpenAIUsage(usage, cost) : undefined;
      if (held) {
        if (!includeUsage && usageView) held.usage = usageView;
        yield held;
        held = undefined;
      }
      if (includeUsage && usageView) {
        yield { id, object: 'chat.completion.chunk', created, model: c.modelId, provider: c.entry.provider.id, choices: [], usage: usageView };
      } else if (!last && usageView) {
        // An upstream that sent no chunk at all still gets a terminal chunk with usage.
        yield { id: `chatcmpl-${ctx.requestId}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: c.modelId, provider: c.entry.provider.id, choices: [], usage: usageView };
      }
    } catch (err) {
      failure = ctx.signal.aborted ? err : deadline.aborted && !ctx.signal.aborted ? upstreamTimeout('(total deadline exceeded)') : err;
      settle();
      if (!ctx.signal.aborted) {
        if (held) yield held;
        yield errorItem(failure);
      }
    } finally {
      settle();
      // Leaving early (client gone) must release the upstream connection.
      if (!signal.aborted) void opened.iterator.return?.();
    }
  }
}
