/**
 * Bulk insert of request-log rows as one statement with one JSON parameter (see bulk-insert.ts): this runs
 * for every request, in batches.
 */
import type { Insertable, Kysely, Transaction } from 'kysely';
import type { Database, RequestLogsTable } from './schema.ts';
import { bulkInsert } from './bulk-insert.ts';

type Row = Insertable<RequestLogsTable>;

/** Column, PostgreSQL type, and the value used when a record leaves it out (the column default). */
const COLUMNS: [keyof Row & string, string, unknown][] = [
  ['request_id', 'text', null],
  ['created_at', 'timestamptz', null],
  ['endpoint', 'text', null],
  ['requested_model', 'text', null],
  ['model', 'text', null],
  ['provider', 'text', null],
  ['upstream_model', 'text', null],
  ['stream', 'bool', false],
  ['status', 'int4', null],
  ['error_type', 'text', null],
  ['error_code', 'text', null],
  ['error_message', 'text', null],
  ['finish_reason', 'text', null],
  ['input_tokens', 'int4', 0],
  ['cache_read_tokens', 'int4', 0],
  ['cache_write_tokens', 'int4', 0],
  ['output_tokens', 'int4', 0],
  ['reasoning_tokens', 'int4', 0],
  ['usage_estimated', 'bool', false],
  ['cost_pico', 'numeric', 0],
  ['latency_ms', 'int4', null],
  ['ttft_ms', 'int4', null],
  ['attempts', 'int4', 1],
  ['api_key_id', 'text', null],
  ['user_id', 'text', null],
  ['client_aborted', 'bool', false],
  ['org_id', 'text', null],
];

const insert = bulkInsert('request_logs', COLUMNS.map(([name, type]) => [name, type] as const));

export async function insertRequestLogs(db: Kysely<Database> | Transaction<Database>, rows: Row[]): Promise<void> {
  if (!rows.length) return;
  const now = new Date();
  const values = rows.map((r) =>
    COLUMNS.map(([name, , fallback]) => {
      const v = r[name] as unknown;
      if (v === undefined || v === null) return name === 'created_at' ? now : fallback;
      return typeof v === 'bigint' ? v.toString() : v;
    }),
  );
  await insert(db, values);
}
