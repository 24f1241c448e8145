/**
 * Chat completions through the pipeline: plan route -> attempt (with failover) -> respond or stream ->
 * settle (exact cost) -> record. Streams are committed only once the first chunk arrived, so failures up
 * to that point become proper HTTP errors (and may fail over); later ones become an in-stream error event.
 */
import type { ChatChunk, ChatCompletion, ChatRequest, Usage } from '../providers/types.ts';
import type { CancelSignal } from '../providers/cancel.ts';
import type { ChatStream } from '../providers/client.ts';
import { AppError } from '../errors.ts';
import { upstreamTimeout } from '../providers/errors.ts';
import { costPico } from '../domain/pricing.ts';
import type { Config } from '../config/schema.ts';
import type { Router, Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import { attemptInOrder, AttemptsExhausted, callOptions, deploymentId, type Resilience } from './attempt.ts';
import { estimateChatUsage, toOpenAIUsage } from './usage.ts';
import { Deadline } from './deadline.ts';
import type { Admission } from './admit.ts';
import type { Billing } from './billing.ts';
import type { Lease, Leases } from './lease.ts';
import { promptTokenBound } from '../providers/tokens.ts';
import { ROUTING_FIELDS } from '../providers/chat-schema.ts';
import type { RoutedRequest, Routers } from './routers/index.ts';

/** An error event inside an SSE stream, in OpenAI's error shape. */
export interface StreamErrorItem {
  error: { message: string; type: string; code: string | null; param: string | null };
}
export type StreamItem = ChatChunk | StreamErrorItem;

export interface ChatStreamSession {
  candidate: Candidate;
  items: AsyncGenerator<StreamItem, void, undefined>;
}

export type ChatOutcome = ({ kind: 'json'; candidate: Candidate; body: ChatCompletion } | ({ kind: 'stream' } & ChatStreamSession)) & {
  /** Rate-limit headers for the response. */
  headers: Record<string, string>;
};

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

/** The request as upstreams see it: without the gateway's own routing fields. */
function upstreamRequest(req: ChatRequest): ChatRequest {
  if (req.models === undefined && req.provider === undefined && req.route === undefined) return req;
  const copy: Record<string, unknown> = { ...req };
  for (const f of ROUTING_FIELDS) delete copy[f];
  return copy as ChatRequest;
}

const totalTokens = (u: Usage) => u.input + u.cacheRead + u.cacheWrite + u.output;

const hasContent = (chunk: ChatChunk) => chunk.choices.some((c) => c.delta.content || c.delta.tool_calls || c.delta.reasoning_content);

export class ChatPipeline {
  constructor(
    private readonly config: Config,
    private readonly router: Router,
    private readonly recorder: Recorder,
    private readonly admission: Admission,
    private readonly billing: Billing,
    private readonly leases: Leases,
    private readonly resilience: Resilience,
    /** `router:code` / `router:auto` model ids (optional: pipelines built without routers serve plain ids only). */
    private readonly routers?: Routers,
  ) {}

  async complete(ctx: RequestContext, request: ChatRequest): Promise<ChatOutcome> {
    const stream = request.stream === true;
    const prefs = { models: request.models, provider: request.provider };
    const req = upstreamRequest(request);
    let candidates: Candidate[];
    let lease: Lease;
    let routed: RoutedRequest | undefined;
    try {
      // A router id is decided first (in memory), then the chosen model is planned like any other.
      routed = this.routers?.route(request, prefs);
      const plan = this.router.plan(routed?.model ?? req.model, 'chat', routed?.prefs ?? prefs);
      const admitted = this.admission.admit(ctx, plan);
      candidates = admitted instanceof Promise ? await admitted : admitted;
      // Limits, capacity and credit are all taken before any upstream call: a refusal costs the upstream nothing.
      // Bytes / 4: a quick, typical token estimate; the real count corrects it after the answer.
      const estimate = Math.ceil(promptTokenBound(req) / 4) + (req.max_completion_tokens ?? req.max_tokens ?? 0);
      lease = await this.leases.take(ctx, estimate, () => this.billing.holdChat(ctx, req, candidates));
    } catch (err) {
      this.recorder.record({ ctx, endpoint: 'chat', requestedModel: req.model, candidate: undefined, stream, status: statusOf(err), error: err, usage: undefined, costPico: 0n, attempts: 0 });
      throw err;
    }
    const deadline = new Deadline(ctx.signal, candidates[0]?.timeouts?.totalMs ?? this.config.upstream.totalTimeoutMs);
    const signal = deadline.signal;
    const attemptOpts = { maxAttempts: this.config.upstream.maxAttempts, deadlineAt: deadline.at, signal, resilience: this.resilience };
    try {
      if (!stream) {
        const out = await attemptInOrder(candidates, attemptOpts, (c) => c.entry.client.chat(c.target, req, callOptions(this.config, c, signal)));
        deadline.dispose();
        return { kind: 'json', candidate: out.candidate, headers: routed ? { ...lease.headers, ...routed.headers } : lease.headers, body: this.settleCompletion(ctx, req, out.value.completion, out.value.usage, out.candidate, out.attempts, lease) };
      }
      const out = await attemptInOrder(candidates, attemptOpts, async (c) => {
        const s = await c.entry.client.chatStream(c.target, req, callOptions(this.config, c, signal));
        const iterator = s[Symbol.asyncIterator]();
        const first = await iterator.next();
        return { stream: s, iterator, first };
      });
      return { kind: 'stream', candidate: out.candidate, headers: routed ? { ...lease.headers, ...routed.headers } : lease.headers, items: this.streamItems(ctx, req, out.candidate, out.attempts, out.value, signal, deadline, lease) };
    } catch (err) {
      lease.settle(0n, undefined, undefined);
      const last = err instanceof AttemptsExhausted ? err.last : err;
      deadline.dispose();
      const mapped = ctx.signal.aborted ? last : deadline.expired ? upstreamTimeout('(total deadline exceeded)') : last;
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
      throw lease.decorate(mapped);
    }
  }

  private settleCompletion(ctx: RequestContext, req: ChatRequest, completion: ChatCompletion, reported: Usage | undefined, c: Candidate, attempts: number, lease: Lease): ChatCompletion {
    const text = completionText(completion);
    const usage = reported ?? (text ? estimateChatUsage(req, text) : undefined);
    // An answer with nothing in it is not charged, whatever the upstream counted.
    const cost = usage && text ? costPico(usage, c.pricing) : 0n;
    lease.settle(cost, c, usage ? totalTokens(usage) : undefined);
    if (usage) this.resilience.stats.throughput(deploymentId(c), usage.output, performance.now() - ctx.startedAt);
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
    signal: CancelSignal,
    deadline: Deadline,
    lease: Lease,
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
        cost = usage && text ? costPico(usage, c.pricing) : 0n;
      }
      lease.settle(cost, c, usage ? totalTokens(usage) : undefined);
      const deployment = deploymentId(c);
      if (failure === undefined) this.resilience.stats.stream(deployment, ttftMs, usage?.output ?? 0, performance.now() - ctx.startedAt);
      else if (!aborted) this.resilience.breakers.failure(deployment, 'yes');
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
      failure = ctx.signal.aborted ? err : deadline.expired ? upstreamTimeout('(total deadline exceeded)') : err;
      settle();
      if (!ctx.signal.aborted) {
        if (held) yield held;
        yield errorItem(failure);
      }
    } finally {
      settle();
      // Leaving early (client gone) must release the upstream connection.
      if (!signal.aborted) void opened.iterator.return?.();
      deadline.dispose();
    }
  }
}
