/**
 * Retention: deletes request-log rows and client analytics events older than the configured number of days,
 * in small batches (short statements: no long lock, the single embedded connection is shared), on an unref'd
 * timer. Hourly and error rollups are kept for ROLLUP_HOURLY_DAYS (they answer hour-aligned queries);
 * daily rollups are kept forever (a few rows per day and dimension).
 */
import type { Db } from '../../store/db.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { DAY_MS } from './rollups.ts';
import { PeriodicJob } from '../../store/periodic-job.ts';
import { deleteBefore } from '../../store/batched-delete.ts';

export const ROLLUP_HOURLY_DAYS = 90;
const BATCH = 5000;
/** Upper bound of batches per table per run, so one run cannot monopolize the database. */
const MAX_BATCHES = 200;
const INTERVAL_MS = 3_600_000;
const FIRST_RUN_MS = 60_000;

export interface PruneResult {
  request_logs: number;
  analytics_events: number;
  rollups: number;
}

const TABLES = [
  { table: 'request_logs', column: 'created_at' },
  { table: 'analytics_events', column: 'received_at' },
] as const;

export class RetentionJob {
  private readonly job: PeriodicJob<PruneResult>;

  constructor(
    private readonly db: Db,
    private readonly retentionDays: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.job = new PeriodicJob((now) => this.prune(now), {
      firstMs: FIRST_RUN_MS,
      everyMs: INTERVAL_MS,
      onError: (err) => log.error({ err }, 'retention pruning failed'),
    });
  }

  start(): void {
    if (this.retentionDays > 0) this.job.start();
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** One pruning pass (also run on demand by the admin API); concurrent calls share the pass. */
  run(now = Date.now()): Promise<PruneResult> {
    return this.job.run(now);
  }

  private async prune(now: number): Promise<PruneResult> {
    const result: PruneResult = { request_logs: 0, analytics_events: 0, rollups: 0 };
    if (this.retentionDays <= 0) return result;
    const cutoff = new Date(now - this.retentionDays * DAY_MS);
    for (const { table, column } of TABLES) {
      result[table] = await deleteBefore(this.db, { table, column, cutoff, batch: BATCH, maxBatches: MAX_BATCHES, stopped: () => this.job.stopped });
      if (result[table]) this.metrics.requestLogPruned.inc({ table }, result[table]);
    }
    const rollupCutoff = new Date(now - Math.max(this.retentionDays, ROLLUP_HOURLY_DAYS) * DAY_MS);
    for (const table of ['request_rollups_hourly', 'request_rollups_model_hourly', 'request_error_rollups'] as const) {
      const res = await this.db.deleteFrom(table).where('bucket', '<', rollupCutoff).executeTakeFirst();
      result.rollups += Number(res.numDeletedRows ?? 0);
    }
    if (result.request_logs || result.analytics_events) this.log.info({ ...result, cutoff: cutoff.toISOString() }, 'retention: pruned old rows');
    return result;
  }
}
