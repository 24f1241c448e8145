/** Settles one inference request: cost, request log (write-behind) and metrics. Never throws. */
import type { Usage } from '../providers/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RequestLogWriter } from '../telemetry/request-log.ts';
import { AppError } from '../errors.ts';
import type { RequestContext } from './context.ts';
import type { Candidate } from './router.ts';

export interface Outcome {
  ctx: RequestContext;
  endpoint: 'chat' | 'embeddings';
  requestedModel: string;
  candidate: Candidate | undefined;
  stream: boolean;
  status: number;
  error?: unknown;
  usage: Usage | undefined;
  costPico: bigint;
  finishReason?: string | null;
  attempts: number;
  ttftMs?: number;
  clientAborted?: boolean;
}

export class Recorder {
  constructor(
    private readonly metrics: Metrics,
    private readonly requestLog: RequestLogWriter,
  ) {}

  record(o: Outcome): void {
    const latencyMs = Math.round(performance.now() - o.ctx.startedAt);
    const provider = o.candidate?.entry.provider.id ?? 'none';
    const m = this.metrics;
    // Bounded per provider: local providers accept any client-supplied model name (see ModelLabels).
    const model = m.modelLabel(provider, o.candidate?.modelId ?? 'unresolved');
    const err = o.error instanceof AppError ? o.error : undefined;
    const u = o.usage;
    m.inferenceRequests.inc({ provider, model, status: o.clientAborted ? 'aborted' : o.status < 400 ? 'success' : 'error' });
    m.inferenceDuration.observe({ provider, model }, latencyMs / 1000);
    if (o.ttftMs !== undefined) m.timeToFirstToken.observe({ provider, model }, o.ttftMs / 1000);
    if (u) {
      if (u.input) m.tokens.inc({ provider, model, type: 'input' }, u.input);
      if (u.cacheRead) m.tokens.inc({ provider, model, type: 'cache_read' }, u.cacheRead);
      if (u.cacheWrite) m.tokens.inc({ provider, model, type: 'cache_write' }, u.cacheWrite);
      if (u.output) m.tokens.inc({ provider, model, type: 'output' }, u.output);
      if (u.reasoning) m.tokens.inc({ provider, model, type: 'reasoning' }, u.reasoning);
    }
    if (o.costPico > 0n) m.cost.inc({ provider, model }, Number(o.costPico) / 1e12);

    const message = o.error === undefined ? null : o.error instanceof Error ? o.error.message : String(o.error);
    this.requestLog.record({
      request_id: o.ctx.requestId,
      endpoint: o.endpoint,
      requested_model: o.requestedModel.slice(0, 200),
      model: o.candidate?.modelId ?? null,
      provider: o.candidate?.entry.provider.id ?? null,
      upstream_model: o.candidate?.target.model ?? null,
      stream: o.stream,
      status: o.status,
      error_type: err?.type ?? (o.error ? 'api_error' : null),
      error_code: err?.code ?? null,
      error_message: message ? message.slice(0, 1000) : null,
      finish_reason: o.finishReason ?? null,
      input_tokens: u?.input ?? 0,
      cache_read_tokens: u?.cacheRead ?? 0,
      cache_write_tokens: u?.cacheWrite ?? 0,
      output_tokens: u?.output ?? 0,
      reasoning_tokens: u?.reasoning ?? 0,
      usage_estimated: Boolean(u?.estimated),
      cost_pico: o.costPico.toString(),
      latency_ms: latencyMs,
      ttft_ms: o.ttftMs === undefined ? null : Math.round(o.ttftMs),
      attempts: o.attempts,
      api_key_id: o.ctx.principal.kind === 'api_key' ? o.ctx.principal.key.id : null,
      user_id: o.ctx.principal.kind === 'api_key' || o.ctx.principal.kind === 'user' ? o.ctx.principal.user.id : null,
      org_id: o.ctx.principal.kind === 'api_key' ? o.ctx.principal.key.orgId : null,
      client_aborted: Boolean(o.clientAborted),
    });
  }
}
