/**
 * The credit book: admission-time reservations and settlement against accounts and key budgets, with no
 * I/O for a warm account in memory mode. Exact charges go to the batched ChargeWriter; the ledger remains
 * the source of truth and the book follows it (version-guarded) after every write.
 */
import { AppError } from '../../errors.ts';
import type { CacheBus } from '../cache-bus.ts';
import type { LimitsJson } from '../../store/schema.ts';
import type { Ledger, Owner } from './ledger.ts';
import type { ReservationStore } from './reservations.ts';
import { picoToMicroCeil, picoToMicroFloor, picoToUsdNumber, usdToPico } from './units.ts';
import { timeOrderedHex } from '../ids.ts';

export interface Budget {
  keyId: string;
  limits: NonNullable<LimitsJson['budget']>;
}

/** Credit held for one request: released or settled exactly once. */
export interface Hold {
  accountId: string;
  reserved: number;
  budgetSlot: string | undefined;
  budgetKeyId: string | undefined;
  /** Idempotency key of the eventual charge: server-generated, never client-controlled. */
  chargeId: string;
  done: boolean;
}

export interface ChargeSink {
  enqueue(charge: { accountId: string; chargeId: string; amount: bigint; apiKeyId: string | null; model: string | null; requestId: string; budgetSlot: string | undefined; chargedMicro: number }): void;
}

const insufficient = (message: string) => new AppError(402, 'insufficient_quota', message, 'insufficient_credits');

/** Start of the current budget period (UTC). */
export function periodStart(period: Budget['limits']['period'], now = new Date()): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  if (period === 'total') return new Date(0);
  if (period === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  if (period === 'month') d.setUTCDate(1);
  return d;
}

/** Lets a store call that may fail run on without anyone awaiting it (the memory store answers synchronously). */
const quietly = (r: void | Promise<void>) => {
  if (r) r.catch(() => {});
};
const acctSlot = (accountId: string) => `a:${accountId}`;
const budgetSlot = (budget: Budget, since: Date) => `b:${budget.keyId}:${budget.limits.period}:${budget.limits.amount_usd}:${since.getTime()}`;

export class CreditBook {
  private readonly accountIds = new Map<string, string>();
  private sink: ChargeSink | undefined;

  constructor(
    private readonly store: ReservationStore,
    private readonly ledger: Ledger,
    bus: CacheBus,
  ) {
    bus.on((msg) => {
      if (msg.type === 'account') void this.reload(msg.id).catch(() => {});
    });
    ledger.onChange = (accountId) => this.reload(accountId);
  }

  attach(sink: ChargeSink): void {
    this.sink = sink;
  }

  /** The owner's account id: memory after the first lookup. */
  accountId(owner: Owner): string | Promise<string> {
    const k = `${owner.type}:${owner.id}`;
    const hit = this.accountIds.get(k);
    if (hit) return hit;
    return this.ledger.account(owner).then((a) => {
      this.accountIds.set(k, a.id);
      return a.id;
    });
  }

  private async reload(accountId: string): Promise<void> {
    const a = await this.ledger.accountById(accountId);
    if (a) await this.store.refresh(acctSlot(accountId), picoToMicroFloor(a.balance), Number(a.version));
  }

  private async load(accountId: string): Promise<void> {
    const a = await this.ledger.accountById(accountId);
    if (!a) throw insufficient('No credit account.');
    await this.store.init(acctSlot(accountId), picoToMicroFloor(a.balance), Number(a.version));
  }

  private async loadBudget(slot: string, budget: Budget, since: Date): Promise<void> {
    const spent = await this.ledger.keySpendSince(budget.keyId, since);
    await this.store.init(slot, picoToMicroFloor(usdToPico(budget.limits.amount_usd) - spent), 0);
  }

  private async reserveSlot(slot: string, amount: number, load: () => Promise<void>): Promise<boolean> {
    let r = await this.store.reserve(slot, amount);
    if (r === 'unknown') {
      await load();
      r = await this.store.reserve(slot, amount);
    }
    return r === 'ok';
  }

