/**
 * Write-behind request log: `record()` is synchronous and O(1); records are inserted in batches on a timer
 * or when a batch fills. The queue is bounded: overflow is counted (metric), never silent, never blocking.
 * `drain()` flushes everything (graceful shutdown).
 */
import type { Insertable } from 'kysely';
import type { Db } from '../store/db.ts';
import { insertRequestLogs } from '../store/request-logs.ts';
import { WriteBehind } from '../store/write-behind.ts';
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
  private readonly queue: WriteBehind<RequestLogRecord>;
  dropped = 0;
  /** See BatchHook; set once at start-up. */
  batchHook: BatchHook | undefined;
  private readonly listeners: RecordListener[] = [];

  constructor(
    private readonly db: Db,
    opts: RequestLogOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.queue = new WriteBehind(opts, {
      write: (batch) => this.write(batch),
      failed: (err, batch) => {
        this.metrics.requestLogWriteErrors.inc();
        this.dropped += batch.length;
        this.metrics.requestLogDropped.inc(batch.length);
        this.log.error({ err, records: batch.length }, 'request log batch write failed');
        return 'drop';
      },
      depth: (n) => this.metrics.requestLogQueueDepth.set(n),
    });
  }

  onRecord(listener: RecordListener): void {
    this.listeners.push(listener);
  }

  record(rec: RequestLogRecord): void {
    // Stamped here, not by the database default, so rollup buckets use the very timestamp the row gets.
    rec.created_at ??= new Date();
    // PostgreSQL text cannot hold NUL, and one such value (a requested model name, an upstream error message)
    // would fail the whole batch insert: strip it. A scan of a few short strings per request.
    for (const k in rec) {
      const v = rec[k as keyof RequestLogRecord];
      if (typeof v === 'string' && v.includes('\u0000')) (rec as Record<string, unknown>)[k] = v.replaceAll('\u0000', '');
    }
    for (const l of this.listeners) {
      try {
        l(rec);
      } catch (err) {
        this.log.error({ err }, 'request log listener failed');
      }
    }
    if (!this.queue.push(rec)) {
      this.dropped++;
      this.metrics.requestLogDropped.inc();
    }
  }

  get depth(): number {
    return this.queue.depth;
  }

  /** Writes everything queued so far; resolves when written (or failed and logged). */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  private async write(batch: RequestLogRecord[]): Promise<void> {
    const hook = this.batchHook;
    if (!hook) return insertRequestLogs(this.db, batch);
    await this.db.transaction().execute(async (trx) => {
      await insertRequestLogs(trx, batch);
      await hook(trx, batch);
    });
  }

  /** Stops the timer and writes what is left. */
  async drain(): Promise<void> {
    await this.queue.drain(1);
  }
}
