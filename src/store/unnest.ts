/**
 * Bulk insert as one `INSERT ... SELECT * FROM unnest($1::type[], $2::type[], ...)`: one typed array
 * parameter per column instead of one parameter per value. Markedly cheaper to build (no per-row query
 * compilation), send and plan than a multi-row VALUES list, and free of the 65,535-parameter limit. Used by
 * the write-behind queues on the request path (request logs, inference charges).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

/** A column and its PostgreSQL element type (`text`, `int8`, `numeric`, `jsonb`, ...). */
export type UnnestColumn = readonly [name: string, type: string];

/** A prepared statement shape: the column list and casts are built once, per table. */
export interface UnnestInsert {
  /** Inserts one row per array index; `arrays[i]` holds column i's values (same length for every column). */
  (db: Kysely<Database> | Transaction<Database>, arrays: readonly unknown[][]): Promise<void>;
}

export function unnestInsert(table: string, columns: readonly UnnestColumn[]): UnnestInsert {
  const target = sql.raw(`${table} (${columns.map(([name]) => `"${name}"`).join(', ')})`);
  const casts = columns.map(([, type]) => sql.raw(`::${type}[]`));
  return async (db, arrays) => {
    if (arrays.length !== columns.length) throw new Error(`unnestInsert(${table}): ${arrays.length} arrays for ${columns.length} columns`);
    if (!arrays[0]?.length) return;
    const sources = sql.join(arrays.map((a, i) => sql`${a}${casts[i]}`));
    await sql`insert into ${target} select * from unnest(${sources})`.execute(db);
  };
}
