/**
 * Prometheus metrics. One registry per server instance (tests build several); label sets are bounded:
 * no user, key or request labels.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  return {
    registry,
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
    requestLogWriteErrors: new Counter({ name: 'request_log_write_errors_total', help: 'Failed request log batch writes', registers: [registry] }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
