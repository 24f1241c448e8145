/** Embeddings through the pipeline: plan -> attempt with failover -> settle -> record. */
import type { EmbeddingsRequest, OpenAIUsage, Usage } from '../providers/types.ts';
import { estimateInputTokens, inputTokenBound } from '../providers/tokens.ts';
import { httpStatusOf } from '../errors.ts';
import { costPico, picoToUsd } from '../domain/pricing.ts';
import type { Config } from '../config/schema.ts';
import type { Router, Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import { attemptInOrder, AttemptsExhausted, callOptions, type Resilience } from './attempt.ts';
import type { Admission } from './admit.ts';
import type { Billing } from './billing.ts';
import type { Lease, Leases } from './lease.ts';
import { Deadline } from './deadline.ts';

export interface EmbeddingsResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  provider: string;
  usage: Pick<OpenAIUsage, 'prompt_tokens' | 'total_tokens' | 'cost'> & { estimated?: boolean };
}

export class EmbeddingsPipeline {
  constructor(
    private readonly config: Config,
    private readonly router: Router,
    private readonly recorder: Recorder,
    private readonly admission: Admission,
    private readonly billing: Billing,
    private readonly leases: Leases,
    private readonly resilience: Resilience,
  ) {}

  async embed(ctx: RequestContext, req: EmbeddingsRequest): Promise<{ candidate: Candidate; body: EmbeddingsResponse; headers: Record<string, string> }> {
    let candidate: Candidate | undefined;
    let attempts = 0;
    let lease: Lease | undefined;
    let deadline: Deadline | undefined;
    try {
      const plan = this.router.plan(req.model, 'embedding');
      const admitted = this.admission.admit(ctx, plan);
      const candidates = admitted instanceof Promise ? await admitted : admitted;
      // Bytes / 4 for the rate limits, as for chat; the real count corrects it after the answer.
      const taken = await this.leases.take(ctx, inputTokenBound(req.input, 4), () => this.billing.holdEmbeddings(ctx, req, candidates));
      lease = taken;
      deadline = new Deadline(ctx.signal, candidates[0]?.timeouts?.totalMs ?? this.config.upstream.totalTimeoutMs);
      const signal = deadline.signal;
      const attemptOpts = { maxAttempts: this.config.upstream.maxAttempts, deadlineAt: deadline.at, signal, resilience: this.resilience };
      const out = await attemptInOrder(candidates, attemptOpts, (c) =>
        c.entry.client.embeddings(c.target, req, callOptions(this.config, c, signal)),
      );
      candidate = out.candidate;
      attempts = out.attempts;
      const usage: Usage = out.value.usage ?? { input: estimateInputTokens(req.input), cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0, estimated: true };
      const cost = costPico(usage, candidate.pricing);
      const tokens = usage.input + usage.cacheRead + usage.cacheWrite;
      taken.settle(cost, candidate, tokens);
      this.recorder.record({ ctx, endpoint: 'embeddings', requestedModel: req.model, candidate, stream: false, status: 200, usage, costPico: cost, attempts });
      return {
        candidate,
        headers: taken.headers,
        body: {
          object: 'list',
          data: out.value.data,
          model: candidate.modelId,
          provider: candidate.entry.provider.id,
          usage: { prompt_tokens: tokens, total_tokens: tokens, cost: picoToUsd(cost), ...(usage.estimated ? { estimated: true } : {}) },
        },
      };
    } catch (err) {
      lease?.settle(0n, undefined, undefined);
      const last = err instanceof AttemptsExhausted ? err.last : err;
      this.recorder.record({
        ctx,
        endpoint: 'embeddings',
        requestedModel: req.model,
        candidate: err instanceof AttemptsExhausted ? err.candidate : candidate,
        stream: false,
        status: ctx.signal.aborted ? 499 : httpStatusOf(last),
        error: last,
        usage: undefined,
        costPico: 0n,
        attempts: err instanceof AttemptsExhausted ? err.attempts : attempts,
        clientAborted: ctx.signal.aborted,
      });
      throw lease ? lease.decorate(last) : last;
    } finally {
      deadline?.dispose();
    }
  }
}
