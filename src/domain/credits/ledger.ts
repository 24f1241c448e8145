/**
 * The credit ledger: one append-only table of signed pico-USD entries per account (a user or an org). Every
 * entry is written in the same transaction that moves the account's balance, under a row lock, so
 * balance == sum(entries) always holds. Charges are idempotent by request; refunds reference their charge.
 */
import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { CreditKind, CreditTransactionsTable, Database } from '../../store/schema.ts';
import { AppError, badRequest, notFound } from '../../errors.ts';
import { newId } from '../ids.ts';
import type { CacheBus } from '../cache-bus.ts';
import type { AuditActor } from '../audit/audit.ts';
import { picoToUsdNumber } from './units.ts';
import { bulkInsert, type BulkColumn } from '../../store/bulk-insert.ts';
import { executePrepared } from '../../store/prepared.ts';

export type Executor = Db | Transaction<Database>;
export type OwnerType = 'user' | 'org';

export interface Owner {
  type: OwnerType;
  id: string;
}

export interface Account {
  id: string;
  ownerType: OwnerType;
  ownerId: string;
  balance: bigint;
  version: bigint;
}

export interface Entry {
  kind: CreditKind;
  /** Signed pico-USD. */
  amount: bigint;
  actor: AuditActor;
  reason?: string;
  referenceType?: string;
  referenceId?: string;
  refundOf?: string;
  apiKeyId?: string;
  model?: string;
  metadata?: Record<string, unknown>;
}

export interface ChargeRecord {
  accountId: string;
  /** Server-generated, unique per inference request: the idempotency key. */
  chargeId: string;
  /** Positive pico-USD cost. */
  amount: bigint;
  apiKeyId: string | null;
  model: string | null;
  requestId: string;
}

export interface AppliedCharges {
  accountId: string;
  /** pico-USD actually debited by this batch (duplicates excluded). */
  applied: bigint;
  balance: bigint;
  version: bigint;
}

/** The columns a charge batch writes, in the order writeCharges fills them. */
const CHARGE_COLUMNS: BulkColumn[] = [
  ['account_id', 'text'],
  ['kind', 'text'],
  ['amount', 'numeric'],
  ['balance_after', 'numeric'],
  ['reference_type', 'text'],
  ['reference_id', 'text'],
  ['api_key_id', 'text'],
  ['model', 'text'],
  ['actor_type', 'text'],
  ['actor_id', 'text'],
  ['metadata', 'jsonb'],
];
const insertCharges = bulkInsert('credit_transactions', CHARGE_COLUMNS);

/**
 * The charges of a batch already in the ledger: one probe of credit_tx_charge_uq per charge. The LATERAL
 * subquery with LIMIT cannot be turned into a join, so the plan does not depend on table statistics (the
 * embedded database has no autovacuum to gather them, and a hash join there read every charge ever written).
 */
export function recordedCharges(charges: readonly { accountId: string; chargeId: string }[]) {
  return sql<{ account_id: string; reference_id: string }>`
    select k.account_id, k.reference_id
    from unnest(${charges.map((c) => c.accountId)}::text[], ${charges.map((c) => c.chargeId)}::text[]) as k(account_id, reference_id)
    cross join lateral (
      select 1 from credit_transactions t
      where t.account_id = k.account_id and t.reference_id = k.reference_id and t.kind = 'charge'
      limit 1
    ) as hit`;
}

export const insufficientBalance = (message = 'This would take the balance below zero.') => new AppError(409, 'conflict_error', message, 'balance_would_be_negative');

export function transactionView(r: Selectable<CreditTransactionsTable>) {
  return {
    id: String(r.id),
    account_id: r.account_id,
    kind: r.kind,
    amount_usd: picoToUsdNumber(r.amount),
    balance_after_usd: picoToUsdNumber(r.balance_after),
    /** Exact amounts in pico-USD (1e-12 USD), as decimal strings. */
    amount_pico: r.amount,
    balance_after_pico: r.balance_after,
    reference_type: r.reference_type,
    reference_id: r.reference_id,
    refund_of: r.refund_of === null ? null : String(r.refund_of),
    api_key_id: r.api_key_id,
    model: r.model,
    reason: r.reason,
    actor_type: r.actor_type,
    actor_id: r.actor_id,
    metadata: r.metadata,
    created_at: new Date(r.created_at).toISOString(),
  };
}
export type TransactionView = ReturnType<typeof transactionView>;

const accountFromRow = (r: { id: string; owner_type: OwnerType; owner_id: string; balance: string; version: string }): Account => ({
  id: r.id,
  ownerType: r.owner_type,
  ownerId: r.owner_id,
  balance: BigInt(r.balance),
  version: BigInt(r.version),
});

export class Ledger {
  constructor(
    private readonly db: Db,
    private readonly bus: CacheBus,
  ) {}

