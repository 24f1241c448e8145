/** The inference gateway: routing, pipelines and recording, assembled from the app's parts. */
import type { Config } from '../config/schema.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import type { Catalog } from '../domain/catalog/catalog.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RequestLogWriter } from '../telemetry/request-log.ts';
import { Router } from './router.ts';
import { Routers } from './routers/index.ts';
import { Recorder } from './record.ts';
import { ChatPipeline } from './chat.ts';
import { EmbeddingsPipeline } from './embeddings.ts';
import { Admission } from './admit.ts';
import { Billing } from './billing.ts';
import { ConcurrencyGate } from './gate.ts';
import { RateLimitGate } from './limits.ts';
import { MemoryTally, RedisTally } from '../domain/limits/tally.ts';
import { Leases } from './lease.ts';
import { plansFor } from '../domain/plans/plans.ts';
import { BreakerBoard, RedisBreakerStore } from './breakers.ts';
import type { Logger } from '../telemetry/logger.ts';
import { DeploymentStats } from './deployment-stats.ts';
import type { Resilience } from './attempt.ts';
import type { CacheBus } from '../domain/cache-bus.ts';
import type { CreditBook } from '../domain/credits/book.ts';
import type { RedisHandle } from '../store/redis.ts';

export class Gateway {
  readonly router: Router;
  /** `router:code[:mode]` and `router:auto` (decisions, tiers, dry runs). */
  readonly routers: Routers;
  readonly chat: ChatPipeline;
  readonly embeddings: EmbeddingsPipeline;

  readonly admission: Admission;

  readonly billing: Billing;

  /** The global concurrency gate (diagnostics read it). */
  readonly gate: ConcurrencyGate;

  /** Circuit breakers and per-deployment performance, fed by every attempt. */
  readonly resilience: Resilience;

  /** Per-user and per-key rate limits and concurrency (admins can clear the counters). */
  readonly limits: RateLimitGate;

  constructor(config: Config, registry: ProviderRegistry, catalog: Catalog, metrics: Metrics, requestLog: RequestLogWriter, bus: CacheBus, redis?: RedisHandle, book?: CreditBook, log?: Logger) {
    const breakerStore = redis ? new RedisBreakerStore(redis) : undefined;
    this.resilience = { breakers: new BreakerBoard(config.breakers, metrics, bus, breakerStore, (err) => log?.warn({ err }, 'circuit-breaker state could not be read or written in Redis')), stats: new DeploymentStats() };
    this.router = new Router(config, registry, catalog, this.resilience.stats);
    // Memory on one instance, Redis for a fleet: per-user and per-key limits, and the anonymous per-IP limit.
    const tally = redis ? new RedisTally(redis) : new MemoryTally();
    this.admission = new Admission(config, tally);
    this.billing = new Billing(book, config);
    this.gate = new ConcurrencyGate(config.gate, metrics);
    this.limits = new RateLimitGate(plansFor(config), metrics, tally);
    const leases = new Leases(this.limits, this.gate, this.billing);
    const recorder = new Recorder(metrics, requestLog);
    this.routers = new Routers(config, registry, catalog, this.router, undefined, metrics);
    this.chat = new ChatPipeline(config, this.router, recorder, this.admission, this.billing, leases, this.resilience, this.routers);
    this.embeddings = new EmbeddingsPipeline(config, this.router, recorder, this.admission, this.billing, leases, this.resilience);
  }
}

export type { RequestContext } from './context.ts';
export type { ChatOutcome, StreamItem } from './chat.ts';
