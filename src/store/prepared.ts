/**
 * Named prepared statements for the write path's fixed statements (request-log batches, rollups, charges).
 *
 * On the embedded database every statement's parse and plan runs in WebAssembly, and for these batch
 * statements that was most of their fixed cost: about 0.9 ms for a one-row rollup upsert, 0.4 ms once
 * prepared (bench/RESULTS.md). A statement run through `executePrepared` is registered by its text; on the
 * embedded database's connection, `pg` then sends it under a fixed name, so PostgreSQL parses and plans it
 * once per session. On PostgreSQL the statements go unnamed as before: planning is cheap there, and a
 * transaction-pooling proxy (PgBouncer) in front of it would not keep a session's prepared statements.
 */
import type { CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import type pg from 'pg';
import type { Database } from './schema.ts';

/** Only fixed texts belong here; the cap keeps a statement whose text varies from growing the session's plans. */
const MAX_PREPARED = 64;
const names = new Map<string, string>();

type Executor = Kysely<Database> | Transaction<Database>;
/** A query builder or a raw `sql` template: both compile (the latter with the executor). */
interface Compiles<R> {
  compile(db: Executor): CompiledQuery<R>;
}

/** Compiles and runs `query`, registered for preparation (see above). Its text must not vary between calls. */
export function executePrepared<R>(db: Executor, query: Compiles<R>): Promise<QueryResult<R>> {
  const compiled = query.compile(db);
  if (!names.has(compiled.sql) && names.size < MAX_PREPARED) names.set(compiled.sql, `sy_${names.size + 1}`);
  return db.executeQuery(compiled);
}

/** Makes `client` send registered statements as named ones (installed on the embedded database's pool). */
export function namePreparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  // pg's query() is overloaded; kysely calls it as (text, values).
  (client as { query: unknown }).query = (text: unknown, values?: unknown, callback?: unknown) => {
    const name = typeof text === 'string' ? names.get(text) : undefined;
    return name ? query({ name, text, values }, callback) : query(text, values, callback);
  };
}
