/**
 * Chat completions through the pipeline: plan route -> attempt (with failover) -> respond or stream ->
 * settle (exact cost) -> record. Streams are committed only once the first chunk arrived, so failures up
 * to that point become proper HTTP errors (and may fail over); later ones become an in-stream error event.
 */
import type { ChatCompletion, ChatRequest, Usage } from '../providers/types.ts';
import { httpStatusOf } from '../errors.ts';
import { upstreamTimeout } from '../providers/errors.ts';
import { costPico } from '../domain/pricing.ts';
import type { Config } from '../config/schema.ts';
import type { Router, Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import { attemptInOrder, AttemptsExhausted, callOptions, deploymentId, type Resilience } from './attempt.ts';
import { estimateChatUsage, toOpenAIUsage, totalTokens } from './usage.ts';
import { StreamRelay, type StreamItems } from './stream-relay.ts';
import { Deadline } from './deadline.ts';
import type { Admission } from './admit.ts';
import type { Billing } from './billing.ts';
import type { Lease, Leases } from './lease.ts';
import { promptTokenBound } from '../providers/tokens.ts';
import { ROUTING_FIELDS } from '../providers/chat-schema.ts';
import type { RoutedRequest, Routers } from './routers/index.ts';

export type { StreamItem, StreamItems } from './stream-relay.ts';

export interface ChatStreamSession {
  candidate: Candidate;
  items: StreamItems;
}

export type ChatOutcome = ({ kind: 'json'; candidate: Candidate; body: ChatCompletion } | ({ kind: 'stream' } & ChatStreamSession)) & {
  /** Rate-limit headers for the response. */
  headers: Record<string, string>;
};

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
      this.recorder.record({ ctx, endpoint: 'chat', requestedModel: req.model, candidate: undefined, stream, status: httpStatusOf(err), error: err, usage: undefined, costPico: 0n, attempts: 0 });
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
        const upstream = await c.entry.client.chatStream(c.target, req, callOptions(this.config, c, signal));
        try {
          return { upstream, first: await upstream.read() };
        } catch (err) {
          upstream.close();
          throw err;
        }
      });
      const items = new StreamRelay({ ctx, req, candidate: out.candidate, attempts: out.attempts, ...out.value, signal, deadline, lease, recorder: this.recorder, resilience: this.resilience });
      return { kind: 'stream', candidate: out.candidate, headers: routed ? { ...lease.headers, ...routed.headers } : lease.headers, items };
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
        status: ctx.signal.aborted ? 499 : httpStatusOf(mapped),
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
}