  /** The owner's account, created on first use. */
  async account(owner: Owner, db: Executor = this.db): Promise<Account> {
    const existing = await db.selectFrom('credit_accounts').selectAll().where('owner_type', '=', owner.type).where('owner_id', '=', owner.id).executeTakeFirst();
    if (existing) return accountFromRow(existing);
    await db
      .insertInto('credit_accounts')
      .values({ id: newId('acct'), owner_type: owner.type, owner_id: owner.id })
      .onConflict((oc) => oc.columns(['owner_type', 'owner_id']).doNothing())
      .execute();
    return accountFromRow(await db.selectFrom('credit_accounts').selectAll().where('owner_type', '=', owner.type).where('owner_id', '=', owner.id).executeTakeFirstOrThrow());
  }

  /** The owner's account if it exists; never creates one (reads must not write). */
  async findAccount(owner: Owner, db: Executor = this.db): Promise<Account | undefined> {
    const row = await db.selectFrom('credit_accounts').selectAll().where('owner_type', '=', owner.type).where('owner_id', '=', owner.id).executeTakeFirst();
    return row ? accountFromRow(row) : undefined;
  }

  async accountById(id: string, db: Executor = this.db): Promise<Account | undefined> {
    const row = await db.selectFrom('credit_accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? accountFromRow(row) : undefined;
  }

  /**
   * Appends one entry and moves the balance, inside the caller's transaction, under the account's row lock.
   * Refuses to go below zero unless `allowNegative`; a debit also refuses to go below `floor` (pico-USD, e.g.
   * what in-flight requests hold).
   */
  async post(trx: Transaction<Database>, accountId: string, e: Entry, allowNegative = false, floor = 0n): Promise<Selectable<CreditTransactionsTable>> {
    const acct = await trx.selectFrom('credit_accounts').select(['balance', 'version']).where('id', '=', accountId).forUpdate().executeTakeFirst();
    if (!acct) throw notFound(`No credit account "${accountId}".`, 'account_not_found');
    const after = BigInt(acct.balance) + e.amount;
    if (after < 0n && !allowNegative) throw insufficientBalance();
    if (e.amount < 0n && floor > 0n && after < floor) {
      throw insufficientBalance(`This would take the balance below the ${picoToUsdNumber(floor)} USD held by requests in flight and charges not yet written.`);
    }
    await trx.updateTable('credit_accounts').set({ balance: after.toString(), version: sql`version + 1`, updated_at: new Date() }).where('id', '=', accountId).execute();
    return trx
      .insertInto('credit_transactions')
      .values({
        account_id: accountId,
        kind: e.kind,
        amount: e.amount.toString(),
        balance_after: after.toString(),
        reference_type: e.referenceType ?? null,
        reference_id: e.referenceId ?? null,
        refund_of: e.refundOf ?? null,
        api_key_id: e.apiKeyId ?? null,
        model: e.model ?? null,
        reason: e.reason ?? null,
        actor_type: e.actor.type,
        actor_id: e.actor.id,
        metadata: e.metadata ? JSON.stringify(e.metadata) : null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Set by the credit book: adopts a committed balance before the caller answers. */
  onChange: ((accountId: string) => Promise<void>) | undefined;

  /**
   * After a committed change: this instance's credit book adopts the new balance before the caller answers
   * (so the very next request sees it), and every other instance is told to reload.
   */
  async changed(accountId: string): Promise<void> {
    await this.onChange?.(accountId);
    this.bus.publish({ type: 'account', id: accountId });
  }

  /** One entry in its own transaction (credits: grants, purchases, coupons, trials, allowances). */
  async apply(owner: Owner, e: Entry, allowNegative = false): Promise<TransactionView> {
    const acct = await this.account(owner);
    const row = await this.db.transaction().execute((trx) => this.post(trx, acct.id, e, allowNegative));
    await this.changed(acct.id);
    return transactionView(row);
  }

  /**
   * Refunds (part of) a charge. The charge row is locked, so concurrent refunds of one charge are serialized
   * and their total can never exceed what was charged. `inTransaction` runs inside the refund's transaction
   * (the audit entry), so the refund and its record commit or roll back together.
   */
  async refund(
    transactionId: string,
    amount: bigint | undefined,
    reason: string,
    actor: AuditActor,
    inTransaction?: (trx: Transaction<Database>, refund: Selectable<CreditTransactionsTable>) => Promise<void>,
  ): Promise<TransactionView> {
    if (!/^\d{1,18}$/.test(transactionId)) throw notFound(`No transaction "${transactionId}".`, 'transaction_not_found', 'transaction_id');
    const row = await this.db.transaction().execute(async (trx) => {
      const charge = await trx.selectFrom('credit_transactions').selectAll().where('id', '=', transactionId as never).forUpdate().executeTakeFirst();
      if (!charge) throw notFound(`No transaction "${transactionId}".`, 'transaction_not_found', 'transaction_id');
      if (charge.kind !== 'charge') throw badRequest('Only charges can be refunded.', 'not_a_charge', 'transaction_id');
      const refunded = await trx
        .selectFrom('credit_transactions')
        .select(sql<string>`coalesce(sum(amount), 0)`.as('total'))
        .where('refund_of', '=', transactionId as never)
        .executeTakeFirstOrThrow();
      const remaining = -BigInt(charge.amount) - BigInt(refunded.total);
      const value = amount ?? remaining;
      if (value <= 0n) throw badRequest('Nothing left to refund on this charge.', 'refund_exceeds_charge', 'amount_usd');
      if (value > remaining) throw badRequest(`A refund of this charge can be at most ${picoToUsdNumber(remaining)} USD.`, 'refund_exceeds_charge', 'amount_usd');
      const posted = await this.post(trx, charge.account_id, { kind: 'refund', amount: value, reason, actor, refundOf: transactionId, referenceType: 'transaction', referenceId: transactionId });
      await inTransaction?.(trx, posted);
      return posted;
    });
    await this.changed(row.account_id);
    return transactionView(row);
  }

  /**
   * Writes a batch of inference charges: accounts locked in a fixed order (no deadlocks between instances),
   * charges already recorded skipped (idempotent by charge id), balances moved by what was applied. Charges
   * may take a balance below zero: the cost was incurred and must be recorded exactly; admission blocks the
   * account until it is topped up.
   */
  async writeCharges(charges: ChargeRecord[]): Promise<AppliedCharges[]> {
    if (!charges.length) return [];
    return this.db.transaction().execute(async (trx) => {
      const ids = [...new Set(charges.map((c) => c.accountId))].sort();
      // Array parameters (`= any($1)`), not one parameter per id: this runs for every batch of up to 500 charges.
      // Every statement here has a fixed text whatever the batch holds, so each is prepared once (prepared.ts).
      const { rows: accounts } = await executePrepared(trx, trx.selectFrom('credit_accounts').select(['id', 'balance', 'version']).where(sql<boolean>`id = any(${ids}::text[])`).orderBy('id').forUpdate());
      const state = new Map(accounts.map((a) => [a.id, { balance: BigInt(a.balance), version: BigInt(a.version), applied: 0n }]));
      const { rows: existing } = await executePrepared(trx, recordedCharges(charges));
      const seen = new Set(existing.map((e) => `${e.account_id}|${e.reference_id}`));
      // One row per new charge, values in CHARGE_COLUMNS order, for one bulk insert in the batch's order.
      const rows: (string | null)[][] = [];
      for (const c of charges) {
        const s = state.get(c.accountId);
        const key = `${c.accountId}|${c.chargeId}`;
        if (!s || seen.has(key) || c.amount <= 0n) continue;
        seen.add(key);
        s.balance -= c.amount;
        s.applied += c.amount;
        rows.push([c.accountId, 'charge', (-c.amount).toString(), s.balance.toString(), 'request', c.chargeId, c.apiKeyId, c.model, 'system', null, JSON.stringify({ request_id: c.requestId })]);
      }
      await insertCharges(trx, rows);
      const out: AppliedCharges[] = [];
      for (const [id, s] of state) {
        if (s.applied === 0n) {
          out.push({ accountId: id, applied: 0n, balance: s.balance, version: s.version });
          continue;
        }
        const { rows: updated } = await executePrepared(
          trx,
          trx
            .updateTable('credit_accounts')
            .set({ balance: s.balance.toString(), version: sql`version + 1`, updated_at: new Date() })
            .where('id', '=', id)
            .returning('version'),
        );
        // The row is locked above, so it is there.
        out.push({ accountId: id, applied: s.applied, balance: s.balance, version: BigInt(updated[0].version) });
      }
      return out;
    });
  }

  /** Sum of an API key's charges since a time (for key budgets), pico-USD. */
  async keySpendSince(apiKeyId: string, since: Date): Promise<bigint> {
    const row = await this.db
      .selectFrom('credit_transactions')
      .select(sql<string>`coalesce(-sum(amount), 0)`.as('spent'))
      .where('api_key_id', '=', apiKeyId)
      .where('kind', '=', 'charge')
      .where('created_at', '>=', since)
      .executeTakeFirstOrThrow();
    const refunds = await this.db
      .selectFrom('credit_transactions as r')
      .innerJoin('credit_transactions as c', 'c.id', 'r.refund_of')
      .select(sql<string>`coalesce(sum(r.amount), 0)`.as('refunded'))
      .where('c.api_key_id', '=', apiKeyId)
      .where('c.created_at', '>=', since)
      .executeTakeFirstOrThrow();
    return BigInt(row.spent) - BigInt(refunds.refunded);
  }

  /** The invariant, for tests and operators: the stored balance equals the sum of the entries. */
  async verify(accountId: string): Promise<{ balance: bigint; sum: bigint; ok: boolean }> {
    const acct = await this.accountById(accountId);
    if (!acct) throw notFound(`No credit account "${accountId}".`, 'account_not_found');
    const row = await this.db.selectFrom('credit_transactions').select(sql<string>`coalesce(sum(amount), 0)`.as('sum')).where('account_id', '=', accountId).executeTakeFirstOrThrow();
    const sum = BigInt(row.sum);
    return { balance: acct.balance, sum, ok: sum === acct.balance };
  }
}
