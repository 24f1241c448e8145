/**
 * Client analytics events (product events from apps and the console): validated at the edge, queued in
 * memory and inserted in batches, like the request log. A full queue refuses new events (the client gets a
 * 503 and may retry) rather than growing or blocking.
 */
import { z } from 'zod';
import type { Insertable } from 'kysely';
import { WriteBehind } from '../../store/write-behind.ts';
import type { Db } from '../../store/db.ts';
import type { AnalyticsEventsTable } from '../../store/schema.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { DAY_MS } from './rollups.ts';

export const MAX_BATCH_EVENTS = 100;
export const MAX_PROPERTIES_BYTES = 8192;

export const AnalyticsEventSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9_.:/ -]+$/, 'letters, digits, spaces and _ . : / - only')
      .describe('Event name, e.g. "chat.message_sent"'),
    properties: z
      .record(z.string().max(100), z.unknown())
      .default({})
      .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PROPERTIES_BYTES, { message: `properties must serialize to at most ${MAX_PROPERTIES_BYTES} bytes of JSON` })
      .describe(`Free-form JSON object (at most ${MAX_PROPERTIES_BYTES} bytes)`),
    occurred_at: z.iso
      .datetime({ offset: true })
      .refine((t) => Date.parse(t) <= Date.now() + DAY_MS, { message: 'occurred_at is more than a day in the future' })
      .optional()
      .describe('When it happened (ISO 8601); default: when received'),
    session_id: z.string().min(1).max(128).optional(),
  })
  .strict();
export type AnalyticsEvent = z.infer<typeof AnalyticsEventSchema>;

export type EventRow = Insertable<AnalyticsEventsTable>;

export interface EventWriterOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
}

export class EventWriter {
  private readonly queue: WriteBehind<EventRow>;

  constructor(
    private readonly db: Db,
    opts: EventWriterOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.queue = new WriteBehind(opts, {
      write: async (batch) => {
        await this.db.insertInto('analytics_events').values(batch).execute();
      },
      failed: (err, batch) => {
        this.metrics.analyticsEventsDropped.inc(batch.length);
        this.log.error({ err, events: batch.length }, 'analytics event batch write failed');
        return 'drop';
      },
    });
  }

  get depth(): number {
    return this.queue.depth;
  }

  /** Queues all rows or none; false when they do not fit (or the writer is closed). */
  offer(rows: EventRow[]): boolean {
    if (!this.queue.pushAll(rows)) {
      this.metrics.analyticsEventsDropped.inc(rows.length);
      return false;
    }
    this.metrics.analyticsEvents.inc(rows.length);
    return true;
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  async drain(): Promise<void> {
    await this.queue.drain(1);
  }
}
