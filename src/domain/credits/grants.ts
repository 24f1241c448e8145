/**
 * Admin credit operations with their guard rails: a per-grant cap and a rolling 24-hour cap per admin,
 * enforced inside one transaction under a per-admin advisory lock (two concurrent grants cannot both slip
 * under the cap). The caps count everything an admin gives away: grants, positive adjustments, and the most
 * credit a coupon they create (or whose max_uses they raise) can ever hand out. Negative adjustments never
 * take a balance below zero, nor below what in-flight requests hold and queued charges will take.
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

/** Credit held against an account by requests in flight and charges not yet written (see CreditBook). */
export interface Holds {
  /** Writes queued charges to the ledger. */
  flush(): Promise<void>;
  /** pico-USD reserved by in-flight requests plus charges settled but not yet written. */
  held(accountId: string): Promise<bigint>;
}

const capError = (message: string, code: string) => new AppError(403, 'permission_error', message, code);

/** Audit entries (coupon create/update) carry the credit they committed under this key of `changes`. */
export const GRANT_CAP_FIELD = 'grant_cap_pico';
const CAPPED_AUDIT_ACTIONS = ['admin.coupon_create', 'admin.coupon_update'];

/** Refuses one grant-like amount above ADMIN_MAX_CREDIT_GRANT. */
export function assertPerGrantCap(amountPico: bigint, limits: GrantLimits): void {
  if (amountPico > usdToPico(limits.maxGrantUsd)) throw capError(`A single grant can be at most ${limits.maxGrantUsd} USD (ADMIN_MAX_CREDIT_GRANT).`, 'grant_cap_exceeded');
}

/** What an admin gave away in the last 24 hours: grants, positive adjustments, and credit committed by coupons. */
async function grantedInLastDay(trx: Transaction<Database>, actorId: string): Promise<bigint> {
  const ledger = await trx
    .selectFrom('credit_transactions')
    .select(sql<string>`coalesce(sum(amount), 0)`.as('total'))
    .where('actor_id', '=', actorId)
    .where((eb) => eb.or([eb('kind', '=', 'grant'), eb.and([eb('kind', '=', 'adjustment'), eb('amount', '>', '0')])]))
    .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
    .executeTakeFirstOrThrow();
  const coupons = await trx
    .selectFrom('audit_log')
    .select(sql<string>`coalesce(sum((changes->>${GRANT_CAP_FIELD})::numeric), 0)`.as('total'))
    .where('actor_id', '=', actorId)
    .where('action', 'in', CAPPED_AUDIT_ACTIONS)
    .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
    .executeTakeFirstOrThrow();
  return BigInt(ledger.total) + BigInt(coupons.total);
}

/**
 * Counts `amountPico` against the admin's rolling 24-hour cap (ADMIN_DAILY_GRANT_LIMIT), inside the caller's
 * transaction: the per-admin advisory lock serializes every capped operation of that admin on every instance
 * until the transaction ends, so the caller must record the amount (ledger entry or audit entry) in it.
 */
export async function takeDailyGrantCap(trx: Transaction<Database>, actorId: string, amountPico: bigint, limits: GrantLimits): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${'credit-grant:' + actorId}))`.execute(trx);
  const dailyCap = usdToPico(limits.dailyGrantLimitUsd);
  const already = await grantedInLastDay(trx, actorId);
  if (already + amountPico > dailyCap) {
    throw capError(
      `This would exceed your 24-hour grant limit of ${limits.dailyGrantLimitUsd} USD (ADMIN_DAILY_GRANT_LIMIT); ${picoToUsdNumber(dailyCap > already ? dailyCap - already : 0n)} USD left.`,
      'daily_grant_limit_exceeded',
    );
  }
}

export class CreditAdmin {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly audit: AuditLog,
    private readonly limits: GrantLimits,
    /** Credit held by in-flight requests and queued charges (negative adjustments stay above it). */
    private readonly holds?: Holds,
  ) {}

  /** Ensures the owner exists (users not deleted, unless `includeDeleted` for reads of history; orgs present); 404 otherwise. */
  async assertOwner(owner: Owner, db: Db | Transaction<Database> = this.db, opts: { includeDeleted?: boolean } = {}): Promise<void> {
    if (owner.type === 'user') {
      const u = await db.selectFrom('users').select('status').where('id', '=', owner.id).executeTakeFirst();
      if (!u || (u.status === 'deleted' && !opts.includeDeleted)) throw notFound(`No user "${owner.id}".`, 'user_not_found', 'user_id');
    } else {
      const o = await db.selectFrom('organizations').select('id').where('id', '=', owner.id).executeTakeFirst();
      if (!o) throw notFound(`No organization "${owner.id}".`, 'org_not_found', 'org_id');
    }
  }

  /** Grants to one or many accounts in one transaction; caps are checked on the total. */
  async grant(actor: AuditActor, grants: GrantRequest[], meta: { ip?: string; requestId?: string }): Promise<TransactionView[]> {
    for (const g of grants) {
      if (g.amountPico <= 0n) throw badRequest('amount_usd must be positive.', 'invalid_amount', 'amount_usd');
      assertPerGrantCap(g.amountPico, this.limits);
    }
    const total = grants.reduce((s, g) => s + g.amountPico, 0n);
    const actorId = actor.id ?? 'unknown';
    const rows = await this.db.transaction().execute(async (trx) => {
      await takeDailyGrantCap(trx, actorId, total, this.limits);
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

  /**
   * A signed correction. A positive one is a grant by another name: the same per-grant and daily caps apply.
   * A negative one never takes the balance below zero, nor below what in-flight requests hold and queued
   * charges will take (queued charges are written first, so the balance checked is current).
   */
  async adjust(actor: AuditActor, owner: Owner, amountPico: bigint, reason: string, meta: { ip?: string; requestId?: string }): Promise<TransactionView> {
    if (amountPico === 0n) throw badRequest('amount_usd must not be zero.', 'invalid_amount', 'amount_usd');
    if (amountPico > 0n) assertPerGrantCap(amountPico, this.limits);
    await this.assertOwner(owner);
    const acct = await this.ledger.account(owner);
    let floor = 0n;
    if (amountPico < 0n && this.holds) {
      await this.holds.flush();
      floor = await this.holds.held(acct.id);
    }
    const actorId = actor.id ?? 'unknown';
    const row = await this.db.transaction().execute(async (trx) => {
      if (amountPico > 0n) await takeDailyGrantCap(trx, actorId, amountPico, this.limits);
      const r = await this.ledger.post(trx, acct.id, { kind: 'adjustment', amount: amountPico, reason, actor: { ...actor, id: actorId } }, false, floor);
      await this.audit.record({ actor, action: 'admin.credit_adjust', targetType: owner.type, targetId: owner.id, changes: { amount_usd: picoToUsdNumber(amountPico), reason, transaction_id: String(r.id) }, ...meta }, trx);
      return r;
    });
    await this.ledger.changed(acct.id);
    return transactionView(row);
  }
}
