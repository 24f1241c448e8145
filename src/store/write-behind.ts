/**
 * A bounded write-behind queue: `push` is O(1) on the request path; items are written in batches when a batch
 * fills or a timer fires, one batch at a time, and `drain` writes what is left on shutdown. What happens to a
 * batch whose write fails is the owner's call: drop it (counted by the owner) or keep it and retry later.
 */
export interface WriteBehindOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
}

export interface WriteBehindHandlers<T> {
  write(batch: T[]): Promise<void>;
  /** A failed write: 'drop' discards the batch, 'retry' keeps it at the head of the queue for a later attempt. */
  failed(err: unknown, batch: T[]): 'drop' | 'retry';
  /** Called when the queue length changes (metrics). */
  depth?(n: number): void;
}

/** 'full': only full batches (a batch filled); 'due': what is queued now (the timer); 'all': until empty (flush, drain). */
type WriteMode = 'full' | 'due' | 'all';

export class WriteBehind<T> {
  private queue: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private retries = 0;

  constructor(
    private readonly opts: WriteBehindOptions,
    private readonly handlers: WriteBehindHandlers<T>,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  /** Queues one item; false when the queue is full (the caller counts the drop). */
  push(item: T): boolean {
    if (this.queue.length >= this.opts.maxQueue) return false;
    this.queue.push(item);
    this.queued();
    return true;
  }

  /** Queues all items or none. */
  pushAll(items: T[]): boolean {
    if (this.closed || this.queue.length + items.length > this.opts.maxQueue) return false;
    for (const item of items) this.queue.push(item);
    this.queued();
    return true;
  }

  private queued(): void {
    this.handlers.depth?.(this.queue.length);
    // While a write runs, its loop takes every batch that fills (no waiter per push); after a failure, the
    // backoff timer decides when to try again.
    if (!this.flushing && !this.retries && this.queue.length >= this.opts.batchSize) void this.write('full');
    else this.schedule(this.opts.flushIntervalMs);
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write('due');
    }, ms);
    this.timer.unref();
  }

  /** Writes everything queued, including what arrives meanwhile (a retried batch stays queued); resolves when done. */
  flush(): Promise<void> {
    return this.write('all');
  }

  private async write(mode: WriteMode): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.queue.length) return;
    this.flushing = this.writeAll(mode).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  /**
   * Background passes write full batches, and the timer's pass also what was queued when it fired; items that
   * arrive meanwhile and do not fill a batch wait for the next timer. Otherwise, at moderate rates, the writer
   * would chase every few new items with another tiny transaction, keeping the database busy with per-batch
   * overhead.
   */
  private async writeAll(mode: WriteMode): Promise<void> {
    let owed = mode === 'due' ? this.queue.length : 0;
    while (this.queue.length && (mode === 'all' || owed > 0 || this.queue.length >= this.opts.batchSize)) {
      const batch = this.queue.slice(0, this.opts.batchSize);
      try {
        await this.handlers.write(batch);
        this.retries = 0;
      } catch (err) {
        if (this.handlers.failed(err, batch) === 'retry') {
          this.retries++;
          this.schedule(Math.min(5000, 250 * this.retries));
          return;
        }
      }
      this.queue.splice(0, batch.length);
      owed -= batch.length;
      this.handlers.depth?.(this.queue.length);
    }
    if (this.queue.length) this.schedule(this.opts.flushIntervalMs);
  }

  /** Stops the timer and writes what is left, retrying a few times before giving up. Returns what is left. */
  async drain(attempts = 5): Promise<number> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = 0; i < attempts && this.queue.length; i++) {
      await this.flush();
      if (this.queue.length) await new Promise((r) => setTimeout(r, 200 * (i + 1)));
    }
    return this.queue.length;
  }
}
