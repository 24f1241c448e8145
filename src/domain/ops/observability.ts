/**
 * The observability parts of the application, created and closed together: deployment health (fed by the
 * request log, in memory), incidents, retention, rollups, client events, operator caches, the gateway's breaker
 * state (for the resolve endpoint) and tracing.
 */
import type { Config } from '../../config/schema.ts';
import type { Db } from '../../store/db.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { RequestLogWriter } from '../../telemetry/request-log.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ProviderRegistry } from '../../providers/registry.ts';
import { startTracing, traceProviders, type Tracing } from '../../telemetry/tracing.ts';
import { writeRollups } from '../analytics/rollups.ts';
import { RetentionJob } from '../analytics/retention.ts';
import { EventWriter } from '../analytics/events.ts';
import { HealthTracker } from '../health/tracker.ts';
import { IncidentMonitor } from '../health/incidents.ts';
import { RedisProbe } from '../health/redis-probe.ts';
import { CacheRegistry } from './caches.ts';
import type { BreakerInspector } from './breakers.ts';

export interface Observability {
  health: HealthTracker;
  incidents: IncidentMonitor;
  retention: RetentionJob;
  events: EventWriter;
  caches: CacheRegistry;
  /** The gateway's circuit breakers, as the resolve endpoint reports them. */
  breakers: BreakerInspector;
  redisProbe: RedisProbe | undefined;
  tracing: Tracing;
  /** When the catalog was last (re)loaded from the database. */
  catalogLoadedAt: Date;
  close(): Promise<void>;
}

export interface ObservabilityDeps {
  config: Config;
  db: Db;
  metrics: Metrics;
  log: Logger;
  requestLog: RequestLogWriter;
  catalog: Catalog;
  registry: ProviderRegistry;
  breakers: BreakerInspector;
}

export async function createObservability(d: ObservabilityDeps): Promise<Observability> {
  const { config, db, metrics, log } = d;
  const tracing = await startTracing(config, log);
  if (tracing.enabled) traceProviders(d.registry);

  d.requestLog.batchHook = writeRollups;
  const health = new HealthTracker(config.health);
  d.requestLog.onRecord(health.listener);
  const incidents = new IncidentMonitor(db, health, config.health.incidentOpenAfterMs, metrics, log);
  await incidents.start();
  const retention = new RetentionJob(db, config.requestLog.retentionDays, metrics, log);
  retention.start();
  const events = new EventWriter(db, { batchSize: 500, flushIntervalMs: config.requestLog.flushIntervalMs, maxQueue: 20_000 }, metrics, log);
  const redisProbe = config.redisUrl ? new RedisProbe(config.redisUrl) : undefined;

  const obs: Observability = {
    health,
    incidents,
    retention,
    events,
    caches: new CacheRegistry(),
    breakers: d.breakers,
    redisProbe,
    tracing,
    catalogLoadedAt: new Date(),
    async close() {
      await incidents.stop();
      await retention.stop();
      await events.drain();
      await redisProbe?.close();
      await tracing.shutdown().catch(() => undefined);
    },
  };
  obs.caches.register({
    name: 'catalog',
    description: 'Model catalog (ids, prices, capabilities) served from memory; clearing reloads it from the database',
    stats: () => ({ models: d.catalog.list().length, version: d.catalog.version, loaded_at: obs.catalogLoadedAt.toISOString() }),
    clear: async () => {
      await d.catalog.load();
      obs.catalogLoadedAt = new Date();
    },
  });
  obs.caches.register({
    name: 'deployment_health',
    description: 'Recent request outcomes per deployment (statuses start over as "unknown")',
    stats: () => ({ deployments: health.snapshot().length }),
    clear: () => health.clear(),
  });
  return obs;
}
