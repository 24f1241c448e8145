/**
 * Sign-in credentials by time: expired refresh and password-reset tokens are pruned by `expires_at`
 * (domain/auth/credential-pruning.ts), and the ended-sessions list is rebuilt at start-up from recent
 * revocations (`revoked_at`, partial: most rows are never revoked before they expire).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('refresh_tokens_expires_idx').on('refresh_tokens').column('expires_at').execute();
  await db.schema.createIndex('refresh_tokens_revoked_idx').on('refresh_tokens').column('revoked_at').where(sql.ref('revoked_at'), 'is not', null).execute();
  await db.schema.createIndex('password_resets_expires_idx').on('password_resets').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of ['password_resets_expires_idx', 'refresh_tokens_revoked_idx', 'refresh_tokens_expires_idx']) await db.schema.dropIndex(index).ifExists().execute();
}
