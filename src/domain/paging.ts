/**
 * Keyset (cursor) paging over (created_at, id), stable under inserts, with true totals alongside. Cursors carry
 * the timestamp to the microsecond as PostgreSQL stores it: a JS Date would drop digits and skip rows.
 */
import { sql, type RawBuilder } from 'kysely';
import { z } from 'zod';
import { badRequest } from '../errors.ts';

export const PageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

export interface Cursor {
  /** ISO timestamp with up to microseconds, UTC (`...Z`). */
  createdAt: string;
  id: string;
}

/** Select this (as `cursor_ts`) alongside the rows of a page, to build the next cursor from the last row. */
export const cursorTs = (column = 'created_at') => sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}

/** Decodes a cursor; anything PostgreSQL would not take back exactly is a 400, never a 500. */
export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  const bad = () => badRequest('Invalid cursor.', 'invalid_cursor', 'cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw bad();
  const [ts, id] = parsed;
  if (typeof ts !== 'string' || typeof id !== 'string' || id.length > 64) throw bad();
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,6})?Z$/.exec(ts);
  const d = m ? new Date(`${m[1]}Z`) : undefined;
  if (!m || !d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) !== m[1] || d.getUTCFullYear() < 1) throw bad();
  return { createdAt: ts, id };
}

/** `(created_at, id)` strictly after the cursor in the listing order. `bigint` ids must be digits. */
export function afterCursor(c: Cursor, opts: { id: 'text' | 'bigint'; order?: 'asc' | 'desc'; column?: string }): RawBuilder<boolean> {
  if (opts.id === 'bigint' && !/^\d{1,19}$/.test(c.id)) throw badRequest('Invalid cursor.', 'invalid_cursor', 'cursor');
  const cmp = sql.raw(opts.order === 'asc' ? '>' : '<');
  const id = opts.id === 'bigint' ? sql`${c.id}::bigint` : sql`${c.id}`;
  return sql<boolean>`(${sql.ref(opts.column ?? 'created_at')}, id) ${cmp} (${c.createdAt}::timestamptz, ${id})`;
}

export interface Page<T> {
  data: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
  /** Matching rows in total, not just this page. */
  total: number;
}
