/**
 * Write-behind request log: `record()` is synchronous and O(1); records are inserted in batches on a timer
 * or when a batch fills. The queue is bounded: overflow is counted (metric), never silent, never blocking.
 * `drain()` flushes everything (graceful shutdown).
 */
import type { Insertable } from 'kysely';
import type { Db } from '../store/db.ts';
import type { RequestLogsTable } from '../store/schema.ts';
import type { Metrics } from './metrics.ts';
import type { Logger } from './logger.ts';

export type RequestLogRecord = Insertable<RequestLogsTable>;

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

  constructor(
    private readonly db: Db,
    private readonly opts: RequestLogOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  record(rec: RequestLogRecord): void {
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
        await this.db.insertInto('request_logs').values(batch).execute();
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
