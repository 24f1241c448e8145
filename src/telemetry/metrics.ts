/**
 * Prometheus metrics. One registry per server instance (tests build several); label sets are bounded:
 * no user, key or request labels, and at most `maxModelsPerProvider` model label values per provider (local
 * and custom OpenAI-compatible providers accept any model name a client sends; the rest are labelled "other").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  /** Distinct `model` label values kept per provider; later ones are recorded as OTHER_MODEL. */
  maxModelsPerProvider?: number;
}

export const OTHER_MODEL = 'other';
export const DEFAULT_MAX_MODELS_PER_PROVIDER = 200;

/**
 * First come, first kept: the first `max` model names seen for a provider keep their own label value for the
 * life of the process; any further one maps to OTHER_MODEL. O(1) per call; memory bounded by providers x max.
 */
export class ModelLabels {
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    readonly max: number,
    private readonly onFold?: (provider: string) => void,
  ) {}

  label(provider: string, model: string): string {
    let models = this.seen.get(provider);
    if (!models) this.seen.set(provider, (models = new Set()));
    if (models.has(model)) return model;
    if (models.size < this.max) {
      models.add(model);
      return model;
    }
    this.onFold?.(provider);
    return OTHER_MODEL;
  }
}

export function createMetrics(opts: MetricsOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  const modelLabelsFolded = new Counter({ name: 'model_label_overflow_total', help: `Inference records whose model label was folded into "${OTHER_MODEL}" (the per-provider label limit was reached)`, labelNames: ['provider'] as const, registers: [registry] });
  const modelLabels = new ModelLabels(opts.maxModelsPerProvider ?? DEFAULT_MAX_MODELS_PER_PROVIDER, (provider) => modelLabelsFolded.inc({ provider }));
  return {
    registry,
    /** The `model` label value to use for (provider, model): see ModelLabels. Use it for every model-labelled metric. */
    modelLabel: (provider: string, model: string): string => modelLabels.label(provider, model),
    modelLabelsFolded,
    httpRequests: new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
    httpDuration: new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'] as const, buckets: latencyBuckets, registers: [registry] }),
    inferenceRequests: new Counter({ name: 'model_inference_requests_total', help: 'Inference requests by provider, model and outcome', labelNames: ['provider', 'model', 'status'] as const, registers: [registry] }),
    inferenceDuration: new Histogram({ name: 'model_inference_duration_seconds', help: 'Inference duration, admission to last byte', labelNames: ['provider', 'model'] as const, buckets: latencyBuckets, registers: [registry] }),
    timeToFirstToken: new Histogram({ name: 'time_to_first_token_seconds', help: 'Time to the first streamed token', labelNames: ['provider', 'model'] as const, buckets: latencyBuckets, registers: [registry] }),
    tokens: new Counter({ name: 'tokens_total', help: 'Tokens by kind', labelNames: ['provider', 'model', 'type'] as const, registers: [registry] }),
    cost: new Counter({ name: 'cost_usd_total', help: 'Cost in USD', labelNames: ['provider', 'model'] as const, registers: [registry] }),
    activeStreams: new Gauge({ name: 'active_streams', help: 'Streams in flight', registers: [registry] }),
    requestLogQueueDepth: new Gauge({ name: 'request_log_queue_depth', help: 'Request log records waiting to be written', registers: [registry] }),
    requestLogDropped: new Counter({ name: 'request_log_dropped_total', help: 'Request log records dropped because the queue was full', registers: [registry] }),
    breakerState: new Gauge({ name: 'circuit_breaker_state', help: 'Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open', labelNames: ['deployment'] as const, registers: [registry] }),
    breakerTransitions: new Counter({ name: 'circuit_breaker_transitions_total', help: 'Circuit breaker state changes', labelNames: ['deployment', 'to'] as const, registers: [registry] }),
    routerDecisions: new Counter({ name: 'router_decisions_total', help: 'Requests routed by router:code / router:auto, by router label, task category, chosen tier and fallback kind', labelNames: ['router', 'category', 'tier', 'fallback'] as const, registers: [registry] }),
    rateLimited: new Counter({ name: 'rate_limited_total', help: 'Requests refused by a rate or concurrency limit, by scope', labelNames: ['scope'] as const, registers: [registry] }),
    inferenceInFlight: new Gauge({ name: 'inference_in_flight', help: 'Inference requests holding a concurrency slot', registers: [registry] }),
    inferenceQueued: new Gauge({ name: 'inference_queued', help: 'Inference requests waiting for a concurrency slot', registers: [registry] }),
    requestLogWriteErrors: new Counter({ name: 'request_log_write_errors_total', help: 'Failed request log batch writes', registers: [registry] }),
    requestLogPruned: new Counter({ name: 'request_log_pruned_total', help: 'Rows deleted by retention pruning', labelNames: ['table'] as const, registers: [registry] }),
    incidentsOngoing: new Gauge({ name: 'incidents_ongoing', help: 'Deployments with an ongoing incident', registers: [registry] }),
    incidentsOpened: new Counter({ name: 'incidents_opened_total', help: 'Incidents opened (a deployment down for a sustained period)', labelNames: ['provider'] as const, registers: [registry] }),
    memoryTrims: new Counter({ name: 'memory_trims_total', help: 'Runs of glibc malloc_trim returning free malloc arena pages to the kernel (MEMORY_TRIM_INTERVAL_S), by whether any were released', labelNames: ['released'] as const, registers: [registry] }),
    analyticsEvents: new Counter({ name: 'analytics_events_total', help: 'Client analytics events accepted', registers: [registry] }),
    analyticsEventsDropped: new Counter({ name: 'analytics_events_dropped_total', help: 'Client analytics events refused (queue full) or lost (failed write)', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
