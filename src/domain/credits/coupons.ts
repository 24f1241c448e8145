/**
 * Coupons: codes worth a fixed USD credit, with a global use limit, a per-user limit, a validity window and
 * optional assignment to one user. Redemption is ONE transaction: the coupon row is locked (so every check
 * and the use counter are serialized per coupon, across instances), the ledger entry, the redemption row and
 * the counter move together, or nothing is written. Codes are case-insensitive (stored upper-cased).
 */
import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { CouponRedemptionsTable, CouponsTable, Database } from '../../store/schema.ts';
import { AppError, badRequest, conflict, notFound } from '../../errors.ts';
import { newId } from '../ids.ts';
import { cursorTs, decodeCursor, encodeCursor } from '../paging.ts';
import { diff, type AuditActor, type AuditLog } from '../audit/audit.ts';
import type { Ledger, Owner } from './ledger.ts';
import { picoToUsdNumber, usdToPico } from './units.ts';
import { GRANT_CAP_FIELD, takeDailyGrantCap, type GrantLimits } from './grants.ts';

export const COUPON_TYPES = ['promotional', 'referral', 'compensation', 'partnership'] as const;
export type CouponType = (typeof COUPON_TYPES)[number];
export const COUPON_STATUSES = ['active', 'inactive', 'scheduled', 'expired', 'exhausted'] as const;
export type CouponStatus = (typeof COUPON_STATUSES)[number];

/** Letters, digits, '-' and '_'; compared case-insensitively. */
export const COUPON_CODE_RE = /^[A-Za-z0-9_-]{3,64}$/;

type CouponRow = Selectable<CouponsTable>;
type RedemptionRow = Selectable<CouponRedemptionsTable>;
type Meta = { ip?: string; requestId?: string };

export interface CouponCreate {
  code: string;
  value_usd: number;
  type: CouponType;
  max_uses?: number | null;
  per_user_limit?: number;
  valid_from?: string | null;
  valid_until?: string | null;
  assigned_user_id?: string | null;
  description?: string | null;
}

export interface CouponUpdate {
  description?: string | null;
  max_uses?: number | null;
  valid_until?: string | null;
  active?: boolean;
}

