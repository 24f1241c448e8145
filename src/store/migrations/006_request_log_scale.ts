/**
 * Request log at scale:
 * - `request_logs (org_id, created_at)`, as `(user_id, created_at)` already serves a user's usage: an org's
 *   `/api/usage` and `/api/usage/summary` (`?org_id=`) read an index range instead of scanning the table.
 * - `cost_pico` becomes numeric(38,0) in the request log and the rollups (the ledger's type): int8 holds at most
 *   ~9.2e18 pico-USD (~$9.2M), which one busy day's rollup row can exceed, and an overflow failed the whole
 *   log batch. The type change rewrites these tables once.
 */
import { sql, type Kysely } from 'kysely';

const COST_TABLES = ['request_logs', 'request_rollups_hourly', 'request_rollups_daily', 'request_rollups_model_hourly', 'request_rollups_model_daily'];

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('request_logs_org_created_idx').on('request_logs').columns(['org_id', 'created_at']).execute();
  for (const t of COST_TABLES) {
    await sql`alter table ${sql.table(t)} alter column cost_pico type numeric(38, 0)`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of COST_TABLES) {
    await sql`alter table ${sql.table(t)} alter column cost_pico type int8`.execute(db);
  }
  await db.schema.dropIndex('request_logs_org_created_idx').execute();
}
