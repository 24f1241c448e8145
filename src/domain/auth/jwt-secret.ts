/**
 * The JWT signing secret: JWT_SECRET when set; otherwise generated once and persisted — in the data
 * directory for the embedded database, or in the settings table for PostgreSQL, so a fleet shares it.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { newToken } from '../ids.ts';
import type { Db } from '../../store/db.ts';

export async function resolveJwtSecret(opts: { configured?: string; dataDir: string; embedded: boolean; db: Db }): Promise<{ secret: string; source: 'env' | 'file' | 'database' }> {
  if (opts.configured) return { secret: opts.configured, source: 'env' };
  if (opts.embedded) {
    const dir = resolve(opts.dataDir);
    const path = join(dir, 'jwt_secret');
    if (existsSync(path)) {
      const secret = readFileSync(path, 'utf8').trim();
      if (secret.length >= 32) return { secret, source: 'file' };
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secret = newToken(48);
    writeFileSync(path, secret + '\n', { mode: 0o600 });
    return { secret, source: 'file' };
  }
  // Insert-if-absent then read: concurrent first starts of several instances agree on one secret.
  await opts.db.insertInto('settings').values({ key: 'jwt_secret', value: newToken(48) }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await opts.db.selectFrom('settings').select('value').where('key', '=', 'jwt_secret').executeTakeFirstOrThrow();
  return { secret: row.value, source: 'database' };
}