export interface CouponListQuery {
  active?: 'true' | 'false';
  status?: CouponStatus;
  type?: CouponType;
  q?: string;
  assigned_user_id?: string;
  limit: number;
  cursor?: string;
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** Where a coupon stands at `now` (one rule, shared by the views and the SQL below). */
export function couponStatus(c: Pick<CouponRow, 'active' | 'valid_from' | 'valid_until' | 'max_uses' | 'uses'>, now = new Date()): CouponStatus {
  if (!c.active) return 'inactive';
  if (c.valid_until && new Date(c.valid_until) <= now) return 'expired';
  if (c.valid_from && new Date(c.valid_from) > now) return 'scheduled';
  if (c.max_uses !== null && c.uses >= c.max_uses) return 'exhausted';
  return 'active';
}

/** The same rule in SQL, for filters and stats. */
const statusSql = (now: Date, t = '') =>
  sql<CouponStatus>`case
    when not ${sql.raw(t)}active then 'inactive'
    when ${sql.raw(t)}valid_until is not null and ${sql.raw(t)}valid_until <= ${now} then 'expired'
    when ${sql.raw(t)}valid_from is not null and ${sql.raw(t)}valid_from > ${now} then 'scheduled'
    when ${sql.raw(t)}max_uses is not null and ${sql.raw(t)}uses >= ${sql.raw(t)}max_uses then 'exhausted'
    else 'active' end`;

export function couponView(c: CouponRow, now = new Date()) {
  return {
    id: c.id,
    code: c.code,
    type: c.type,
    value_usd: picoToUsdNumber(c.value),
    /** Exact value in pico-USD (1e-12 USD), as a decimal string. */
    value_pico: c.value,
    max_uses: c.max_uses,
    per_user_limit: c.per_user_limit,
    uses: c.uses,
    remaining_uses: c.max_uses === null ? null : Math.max(0, c.max_uses - c.uses),
    valid_from: iso(c.valid_from),
    valid_until: iso(c.valid_until),
    assigned_user_id: c.assigned_user_id,
    description: c.description,
    active: c.active,
    status: couponStatus(c, now),
    created_by: c.created_by,
    created_at: new Date(c.created_at).toISOString(),
    updated_at: new Date(c.updated_at).toISOString(),
  };
}
export type CouponView = ReturnType<typeof couponView>;

export function redemptionView(r: RedemptionRow & { code: string; type: CouponType }) {
  return {
    id: r.id,
    coupon_id: r.coupon_id,
    code: r.code,
    type: r.type,
    value_usd: picoToUsdNumber(r.value),
    value_pico: r.value,
    account_id: r.account_id,
    transaction_id: String(r.transaction_id),
    created_at: new Date(r.created_at).toISOString(),
  };
}
export type RedemptionView = ReturnType<typeof redemptionView>;

const couponNotFound = () => notFound('No such coupon.', 'coupon_not_found', 'code');
const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';
const isForeignKeyViolation = (err: unknown) => (err as { code?: string })?.code === '23503';
const likePattern = (q: string) => `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** USD typed by an admin -> pico-USD, with precise errors (positive, at most 6 decimals, within the cap). */
function couponValue(usd: number, capUsd: number): bigint {
  if (!Number.isFinite(usd) || usd <= 0) throw badRequest('value_usd must be a positive number.', 'invalid_amount', 'value_usd');
  if (usd > capUsd) throw badRequest(`value_usd can be at most ${capUsd} USD (ADMIN_MAX_CREDIT_GRANT).`, 'coupon_value_too_large', 'value_usd');
  try {
    return usdToPico(usd, 'value_usd');
  } catch {
    throw badRequest('value_usd must have at most 6 decimals.', 'invalid_amount', 'value_usd');
  }
}

/**
 * The most times a coupon can ever be redeemed: `max_uses`, or for a coupon assigned to one user, its per-user
 * limit (the smaller of the two when both apply); null: unbounded, which the grant caps cannot allow.
 */
export function usesBound(c: { max_uses: number | null; per_user_limit: number; assigned_user_id: string | null }): number | null {
  const perUser = c.assigned_user_id !== null ? c.per_user_limit : null;
  if (c.max_uses === null) return perUser;
  return perUser === null ? c.max_uses : Math.min(c.max_uses, perUser);
}

const unbounded = () => badRequest('max_uses is required (a coupon not assigned to one user must have a bounded number of uses: its value x max_uses counts against ADMIN_DAILY_GRANT_LIMIT).', 'max_uses_required', 'max_uses');

export class CouponService {
  constructor(
    private readonly db: Db,
    private readonly ledger: Ledger,
    private readonly audit: AuditLog,
    /**
     * The grant caps: a coupon is a grant by other means. One redemption (the value) is capped like one grant
     * (ADMIN_MAX_CREDIT_GRANT); the most the coupon can ever hand out (value x uses bound) counts against the
     * creating admin's rolling 24-hour limit (ADMIN_DAILY_GRANT_LIMIT), and so does a later raise of max_uses.
     */
    private readonly limits: GrantLimits,
  ) {}

  private async lock(trx: Transaction<Database>, id: string): Promise<CouponRow> {
    const row = await trx.selectFrom('coupons').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
    if (!row) throw notFound(`No coupon "${id}".`, 'coupon_not_found', 'id');
    return row;
  }

  async get(id: string): Promise<CouponView> {
    const row = await this.db.selectFrom('coupons').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`No coupon "${id}".`, 'coupon_not_found', 'id');
    return couponView(row);
  }

  async create(input: CouponCreate, actor: AuditActor, meta: Meta): Promise<CouponView> {
    const code = input.code.trim().toUpperCase();
    if (!COUPON_CODE_RE.test(code)) throw badRequest('code must be 3-64 letters, digits, "-" or "_".', 'invalid_code', 'code');
    const value = couponValue(input.value_usd, this.limits.maxGrantUsd);
    const now = new Date();
    const from = input.valid_from ? new Date(input.valid_from) : null;
    const until = input.valid_until ? new Date(input.valid_until) : null;
    if (from && until && from >= until) throw badRequest('valid_from must be before valid_until.', 'invalid_range', 'valid_from');
    if (until && until <= now) throw badRequest('valid_until must be in the future.', 'invalid_range', 'valid_until');
    const assigned = input.assigned_user_id ?? null;
    const bound = usesBound({ max_uses: input.max_uses ?? null, per_user_limit: input.per_user_limit ?? 1, assigned_user_id: assigned });
    if (bound === null) throw unbounded();
    const committed = value * BigInt(bound);
    try {
      const row = await this.db.transaction().execute(async (trx) => {
        if (assigned) {
          const u = await trx.selectFrom('users').select('status').where('id', '=', assigned).executeTakeFirst();
          if (!u || u.status === 'deleted') throw notFound(`No user "${assigned}".`, 'user_not_found', 'assigned_user_id');
        }
        await takeDailyGrantCap(trx, actor.id ?? 'unknown', committed, this.limits);
        const created = await trx
          .insertInto('coupons')
          .values({
            id: newId('cpn'),
            code,
            value: value.toString(),
            type: input.type,
            max_uses: input.max_uses ?? null,
            per_user_limit: input.per_user_limit ?? 1,
            valid_from: from,
            valid_until: until,
            assigned_user_id: assigned,
            description: input.description ?? null,
            created_by: actor.id,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        const view = couponView(created, now);
        await this.audit.record({ actor, action: 'admin.coupon_create', targetType: 'coupon', targetId: created.id, changes: { ...view, created_at: undefined, updated_at: undefined, [GRANT_CAP_FIELD]: committed.toString() }, ...meta }, trx);
        return created;
      });
      return couponView(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict(`A coupon with the code "${code}" already exists.`, 'coupon_code_exists');
      if (isForeignKeyViolation(err)) throw notFound(`No user "${assigned}".`, 'user_not_found', 'assigned_user_id');
      throw err;
    }
  }

  async update(id: string, patch: CouponUpdate, actor: AuditActor, meta: Meta): Promise<CouponView> {
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.lock(trx, id);
      const set: Partial<{ description: string | null; max_uses: number | null; valid_until: Date | null; active: boolean }> = {};
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.active !== undefined) set.active = patch.active;
      if (patch.max_uses !== undefined) {
        if (patch.max_uses !== null && patch.max_uses < before.uses) {
          throw badRequest(`max_uses cannot be below the ${before.uses} uses already made.`, 'max_uses_below_uses', 'max_uses');
        }
        set.max_uses = patch.max_uses;
      }
      if (patch.valid_until !== undefined) {
        const until = patch.valid_until === null ? null : new Date(patch.valid_until);
        if (until && before.valid_from && until <= new Date(before.valid_from)) throw badRequest('valid_until must be after valid_from.', 'invalid_range', 'valid_until');
        set.valid_until = until;
      }
      // More uses can hand out more credit: the increase counts against this admin's daily grant cap.
      let committed = 0n;
      if (set.max_uses !== undefined) {
        const was = usesBound(before);
        const now = usesBound({ ...before, max_uses: set.max_uses });
        if (now === null) throw unbounded();
        if (was !== null && now > was) {
          committed = BigInt(before.value) * BigInt(now - was);
          await takeDailyGrantCap(trx, actor.id ?? 'unknown', committed, this.limits);
        }
      }
      const after = await trx
        .updateTable('coupons')
        .set({ ...set, updated_at: new Date() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const changes: Record<string, unknown> = diff(couponView(before), couponView(after));
      if (committed > 0n) changes[GRANT_CAP_FIELD] = committed.toString();
      await this.audit.record({ actor, action: 'admin.coupon_update', targetType: 'coupon', targetId: id, changes, ...meta }, trx);
      return after;
    });
    return couponView(row);
  }

  /** Deactivates (history and redemptions stay). Idempotent. */
  async deactivate(id: string, actor: AuditActor, meta: Meta): Promise<CouponView> {
    const row = await this.db.transaction().execute(async (trx) => {
      const before = await this.lock(trx, id);
      if (!before.active) return before;
      const after = await trx.updateTable('coupons').set({ active: false, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
      await this.audit.record({ actor, action: 'admin.coupon_deactivate', targetType: 'coupon', targetId: id, changes: { code: before.code, active: { from: true, to: false } }, ...meta }, trx);
      return after;
    });
    return couponView(row);
  }

  async list(q: CouponListQuery): Promise<{ data: CouponView[]; next_cursor: string | null; total: number }> {
    const now = new Date();
    let base = this.db.selectFrom('coupons');
    if (q.active !== undefined) base = base.where('active', '=', q.active === 'true');
    if (q.type) base = base.where('type', '=', q.type);
    if (q.assigned_user_id) base = base.where('assigned_user_id', '=', q.assigned_user_id);
    if (q.status) base = base.where(statusSql(now), '=', q.status);
    if (q.q) {
      const like = likePattern(q.q);
      base = base.where((eb) => eb.or([eb(sql<string>`lower(code)`, 'like', like), eb(sql<string>`lower(coalesce(description, ''))`, 'like', like), eb('id', '=', q.q!)]));
    }
    const total = Number((await base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const cursor = decodeCursor(q.cursor);
    let page = base.selectAll().select(cursorTs('created_at').as('cursor_ts'));
    if (cursor) page = page.where(sql<boolean>`(created_at, id) < (${cursor.createdAt}::timestamptz, ${cursor.id})`);
    const rows = await page.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
    const data = rows.slice(0, q.limit);
    const last = data[data.length - 1];
    return { data: data.map(({ cursor_ts: _, ...r }) => couponView(r, now)), next_cursor: rows.length > q.limit && last ? encodeCursor(last.cursor_ts, last.id) : null, total };
  }

  /** Counts by type and status, and what was redeemed, all computed in SQL. */
  async stats() {
    const now = new Date();
    const byTypeStatus = await this.db
      .selectFrom('coupons')
      .select(['type', statusSql(now).as('status'), sql<string>`count(*)`.as('n')])
      .groupBy([sql`1`, sql`2`])
      .orderBy(sql`1`)
      .orderBy(sql`2`)
      .execute();
    const redeemed = await this.db
      .selectFrom('coupon_redemptions as r')
      .innerJoin('coupons as c', 'c.id', 'r.coupon_id')
      .select(['c.type', sql<string>`count(*)`.as('n'), sql<string>`count(distinct r.user_id)`.as('users'), sql<string>`coalesce(sum(r.value), 0)`.as('value')])
      .groupBy('c.type')
      .execute();
    const overall = await this.db
      .selectFrom('coupon_redemptions')
      .select([sql<string>`count(*)`.as('n'), sql<string>`count(distinct user_id)`.as('users'), sql<string>`coalesce(sum(value), 0)`.as('value')])
      .executeTakeFirstOrThrow();
    const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
    const byType = zeros(COUPON_TYPES);
    const byStatus = zeros(COUPON_STATUSES);
    let total = 0;
    for (const r of byTypeStatus) {
      const n = Number(r.n);
      byType[r.type] += n;
      byStatus[r.status] += n;
      total += n;
    }
    return {
      total,
      by_type: byType,
      by_status: byStatus,
      by_type_status: byTypeStatus.map((r) => ({ type: r.type, status: r.status, count: Number(r.n) })),
      redemptions: Number(overall.n),
      unique_users: Number(overall.users),
      value_redeemed_usd: picoToUsdNumber(overall.value),
      value_redeemed_pico: overall.value,
      redeemed_by_type: COUPON_TYPES.map((type) => {
        const r = redeemed.find((x) => x.type === type);
        return { type, redemptions: Number(r?.n ?? 0), unique_users: Number(r?.users ?? 0), value_redeemed_usd: picoToUsdNumber(r?.value ?? '0') };
      }),
    };
  }

  /** One coupon's redemptions over time (UTC days), unique users, value redeemed, remaining uses. */
  async analytics(id: string) {
    const coupon = await this.db.selectFrom('coupons').selectAll().where('id', '=', id).executeTakeFirst();
    if (!coupon) throw notFound(`No coupon "${id}".`, 'coupon_not_found', 'id');
    const q = this.db.selectFrom('coupon_redemptions').where('coupon_id', '=', id);
    const totals = await q
      .select([
        sql<string>`count(*)`.as('n'),
        sql<string>`count(distinct user_id)`.as('users'),
        sql<string>`count(distinct account_id)`.as('accounts'),
        sql<string>`coalesce(sum(value), 0)`.as('value'),
        sql<Date | null>`min(created_at)`.as('first'),
        sql<Date | null>`max(created_at)`.as('last'),
      ])
      .executeTakeFirstOrThrow();
    const byDay = await q
      .select([
        sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'),
        sql<string>`count(*)`.as('n'),
        sql<string>`count(distinct user_id)`.as('users'),
        sql<string>`sum(value)`.as('value'),
      ])
      .groupBy(sql`1`)
      .orderBy(sql`1`)
      .execute();
    const view = couponView(coupon);
    return {
      coupon_id: id,
      code: coupon.code,
      status: view.status,
      uses: coupon.uses,
      max_uses: coupon.max_uses,
      remaining_uses: view.remaining_uses,
      redemptions: Number(totals.n),
      unique_users: Number(totals.users),
      accounts_credited: Number(totals.accounts),
      value_redeemed_usd: picoToUsdNumber(totals.value),
      value_redeemed_pico: totals.value,
      first_redeemed_at: totals.first ? new Date(totals.first).toISOString() : null,
      last_redeemed_at: totals.last ? new Date(totals.last).toISOString() : null,
      by_day: byDay.map((r) => ({ date: r.day, redemptions: Number(r.n), unique_users: Number(r.users), value_usd: picoToUsdNumber(r.value) })),
    };
  }

  /**
   * Redeems a code for `userId`, crediting `owner` (the user, or an org the caller manages: checked by the
   * caller). One transaction under the coupon's row lock: parallel redemptions are serialized, so the
   * per-user limit and max_uses hold exactly; any failure writes nothing.
   */
  async redeem(rawCode: string, userId: string, owner: Owner, actor: AuditActor, meta: Meta): Promise<RedemptionView & { balance_usd: number; balance_pico: string }> {
    const code = rawCode.trim().toUpperCase();
    if (!COUPON_CODE_RE.test(code)) throw couponNotFound();
    const result = await this.db.transaction().execute(async (trx) => {
      const c = await trx.selectFrom('coupons').selectAll().where('code', '=', code).forUpdate().executeTakeFirst();
      // A coupon assigned to someone else is indistinguishable from an unknown code.
      if (!c || (c.assigned_user_id !== null && c.assigned_user_id !== userId)) throw couponNotFound();
      const now = new Date();
      if (!c.active) throw badRequest('This coupon is no longer active.', 'coupon_inactive', 'code');
      if (c.valid_from && new Date(c.valid_from) > now) throw badRequest(`This coupon is valid from ${iso(c.valid_from)}.`, 'coupon_not_yet_valid', 'code');
      if (c.valid_until && new Date(c.valid_until) <= now) throw badRequest(`This coupon expired at ${iso(c.valid_until)}.`, 'coupon_expired', 'code');
      const mine = await trx
        .selectFrom('coupon_redemptions')
        .select(sql<string>`count(*)`.as('n'))
        .where('coupon_id', '=', c.id)
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      if (Number(mine.n) >= c.per_user_limit) {
        throw new AppError(409, 'conflict_error', c.per_user_limit === 1 ? 'You have already redeemed this coupon.' : `You have already redeemed this coupon ${c.per_user_limit} times, its limit per user.`, 'coupon_already_redeemed', 'code');
      }
      if (c.max_uses !== null && c.uses >= c.max_uses) throw new AppError(409, 'conflict_error', 'This coupon has been used up.', 'coupon_exhausted', 'code');

      const acct = await this.ledger.account(owner, trx);
      const redemptionId = newId('rdm');
      const tx = await this.ledger.post(trx, acct.id, {
        kind: 'coupon',
        amount: BigInt(c.value),
        actor,
        reason: `coupon ${c.code}`,
        referenceType: 'coupon',
        referenceId: c.id,
        metadata: { code: c.code, coupon_type: c.type, redemption_id: redemptionId, redeemed_by: userId },
      });
      const red = await trx
        .insertInto('coupon_redemptions')
        .values({ id: redemptionId, coupon_id: c.id, user_id: userId, account_id: acct.id, transaction_id: String(tx.id), value: c.value })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx.updateTable('coupons').set({ uses: sql`uses + 1`, updated_at: now }).where('id', '=', c.id).execute();
      await this.audit.record(
        { actor, action: 'coupon.redeem', targetType: 'coupon', targetId: c.id, changes: { code: c.code, value_usd: picoToUsdNumber(c.value), account_id: acct.id, transaction_id: String(tx.id), redemption_id: redemptionId }, ...meta },
        trx,
      );
      return { red: { ...red, code: c.code, type: c.type }, balance: tx.balance_after };
    });
    await this.ledger.changed(result.red.account_id);
    return { ...redemptionView(result.red), balance_usd: picoToUsdNumber(result.balance), balance_pico: result.balance };
  }

  /** What the user could redeem right now: public and assigned-to-them coupons, live, with uses left for them. */
  async available(userId: string, page: { limit: number; cursor?: string }) {
    const now = new Date();
    const base = this.db
      .selectFrom('coupons as c')
      .leftJoin(
        (eb) => eb.selectFrom('coupon_redemptions').select(['coupon_id', sql<string>`count(*)`.as('n')]).where('user_id', '=', userId).groupBy('coupon_id').as('mine'),
        (join) => join.onRef('mine.coupon_id', '=', 'c.id'),
      )
      .where('c.active', '=', true)
      .where((eb) => eb.or([eb('c.valid_from', 'is', null), eb('c.valid_from', '<=', now)]))
      .where((eb) => eb.or([eb('c.valid_until', 'is', null), eb('c.valid_until', '>', now)]))
      .where((eb) => eb.or([eb('c.max_uses', 'is', null), eb('c.uses', '<', eb.ref('c.max_uses'))]))
      .where((eb) => eb.or([eb('c.assigned_user_id', 'is', null), eb('c.assigned_user_id', '=', userId)]))
      .where(sql<boolean>`coalesce(mine.n, 0) < c.per_user_limit`);
    const total = Number((await base.select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
    const cursor = decodeCursor(page.cursor);
    let q = base.selectAll('c').select([sql<string>`coalesce(mine.n, 0)`.as('mine'), cursorTs('c.created_at').as('cursor_ts')]);
    if (cursor) q = q.where(sql<boolean>`(c.created_at, c.id) < (${cursor.createdAt}::timestamptz, ${cursor.id})`);
    const rows = await q.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc').limit(page.limit + 1).execute();
    const data = rows.slice(0, page.limit);
    const last = data[data.length - 1];
    return {
      data: data.map((c) => ({
        id: c.id,
        code: c.code,
        type: c.type,
        value_usd: picoToUsdNumber(c.value),
        description: c.description,
        valid_from: iso(c.valid_from),
        valid_until: iso(c.valid_until),
        assigned_to_you: c.assigned_user_id !== null,
        remaining_uses: c.max_uses === null ? null : Math.max(0, c.max_uses - c.uses),
        your_redemptions: Number(c.mine),
        your_remaining: c.per_user_limit - Number(c.mine),
      })),
      next_cursor: rows.length > page.limit && last ? encodeCursor(last.cursor_ts, last.id) : null,
      total,
    };
  }

  /** The user's redemptions, newest first, with true totals. */
  async history(userId: string, page: { limit: number; cursor?: string }) {
    const base = this.db.selectFrom('coupon_redemptions as r').innerJoin('coupons as c', 'c.id', 'r.coupon_id').where('r.user_id', '=', userId);
    const agg = await base.select([sql<string>`count(*)`.as('n'), sql<string>`coalesce(sum(r.value), 0)`.as('value')]).executeTakeFirstOrThrow();
    const cursor = decodeCursor(page.cursor);
    let q = base.selectAll('r').select(['c.code', 'c.type', cursorTs('r.created_at').as('cursor_ts')]);
    if (cursor) q = q.where(sql<boolean>`(r.created_at, r.id) < (${cursor.createdAt}::timestamptz, ${cursor.id})`);
    const rows = await q.orderBy('r.created_at', 'desc').orderBy('r.id', 'desc').limit(page.limit + 1).execute();
    const data = rows.slice(0, page.limit);
    const last = data[data.length - 1];
    return {
      data: data.map(({ cursor_ts: _, ...r }) => redemptionView(r)),
      next_cursor: rows.length > page.limit && last ? encodeCursor(last.cursor_ts, last.id) : null,
      total: Number(agg.n),
      total_value_usd: picoToUsdNumber(agg.value),
    };
  }
}
