/**
 * Who is calling. Until user accounts and API keys exist, the only credential is the operator's bootstrap
 * `ADMIN_API_KEY`; it is compared in constant time and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type Principal = { kind: 'admin_key'; id: 'bootstrap' };

export interface Authenticator {
  /** Resolves a presented secret; undefined when it is not valid. Memory only: no I/O. */
  authenticate(secret: string): Principal | undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function createAuthenticator(adminApiKey: string | undefined): Authenticator {
  const adminDigest = adminApiKey ? digest(adminApiKey) : undefined;
  const admin: Principal = { kind: 'admin_key', id: 'bootstrap' };
  return {
    authenticate(secret) {
      if (!adminDigest || !secret) return undefined;
      return timingSafeEqual(digest(secret), adminDigest) ? admin : undefined;
    },
  };
}

/** The secret from `Authorization: Bearer <key>` or `x-api-key`. */
export function presentedSecret(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const key = headers['x-api-key'];
  return typeof key === 'string' && key.trim() ? key.trim() : undefined;
}
