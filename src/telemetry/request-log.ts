/**
 * Write-behind request log: `record()` is synchronous and O(1); records are inserted in batches on a timer
 * or when a batch fills. The queue is bounded: overflow is counted (metric), never silent, never blocking.
 * `drain()` flushes everything (graceful shutdown).
 */
import type { Insertable } from 'kysely';
import type { Db } from '../store/db.ts';
import { insertRequestLogs } from '../store/request-logs.ts';
import type { RequestLogsTable } from '../store/schema.ts';
import type { Metrics } from './metrics.ts';
import type { Logger } from './logger.ts';

export type RequestLogRecord = Insertable<RequestLogsTable>;

/**
 * Extra writes done in the same transaction as each batch (the analytics rollups), so derived tables always
 * equal the rows written. A failure rolls the batch back and counts it like any failed write.
 */
export type BatchHook = (trx: Db, batch: readonly RequestLogRecord[]) => Promise<void>;

/** Called synchronously with every record (dropped ones too); must be O(1) and never do I/O (health tracking). */
export type RecordListener = (rec: RequestLogRecord) => void;

export interface RequestLogOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
}

export class RequestLogWriter {
  private queue: RequestLogRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  dropped = 0;
  /** See BatchHook; set once at start-up. */
  batchHook: BatchHook | undefined;
  private readonly listeners: RecordListener[] = [];

  constructor(
    private readonly db: Db,
    private readonly opts: RequestLogOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  onRecord(listener: RecordListener): void {
    this.listeners.push(listener);
  }

  record(rec: RequestLogRecord): void {
    // Stamped here, not by the database default, so rollup buckets use the very timestamp the row gets.
    rec.created_at ??= new Date();
    for (const l of this.listeners) {
      try {
        l(rec);
      } catch (err) {
        this.log.error({ err }, 'request log listener failed');
      }
    }
    if (this.queue.length >= this.opts.maxQueue) {
      this.dropped++;
      this.metrics.requestLogDropped.inc();
      return;
    }
    this.queue.push(rec);
    this.metrics.requestLogQueueDepth.set(this.queue.length);
    if (this.queue.length >= this.opts.batchSize) void this.flush();
    else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.opts.flushIntervalMs);
      this.timer.unref();
    }
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Writes everything queued so far; resolves when written (or failed and logged). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.queue.length) return;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      this.metrics.requestLogQueueDepth.set(this.queue.length);
      try {
        const hook = this.batchHook;
        if (hook) {
          await this.db.transaction().execute(async (trx) => {
            await insertRequestLogs(trx, batch);
            await hook(trx, batch);
          });
        } else await insertRequestLogs(this.db, batch);
      } catch (err) {
        this.metrics.requestLogWriteErrors.inc();
        this.dropped += batch.length;
        this.metrics.requestLogDropped.inc(batch.length);
        this.log.error({ err, records: batch.length }, 'request log batch write failed');
      }
    }
  }

  /** Stops the timer and writes what is left. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
