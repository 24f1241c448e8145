/**
 * Reading the ledger: filtered transaction lists with cursor paging and true totals (count and sums over
 * every matching row, not just the page), and summaries by kind and day computed in SQL.
 */
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../../store/db.ts';
import type { CreditKind } from '../../store/schema.ts';
import { badRequest } from '../../errors.ts';
import { afterCursor, cursorTs, decodeCursor, encodeCursor } from '../paging.ts';
import { transactionView, type TransactionView } from './ledger.ts';
import { picoToUsdNumber, usdToPico } from './units.ts';

export const CREDIT_KINDS = ['grant', 'purchase', 'charge', 'refund', 'coupon', 'adjustment', 'trial', 'subscription_allowance'] as const;

export const TransactionFilterSchema = z.object({
  kind: z.enum(CREDIT_KINDS).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  min_amount_usd: z.coerce.number().nonnegative().optional().describe('Smallest absolute amount'),
  max_amount_usd: z.coerce.number().nonnegative().optional().describe('Largest absolute amount'),
  direction: z.enum(['credit', 'debit']).optional(),
  sort: z.enum(['created_at', 'amount']).default('created_at'),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});
export type TransactionFilter = z.infer<typeof TransactionFilterSchema>;

export interface TransactionPage {
  data: TransactionView[];
  next_cursor: string | null;
  total: number;
  totals: { credits_usd: number; debits_usd: number; net_usd: number };
}

/** Cursor for amount sorting: [amount, id]. */
const encodeAmountCursor = (amount: string, id: string) => Buffer.from(JSON.stringify(['a', amount, id])).toString('base64url');
function decodeAmountCursor(cursor: string): { amount: string; id: string } {
  try {
    const [tag, amount, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (tag !== 'a' || !/^-?\d+$/.test(amount) || !/^\d+$/.test(id)) throw new Error('bad');
    return { amount, id };
  } catch {
    throw badRequest('Invalid cursor.', 'invalid_cursor', 'cursor');
  }
}

export async function listTransactions(db: Db, accountIds: string[] | 'all', f: TransactionFilter): Promise<TransactionPage> {
  if (f.from && f.to && Date.parse(f.from) >= Date.parse(f.to)) throw badRequest('from must be before to.', 'invalid_range', 'from');
  let q = db.selectFrom('credit_transactions');
  if (accountIds !== 'all') {
    if (!accountIds.length) return { data: [], next_cursor: null, total: 0, totals: { credits_usd: 0, debits_usd: 0, net_usd: 0 } };
    q = q.where('account_id', 'in', accountIds);
  }
  if (f.kind) q = q.where('kind', '=', f.kind as CreditKind);
  if (f.from) q = q.where('created_at', '>=', new Date(f.from));
  if (f.to) q = q.where('created_at', '<', new Date(f.to));
  if (f.direction === 'credit') q = q.where('amount', '>', '0');
  if (f.direction === 'debit') q = q.where('amount', '<', '0');
  if (f.min_amount_usd !== undefined) q = q.where(sql`abs(amount)`, '>=', usdToPico(f.min_amount_usd, 'min_amount_usd').toString());
  if (f.max_amount_usd !== undefined) q = q.where(sql`abs(amount)`, '<=', usdToPico(f.max_amount_usd, 'max_amount_usd').toString());

  const agg = await q
    .select([
      sql<string>`count(*)`.as('n'),
      sql<string>`coalesce(sum(amount) filter (where amount > 0), 0)`.as('credits'),
      sql<string>`coalesce(-sum(amount) filter (where amount < 0), 0)`.as('debits'),
    ])
    .executeTakeFirstOrThrow();

  const desc = f.order === 'desc';
  const cmp = desc ? '<' : '>';
  let page = q.selectAll().select(cursorTs().as('cursor_ts'));
  if (f.cursor) {
    if (f.sort === 'amount') {
      const c = decodeAmountCursor(f.cursor);
      page = page.where(sql<boolean>`(amount, id) ${sql.raw(cmp)} (${c.amount}::numeric, ${c.id}::bigint)`);
    } else {
      page = page.where(afterCursor(decodeCursor(f.cursor)!, { id: 'bigint', order: f.order }));
    }
  }
  const dir = desc ? 'desc' : 'asc';
  const rows = await page.orderBy(f.sort, dir).orderBy('id', dir).limit(f.limit + 1).execute();
  const data = rows.slice(0, f.limit);
  const last = data[data.length - 1];
  const next = rows.length > f.limit && last ? (f.sort === 'amount' ? encodeAmountCursor(last.amount, String(last.id)) : encodeCursor(last.cursor_ts, String(last.id))) : null;
  const credits = BigInt(agg.credits);
  const debits = BigInt(agg.debits);
  return {
    data: data.map(({ cursor_ts: _, ...r }) => transactionView(r)),
    next_cursor: next,
    total: Number(agg.n),
    totals: { credits_usd: picoToUsdNumber(credits), debits_usd: picoToUsdNumber(debits), net_usd: picoToUsdNumber(credits - debits) },
  };
}

export const SummaryQuerySchema = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});

/** Per kind, and per day and kind, over a bounded range (default: the last 30 days). */
export async function summarize(db: Db, accountIds: string[] | 'all', range: { from?: string; to?: string }) {
  const to = range.to ? new Date(range.to) : new Date();
  const from = range.from ? new Date(range.from) : new Date(to.getTime() - 30 * 86_400_000);
  if (from >= to) throw badRequest('from must be before to.', 'invalid_range', 'from');
  if (to.getTime() - from.getTime() > 366 * 86_400_000) throw badRequest('The range can span at most 366 days.', 'range_too_long', 'from');
  let q = db.selectFrom('credit_transactions').where('created_at', '>=', from).where('created_at', '<', to);
  if (accountIds !== 'all') {
    if (!accountIds.length) return { from: from.toISOString(), to: to.toISOString(), by_kind: [], by_day: [] };
    q = q.where('account_id', 'in', accountIds);
  }
  const byKind = await q.select(['kind', sql<string>`count(*)`.as('n'), sql<string>`sum(amount)`.as('total')]).groupBy('kind').orderBy('kind').execute();
  const byDay = await q
    .select([sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'), 'kind', sql<string>`count(*)`.as('n'), sql<string>`sum(amount)`.as('total')])
    .groupBy([sql`1`, 'kind'])
    .orderBy(sql`1`)
    .orderBy('kind')
    .execute();
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    by_kind: byKind.map((r) => ({ kind: r.kind, count: Number(r.n), total_usd: picoToUsdNumber(r.total) })),
    by_day: byDay.map((r) => ({ date: r.day, kind: r.kind, count: Number(r.n), total_usd: picoToUsdNumber(r.total) })),
  };
}
