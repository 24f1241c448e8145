/**
 * Write-behind for inference charges: `enqueue` is O(1) on the request path; batches go to the ledger in one
 * transaction each, idempotent by charge id, and the credit book then adopts the new balances. A failed batch
 * is retried (charges are never dropped); shutdown drains everything.
 */
import type { Logger } from '../../telemetry/logger.ts';
import type { Ledger, ChargeRecord } from './ledger.ts';
import type { ChargeSink, CreditBook } from './book.ts';
import { WriteBehind } from '../../store/write-behind.ts';

type Queued = Parameters<ChargeSink['enqueue']>[0];

export class ChargeWriter implements ChargeSink {
  private readonly queue: WriteBehind<Queued>;
  /** Consecutive failed batches (retried), for /health. */
  failures = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly book: CreditBook,
    private readonly log: Logger,
    opts: { batchSize: number; flushIntervalMs: number } = { batchSize: 500, flushIntervalMs: 200 },
  ) {
    // Unbounded in practice: a charge is money owed and is never dropped.
    this.queue = new WriteBehind({ ...opts, maxQueue: Number.MAX_SAFE_INTEGER }, {
      write: (batch) => this.write(batch),
      failed: (err, batch) => {
        this.failures++;
        this.log.error({ err, charges: batch.length }, 'charge batch write failed; will retry');
        return 'retry';
      },
    });
    book.attach(this);
  }

  enqueue(charge: Queued): void {
    this.queue.push(charge);
  }

  get depth(): number {
    return this.queue.depth;
  }

  flush(): Promise<void> {
    return this.queue.flush();
  }

  private async write(batch: Queued[]): Promise<void> {
    const records: ChargeRecord[] = batch.map((c) => ({ accountId: c.accountId, chargeId: c.chargeId, amount: c.amount, apiKeyId: c.apiKeyId, model: c.model, requestId: c.requestId }));
    const applied = await this.ledger.writeCharges(records);
    this.failures = 0;
    const micro = new Map<string, number>();
    const budgets = new Map<string, number>();
    for (const c of batch) {
      micro.set(c.accountId, (micro.get(c.accountId) ?? 0) + c.chargedMicro);
      if (c.budgetSlot) budgets.set(c.budgetSlot, (budgets.get(c.budgetSlot) ?? 0) + c.chargedMicro);
    }
    try {
      await this.book.onWritten(
        applied.map((a) => ({ accountId: a.accountId, chargedMicro: micro.get(a.accountId) ?? 0, balance: a.balance, version: a.version })),
        budgets,
      );
    } catch (err) {
      // The charges are in the ledger: retrying the batch would write nothing and still not reach the store.
      // Its slots keep the charges as pending until they expire and reload from the ledger.
      this.log.warn({ err: (err as Error).message || (err as Error).name, charges: batch.length }, 'charges written; credit store not updated');
    }
  }

  /** Writes everything queued; retries failed batches a few times before giving up loudly. */
  async drain(): Promise<void> {
    const left = await this.queue.drain(5);
    if (left) this.log.error({ charges: left }, 'shutdown with unwritten charges');
  }
}
