/**
 * Bulk insert as one `INSERT ... SELECT FROM jsonb_array_elements($1)`: the whole batch travels as a single
 * JSON parameter (one row per array, values in column order) and PostgreSQL casts each value to its column
 * type. JSON.stringify is native, where a typed array parameter per column costs pg's driver a JS escaping
 * pass over every value; the statement's text never changes, so it is prepared once (prepared.ts), and there is
 * no 65,535-parameter limit. Used by the write-behind queues on the request path (request logs, inference
 * charges).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.ts';
import { executePrepared } from './prepared.ts';

/** A column and its PostgreSQL type (`text`, `int8`, `numeric`, `jsonb`, ...). */
export type BulkColumn = readonly [name: string, type: string];

/**
 * Inserts `rows`: each row lists its values in the column order given to bulkInsert. Values must be
 * JSON-serializable: bigints as decimal strings, Dates become ISO strings, jsonb columns take JSON text, array
 * columns their text form (`{1,2,3}`).
 */
export type BulkInsert = (db: Kysely<Database> | Transaction<Database>, rows: readonly (readonly unknown[])[]) => Promise<void>;

/** JSON.stringify writes a lone surrogate (e.g. a string cut in the middle of an emoji) as a `\udxxx` escape. */
const SURROGATE_ESCAPE = /\\ud[89a-f]/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function toJson(rows: readonly (readonly unknown[])[]): string {
  const json = JSON.stringify(rows);
  if (!SURROGATE_ESCAPE.test(json)) return json;
  // jsonb rejects lone surrogates; replace them with U+FFFD, as UTF-8 encoding of the text would.
  return JSON.stringify(rows.map((row) => row.map((v) => (typeof v === 'string' ? v.replace(LONE_SURROGATE, '\ufffd') : v))));
}

/**
 * `onConflict`: an `ON CONFLICT ...` clause appended as is (an upsert). Rows are inserted in the order given,
 * which upserts rely on to lock rows in a consistent order.
 */
export function bulkInsert(table: string, columns: readonly BulkColumn[], onConflict = ''): BulkInsert {
  // Built once per table: the statement text never changes, only its one parameter.
  const target = sql.raw(`${table} (${columns.map(([name]) => `"${name}"`).join(', ')})`);
  const values = sql.raw(columns.map(([, type], i) => `(r->>${i})::${type}`).join(', '));
  const conflict = sql.raw(onConflict);
  return async (db, rows) => {
    if (!rows.length) return;
    for (const row of rows) if (row.length !== columns.length) throw new Error(`bulkInsert(${table}): a row of ${row.length} values for ${columns.length} columns`);
    await executePrepared(db, sql`insert into ${target} select ${values} from jsonb_array_elements(${toJson(rows)}::jsonb) as r ${conflict}`);
  };
}