  /**
   * Reserves `maxCost` (pico) like reserve(); when the account or the key's budget cannot cover it, asks `fit`
   * for a smaller cost within what is available (pico) and reserves that instead. `fit` returning undefined
   * (not even a minimal request fits) keeps the 402. Only the refused path reads the available credit.
   */
  async reserveFitting(accountId: string, maxCost: bigint, budget: Budget | undefined, fit: (available: bigint) => bigint | undefined): Promise<Hold> {
    try {
      return await this.reserve(accountId, maxCost, budget);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 402) throw err;
      let available = await this.availableMicro(acctSlot(accountId));
      if (budget) {
        const since = periodStart(budget.limits.period);
        const slot = budgetSlot(budget, since);
        if ((await this.store.get(slot)) === undefined) await this.loadBudget(slot, budget, since);
        const left = await this.availableMicro(slot);
        if (left < available) available = left;
      }
      const cost = available > 0 ? fit(BigInt(available) * 1_000_000n) : undefined;
      if (cost === undefined || cost >= maxCost) throw err;
      return this.reserve(accountId, cost, budget);
    }
  }

  private async availableMicro(slot: string): Promise<number> {
    const s = await this.store.get(slot);
    return s ? s.balance - s.pending - s.reserved : 0;
  }

  /** Reserves `maxCost` (pico) on the account, and on the key's budget if it has one; 402 when either cannot cover it. */
  async reserve(accountId: string, maxCost: bigint, budget?: Budget): Promise<Hold> {
    const amount = Math.max(1, picoToMicroCeil(maxCost));
    if (!(await this.reserveSlot(acctSlot(accountId), amount, () => this.load(accountId)))) {
      throw insufficient('Insufficient credits for this request. Add credits or lower max_tokens.');
    }
    const hold: Hold = { accountId, reserved: amount, budgetSlot: undefined, budgetKeyId: undefined, chargeId: timeOrderedHex(), done: false };
    if (budget) {
      const since = periodStart(budget.limits.period);
      const slot = budgetSlot(budget, since);
      let ok = false;
      try {
        ok = await this.reserveSlot(slot, amount, () => this.loadBudget(slot, budget, since));
      } catch (err) {
        await this.store.release(acctSlot(accountId), amount);
        throw err;
      }
      if (!ok) {
        await this.store.release(acctSlot(accountId), amount);
        throw insufficient(`This API key reached its ${budget.limits.period === 'total' ? 'total' : budget.limits.period + 'ly'} budget of ${budget.limits.amount_usd} USD.`);
      }
      hold.budgetSlot = slot;
      hold.budgetKeyId = budget.keyId;
    }
    return hold;
  }

  /** A hold without a reservation (postpaid accounts): settles a charge, never refuses. */
  open(accountId: string): Hold {
    return { accountId, reserved: 0, budgetSlot: undefined, budgetKeyId: undefined, chargeId: timeOrderedHex(), done: false };
  }

  /** Ends the hold and records the exact cost (nothing when zero). Safe to call more than once. */
  settle(hold: Hold, cost: bigint, detail: { apiKeyId: string | null; model: string | null; requestId: string }): void {
    if (hold.done) return;
    hold.done = true;
    const charged = cost > 0n ? picoToMicroCeil(cost) : 0;
    // A store that fails here (Redis gone) leaves the reservation to expire with its slot; the charge itself
    // still goes to the ledger below. Unhandled, the rejection would end the process.
    quietly(this.store.settle(acctSlot(hold.accountId), hold.reserved, charged));
    if (hold.budgetSlot) quietly(this.store.settle(hold.budgetSlot, hold.reserved, charged));
    if (cost > 0n) {
      this.sink?.enqueue({ accountId: hold.accountId, chargeId: hold.chargeId, amount: cost, apiKeyId: detail.apiKeyId, model: detail.model, requestId: detail.requestId, budgetSlot: hold.budgetSlot, chargedMicro: charged });
    }
  }

  release(hold: Hold): void {
    this.settle(hold, 0n, { apiKeyId: null, model: null, requestId: '' });
  }

  /** After the writer recorded charges: move them out of `pending`, adopt the new balances. */
  async onWritten(accounts: { accountId: string; chargedMicro: number; balance: bigint; version: bigint }[], budgets: Map<string, number>): Promise<void> {
    for (const a of accounts) await this.store.flushed(acctSlot(a.accountId), a.chargedMicro, picoToMicroFloor(a.balance), Number(a.version));
    for (const [slot, charged] of budgets) await this.store.spent(slot, charged);
  }

  /** Credit held on an account (pico-USD): reserved by requests in flight plus charges settled but not yet written. */
  async held(accountId: string): Promise<bigint> {
    const snap = await this.store.get(acctSlot(accountId));
    return snap ? BigInt(snap.reserved + snap.pending) * 1_000_000n : 0n;
  }

  /** Balance, reserved and pending credit of an account, USD. */
  async view(accountId: string) {
    const a = await this.ledger.accountById(accountId);
    const snap = await this.store.get(acctSlot(accountId));
    const balance = a ? picoToUsdNumber(a.balance) : 0;
    const reserved = snap ? snap.reserved / 1e6 : 0;
    const pending = snap ? snap.pending / 1e6 : 0;
    return {
      account_id: accountId,
      balance_usd: balance,
      balance_pico: a ? a.balance.toString() : '0',
      reserved_usd: reserved,
      pending_charges_usd: pending,
      available_usd: Math.max(0, Math.round((balance - reserved - pending) * 1e6) / 1e6),
      currency: 'USD' as const,
    };
  }

  clear(): Promise<void> | void {
    return this.store.clear();
  }
}
