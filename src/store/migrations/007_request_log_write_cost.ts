/**
 * Request log write cost: every request inserts a row, and each index on request_logs is one more btree
 * insert (and its WAL) per row. `(model, created_at)` serves no query: per-model analytics read the model
 * rollups, and a user's or org's usage filtered by model is read through `(user_id | org_id, created_at)`.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('request_logs_model_created_idx').ifExists().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('request_logs_model_created_idx').on('request_logs').columns(['model', 'created_at']).execute();
}
