/**
 * When ADMIN_API_KEY is not set, a random bootstrap admin key is generated once and kept in the data
 * directory (mode 0600), so a fresh `npm start` is usable and the key survives restarts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const BOOTSTRAP_KEY_FILE = 'admin_api_key';

export function ensureBootstrapKey(dataDir: string): { key: string; path: string; created: boolean } {
  const dir = resolve(dataDir);
  const path = join(dir, BOOTSTRAP_KEY_FILE);
  if (existsSync(path)) {
    const key = readFileSync(path, 'utf8').trim();
    if (key.length >= 16) return { key, path, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = `sk-sy-admin-${randomBytes(24).toString('base64url')}`;
  writeFileSync(path, key + '\n', { mode: 0o600 });
  return { key, path, created: true };
}
