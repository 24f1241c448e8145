/**
 * Admin credit operations with their guard rails: a per-grant cap and a rolling 24-hour cap per admin,
 * enforced inside one transaction under a per-admin advisory lock (two concurrent grants cannot both slip
 * under the cap); signed adjustments that never take a balance below zero; bulk grants counted on the total.
 */
import { sql, type Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Database } from '../../store/schema.ts';
import { AppError, badRequest, notFound } from '../../errors.ts';
import type { AuditActor, AuditLog } from '../audit/audit.ts';
import type { Ledger, Owner, TransactionView } from './ledger.ts';
import { transactionView } from './ledger.ts';
import { picoToUsdNumber, usdToPico } from './units.ts';

export interface GrantLimits {
  maxGrantUsd: number;
  dailyGrantLimitUsd: number;
}

export interface GrantRequest {
  owner: Owner;
  amountPico: bigint;
  reason: string;
}

const capError = (message: string, code: string) => new AppError(403, 'permission_error', message, code);

export class CreditAdmin {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly audit: AuditLog,
    private readonly limits: GrantLimits,
  ) {}

  /** Ensures the owner exists (users not deleted, orgs present); 404 otherwise. */
  async assertOwner(owner: Owner, db: Db | Transaction<Database> = this.db): Promise<void> {
    if (owner.type === 'user') {
      const u = await db.selectFrom('users').select('status').where('id', '=', owner.id).executeTakeFirst();
      if (!u || u.status === 'deleted') throw notFound(`No user "${owner.id}".`, 'user_not_found', 'user_id');
    } else {
      const o = await db.selectFrom('organizations').select('id').where('id', '=', owner.id).executeTakeFirst();
      if (!o) throw notFound(`No organization "${owner.id}".`, 'org_not_found', 'org_id');
    }
  }

  private async grantedInLastDay(trx: Transaction<Database>, actorId: string): Promise<bigint> {
    const row = await trx
      .selectFrom('credit_transactions')
      .select(sql<string>`coalesce(sum(amount), 0)`.as('total'))
      .where('kind', '=', 'grant')
      .where('actor_id', '=', actorId)
      .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
      .executeTakeFirstOrThrow();
    return BigInt(row.total);
  }

  /** Grants to one or many accounts in one transaction; caps are checked on the total. */
  async grant(actor: AuditActor, grants: GrantRequest[], meta: { ip?: string; requestId?: string }): Promise<TransactionView[]> {
    const perGrantCap = usdToPico(this.limits.maxGrantUsd);
    const dailyCap = usdToPico(this.limits.dailyGrantLimitUsd);
    for (const g of grants) {
      if (g.amountPico <= 0n) throw badRequest('amount_usd must be positive.', 'invalid_amount', 'amount_usd');
      if (g.amountPico > perGrantCap) throw capError(`A single grant can be at most ${this.limits.maxGrantUsd} USD (ADMIN_MAX_CREDIT_GRANT).`, 'grant_cap_exceeded');
    }
    const total = grants.reduce((s, g) => s + g.amountPico, 0n);
    const actorId = actor.id ?? 'unknown';
    const rows = await this.db.transaction().execute(async (trx) => {
      // Serializes this admin's grants everywhere (all instances share the database).
      await sql`select pg_advisory_xact_lock(hashtext(${'credit-grant:' + actorId}))`.execute(trx);
      const already = await this.grantedInLastDay(trx, actorId);
      if (already + total > dailyCap) {
        throw capError(
          `This would exceed your 24-hour grant limit of ${this.limits.dailyGrantLimitUsd} USD (ADMIN_DAILY_GRANT_LIMIT); ${picoToUsdNumber(dailyCap - already)} USD left.`,
          'daily_grant_limit_exceeded',
        );
      }
      const out = [];
      for (const g of grants) {
        await this.assertOwner(g.owner, trx);
        const acct = await this.ledger.account(g.owner, trx);
        const row = await this.ledger.post(trx, acct.id, { kind: 'grant', amount: g.amountPico, reason: g.reason, actor: { ...actor, id: actorId } });
        await this.audit.record({ actor, action: 'admin.credit_grant', targetType: g.owner.type, targetId: g.owner.id, changes: { amount_usd: picoToUsdNumber(g.amountPico), reason: g.reason, transaction_id: String(row.id) }, ...meta }, trx);
        out.push(row);
      }
      return out;
    });
    for (const r of rows) await this.ledger.changed(r.account_id);
    return rows.map(transactionView);
  }

  /** A signed correction; refuses to take the balance below zero. */
  async adjust(actor: AuditActor, owner: Owner, amountPico: bigint, reason: string, meta: { ip?: string; requestId?: string }): Promise<TransactionView> {
    if (amountPico === 0n) throw badRequest('amount_usd must not be zero.', 'invalid_amount', 'amount_usd');
    await this.assertOwner(owner);
    const acct = await this.ledger.account(owner);
    const row = await this.db.transaction().execute(async (trx) => {
      const r = await this.ledger.post(trx, acct.id, { kind: 'adjustment', amount: amountPico, reason, actor });
      await this.audit.record({ actor, action: 'admin.credit_adjust', targetType: owner.type, targetId: owner.id, changes: { amount_usd: picoToUsdNumber(amountPico), reason, transaction_id: String(r.id) }, ...meta }, trx);
      return r;
    });
    await this.ledger.changed(acct.id);
    return transactionView(row);
  }
}
