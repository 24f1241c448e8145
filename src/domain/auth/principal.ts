/**
 * Who is calling, and the authenticator that decides it. `/v1` accepts API keys (and the operator's
 * ADMIN_API_KEY): a warm key is checked entirely in memory. `/api` also accepts session access tokens.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { EndedSessions } from './ended-sessions.ts';
import { AppError, forbidden, unauthorized } from '../../errors.ts';
import type { UserRecord } from '../users/records.ts';
import type { UserService } from '../users/users.ts';
import type { KeyRecord } from '../keys/records.ts';
import { keyFromRow } from '../keys/records.ts';
import type { KeyService } from '../keys/keys.ts';
import { KeyCache } from '../keys/key-cache.ts';
import type { KeyUsageTracker } from '../keys/usage-tracker.ts';
import { ipAllowed, matchesAny, refererHost } from '../keys/access.ts';
import type { CacheBus } from '../cache-bus.ts';
import { looksLikeJwt, type AccessTokens } from './jwt.ts';

export type Principal =
  | { kind: 'admin_key'; id: 'bootstrap' }
  | { kind: 'user'; user: UserRecord }
  | { kind: 'api_key'; key: KeyRecord; user: UserRecord }
  | { kind: 'anonymous'; ip: string };

export interface CallerInfo {
  ip: string;
  /** Origin or Referer header. */
  referer?: string;
}

export const isAdmin = (p: Principal | undefined): boolean =>
  p?.kind === 'admin_key' || ((p?.kind === 'user' || p?.kind === 'api_key') && p.user.role === 'admin');

/** The user behind a principal, if any. */
export const principalUser = (p: Principal | undefined): UserRecord | undefined => (p?.kind === 'user' || p?.kind === 'api_key' ? p.user : undefined);

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

const ADMIN: Principal = { kind: 'admin_key', id: 'bootstrap' };
const invalidKey = () => unauthorized('Invalid API key.', 'invalid_api_key');

export class Authenticator {
  private readonly adminDigest: Buffer | undefined;
  readonly keyCache = new KeyCache();

  constructor(
    adminApiKey: string | undefined,
    private readonly keys: KeyService,
    private readonly users: UserService,
    private readonly tokens: AccessTokens,
    private readonly usage: KeyUsageTracker,
    bus: CacheBus,
    private readonly endedSessions?: EndedSessions,
  ) {
    this.adminDigest = adminApiKey ? createHash('sha256').update(adminApiKey).digest() : undefined;
    bus.on((msg) => {
      if (msg.type === 'key') this.keyCache.dropKey(msg.id);
      else if (msg.type === 'user') this.keyCache.dropUser(msg.id);
      else if (msg.type === 'org') this.keyCache.dropOrg(msg.id);
      else if (msg.type === 'resync') this.keyCache.clear();
    });
  }

  /**
   * API-key authentication. Returns synchronously on a warm cache (no I/O); a miss costs one indexed
   * query for the key (and one for its user if that is not cached either).
   */
  authenticateKey(secret: string, caller: CallerInfo): Principal | Promise<Principal> {
    const digest = createHash('sha256').update(secret).digest();
    if (this.adminDigest && timingSafeEqual(digest, this.adminDigest)) return ADMIN;
    const hash = digest.toString('hex');
    const now = Date.now();
    const key = this.keyCache.get(hash, now);
    if (key) {
      const user = this.users.cached(key.userId);
      if (user) return this.admitKey(key, user, caller, now);
      return this.users.load(key.userId).then((u) => {
        if (!u) throw invalidKey();
        return this.admitKey(key, u, caller, Date.now());
      });
    }
    const rejected = this.keyCache.rejection(hash, now);
    if (rejected) throw rejected === 'revoked' ? unauthorized('This API key has been revoked.', 'key_revoked') : invalidKey();
    return this.loadKey(hash, caller);
  }

  private async loadKey(hash: string, caller: CallerInfo): Promise<Principal> {
    const epoch = this.keyCache.epoch;
    const row = await this.keys.findByHash(hash);
    const now = Date.now();
    if (!row) {
      this.keyCache.reject(hash, 'invalid', now);
      throw invalidKey();
    }
    if (row.revoked_at) {
      this.keyCache.reject(hash, 'revoked', now);
      throw unauthorized('This API key has been revoked.', 'key_revoked');
    }
    const key = keyFromRow(row);
    const user = await this.users.load(key.userId);
    if (!user) throw invalidKey();
    if (!this.keyCache.set(hash, key, now, epoch)) {
      // Invalidated while we read: the row may predate a revocation. Read again rather than trust it.
      return this.loadKey(hash, caller);
    }
    return this.admitKey(key, user, caller, now);
  }

  private admitKey(key: KeyRecord, user: UserRecord, caller: CallerInfo, now: number): Principal {
    if (user.status === 'deleted') throw invalidKey();
    if (user.status === 'suspended') throw forbidden('This account is suspended.', 'account_suspended');
    if (key.expiresAt !== null && key.expiresAt <= now) throw unauthorized('This API key has expired.', 'key_expired');
    if (key.allowedIps && !ipAllowed(key.allowedIps, caller.ip)) throw forbidden('This API key may not be used from this IP address.', 'ip_not_allowed');
    if (key.allowedReferrers) {
      const host = refererHost(caller.referer);
      if (!host || !matchesAny(key.allowedReferrers, host)) throw forbidden('This API key may not be used from this origin.', 'referrer_not_allowed');
    }
    this.usage.touch(key.id, now);
    return { kind: 'api_key', key, user };
  }

  /** `/api` authentication: a session access token (JWT) or an API key with the `account` scope. */
  async authenticateSession(token: string, caller: CallerInfo): Promise<Principal> {
    if (!looksLikeJwt(token)) {
      const p = await this.authenticateKey(token, caller);
      if (p.kind === 'api_key' && !p.key.scopes.has('account')) throw forbidden('This API key lacks the "account" scope needed for /api routes.', 'scope_required');
      return p;
    }
    const { userId, issuedAt, family } = await this.tokens.verify(token);
    if (this.endedSessions?.isEnded(family)) throw unauthorized('This session has ended; sign in again.', 'session_revoked');
    const user = await this.users.load(userId);
    if (!user || user.status === 'deleted') throw unauthorized('Invalid access token.', 'invalid_token');
    if (user.status === 'suspended') throw forbidden('This account is suspended.', 'account_suspended');
    if (user.sessionsValidAfter && issuedAt < user.sessionsValidAfter.getTime()) throw unauthorized('This session has ended; sign in again.', 'session_revoked');
    return { kind: 'user', user };
  }
}

export function requireScope(p: Principal, scope: 'inference' | 'account'): void {
  if (p.kind === 'api_key' && !p.key.scopes.has(scope)) throw new AppError(403, 'permission_error', `This API key lacks the "${scope}" scope.`, 'scope_required');
}
