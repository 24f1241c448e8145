/**
 * Readiness beyond "the database answers": every migration this build knows is applied. While another
 * instance (or `switchyard migrate`) is still migrating, or before it ran, the instance is not ready.
 */
import { sql } from 'kysely';
import type { Db } from '../../store/db.ts';
import { migrations } from '../../store/migrations/index.ts';

export async function pendingMigrations(db: Db): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
    const applied = new Set(rows.map((r) => r.name));
    return Object.keys(migrations).filter((m) => !applied.has(m));
  } catch {
    return Object.keys(migrations); // no migration table yet
  }
}
