/** Embeddings through the pipeline: plan -> attempt with failover -> settle -> record. */
import type { EmbeddingsRequest, OpenAIUsage, Usage } from '../providers/types.ts';
import { estimateInputTokens } from '../providers/tokens.ts';
import { AppError } from '../errors.ts';
import { costPico, picoToUsd } from '../domain/pricing.ts';
import type { Config } from '../config/schema.ts';
import type { Router, Candidate } from './router.ts';
import type { Recorder } from './record.ts';
import type { RequestContext } from './context.ts';
import { attemptInOrder, AttemptsExhausted, callOptions } from './attempt.ts';

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
  ) {}

  async embed(ctx: RequestContext, req: EmbeddingsRequest): Promise<{ candidate: Candidate; body: EmbeddingsResponse }> {
    let candidate: Candidate | undefined;
    let attempts = 0;
    try {
      const plan = this.router.plan(req.model, 'embedding');
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.config.upstream.totalTimeoutMs)]);
      const out = await attemptInOrder(plan.candidates, this.config.upstream.maxAttempts, signal, (c) =>
        c.entry.client.embeddings(c.target, req, callOptions(this.config, c, signal)),
      );
      candidate = out.candidate;
      attempts = out.attempts;
      const usage: Usage = out.value.usage ?? { input: estimateInputTokens(req.input), cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0, estimated: true };
      const cost = costPico(usage, candidate.pricing);
      const tokens = usage.input + usage.cacheRead + usage.cacheWrite;
      this.recorder.record({ ctx, endpoint: 'embeddings', requestedModel: req.model, candidate, stream: false, status: 200, usage, costPico: cost, attempts });
      return {
        candidate,
        body: {
          object: 'list',
          data: out.value.data,
          model: candidate.modelId,
          provider: candidate.entry.provider.id,
          usage: { prompt_tokens: tokens, total_tokens: tokens, cost: picoToUsd(cost), ...(usage.estimated ? { estimated: true } : {}) },
        },
      };
    } catch (err) {
      const last = err instanceof AttemptsExhausted ? err.last : err;
      this.recorder.record({
        ctx,
        endpoint: 'embeddings',
        requestedModel: req.model,
        candidate: err instanceof AttemptsExhausted ? err.candidate : candidate,
        stream: false,
        status: ctx.signal.aborted ? 499 : last instanceof AppError ? last.status : 500,
        error: last,
        usage: undefined,
        costPico: 0n,
        attempts: err instanceof AttemptsExhausted ? err.attempts : attempts,
        clientAborted: ctx.signal.aborted,
      });
      throw last;
    }
  }
}
