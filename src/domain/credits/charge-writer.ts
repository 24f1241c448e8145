/**
 * Write-behind for inference charges: `enqueue` is O(1) on the request path; batches go to the ledger in one
 * transaction each, idempotent by charge id, and the credit book then adopts the new balances. A failed batch
 * is retried (charges are never dropped); shutdown drains everything.
 */
import type { Logger } from '../../telemetry/logger.ts';
import type { Ledger, ChargeRecord } from './ledger.ts';
import type { ChargeSink, CreditBook } from './book.ts';

type Queued = Parameters<ChargeSink['enqueue']>[0];

export class ChargeWriter implements ChargeSink {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Batches that failed and will be retried, for /health. */
  failures = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly book: CreditBook,
    private readonly log: Logger,
    private readonly opts: { batchSize: number; flushIntervalMs: number } = { batchSize: 500, flushIntervalMs: 200 },
  ) {
    book.attach(this);
  }

  enqueue(charge: Queued): void {
    this.queue.push(charge);
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
      const batch = this.queue.slice(0, this.opts.batchSize);
      const records: ChargeRecord[] = batch.map((c) => ({ accountId: c.accountId, chargeId: c.chargeId, amount: c.amount, apiKeyId: c.apiKeyId, model: c.model, requestId: c.requestId }));
      let applied;
      try {
        applied = await this.ledger.writeCharges(records);
      } catch (err) {
        this.failures++;
        this.log.error({ err, charges: batch.length }, 'charge batch write failed; will retry');
        if (!this.closed) {
          this.timer ??= setTimeout(() => {
            this.timer = undefined;
            void this.flush();
          }, Math.min(5000, 250 * this.failures)).unref();
        }
        return;
      }
      this.queue.splice(0, batch.length);
      this.failures = 0;
      const micro = new Map<string, number>();
      const budgets = new Map<string, number>();
      for (const c of batch) {
        micro.set(c.accountId, (micro.get(c.accountId) ?? 0) + c.chargedMicro);
        if (c.budgetSlot) budgets.set(c.budgetSlot, (budgets.get(c.budgetSlot) ?? 0) + c.chargedMicro);
      }
      await this.book.onWritten(
        applied.map((a) => ({ accountId: a.accountId, chargedMicro: micro.get(a.accountId) ?? 0, balance: a.balance, version: a.version })),
        budgets,
      );
    }
  }

  /** Writes everything queued; retries failed batches a few times before giving up loudly. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let attempt = 0; attempt < 5 && this.queue.length; attempt++) {
      await this.flush();
      if (this.queue.length) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
    }
    if (this.queue.length) this.log.error({ charges: this.queue.length }, 'shutdown with unwritten charges');
  }
}
