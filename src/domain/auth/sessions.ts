/**
 * Account sessions: register, login, refresh-token rotation with reuse detection, logout, password change
 * and reset. Refresh and reset tokens are opaque, stored only as SHA-256 hashes, and single use.
 */
import type { Transaction } from 'kysely';
import type { EndedSessions } from './ended-sessions.ts';
import type { Config } from '../../config/schema.ts';
import type { Db } from '../../store/db.ts';
import type { Database } from '../../store/schema.ts';
import { AppError, unauthorized } from '../../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { UserService } from '../users/users.ts';
import type { UserRecord } from '../users/records.ts';
import { userView } from '../users/records.ts';
import type { AccessTokens } from './jwt.ts';
import { lockoutError, type LoginGuard } from './login-guard.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

export interface Caller {
  ip: string;
  userAgent?: string;
  requestId?: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

const BAD_CREDENTIALS = 'Invalid email or password.';

/**
 * Runs inside the registration transaction (the trial grant), so a failure leaves no account behind; returns
 * what to do once it committed (e.g. tell the credit caches about the new balance).
 */
export type OnRegistered = (user: UserRecord, trx: Transaction<Database>) => Promise<(() => Promise<void>) | void>;

export class SessionService {
  constructor(
    private readonly db: Db,
    private readonly users: UserService,
    private readonly tokens: AccessTokens,
    private readonly guard: LoginGuard,
    private readonly audit: AuditLog,
    private readonly mailer: Mailer,
    private readonly config: Config,
    /** Gives a new account its trial credit (set by the app when credits are configured). */
    private readonly onRegistered?: OnRegistered,
    /** Ends the access tokens of a logged-out or revoked session at once (not at their expiry). */
    private readonly endedSessions?: EndedSessions,
  ) {}

  private async issue(user: UserRecord, caller: Caller, family = newId('fam')): Promise<TokenPair> {
    const refresh = newToken(32);
    await this.db
      .insertInto('refresh_tokens')
      .values({
        id: newId('rt'),
        user_id: user.id,
        family_id: family,
        token_hash: sha256Hex(refresh),
        expires_at: new Date(Date.now() + this.config.refreshTokenTtlDays * 86_400_000),
        ip: caller.ip,
        user_agent: caller.userAgent?.slice(0, 300) ?? null,
      })
      .execute();
    return { access_token: await this.tokens.sign(user.id, family), refresh_token: refresh, token_type: 'Bearer', expires_in: this.tokens.ttlSeconds };
  }

  async register(input: { email: string; password: string; name?: string }, caller: Caller) {
    if (!this.config.allowRegistration) throw new AppError(403, 'permission_error', 'Registration is closed on this server.', 'registration_closed');
    await this.guard.admitRegistration(caller.ip);
    const trialDays = this.config.trial.days;
    // Hashed before the transaction opens: argon2 must not hold a pooled connection (the embedded pool has one).
    const passwordHash = await hashPassword(input.password);
    // Account, audit entry and trial grant commit together: a failed grant leaves no half-made account that
    // a retry would then find taken (409).
    const { user, committed } = await this.db.transaction().execute(async (trx) => {
      const user = await this.users.create(
        { email: input.email, passwordHash, name: input.name, trialExpiresAt: trialDays > 0 ? new Date(Date.now() + trialDays * 86_400_000) : null },
        trx,
      );
      await this.audit.record({ actor: { type: 'user', id: user.id }, action: 'auth.register', targetType: 'user', targetId: user.id, ip: caller.ip, requestId: caller.requestId }, trx);
      return { user, committed: await this.onRegistered?.(user, trx) };
    });
    if (committed) await committed();
    return { user: userView(user), ...(await this.issue(user, caller)) };
  }

  async login(input: { email: string; password: string }, caller: Caller) {
    // The attempt takes its rate-limit points before the (slow) password check; success gives them back.
    const locked = await this.guard.begin(caller.ip, input.email);
    if (locked) {
      if (locked.started) {
        await this.audit.record({ actor: { type: 'anonymous', id: null }, action: 'auth.login_locked', targetType: locked.scope === 'ip' ? 'ip' : 'email', targetId: locked.scope === 'ip' ? caller.ip : input.email, changes: { scope: locked.scope, email: input.email, retry_after: locked.retryAfter }, ip: caller.ip, requestId: caller.requestId });
      }
      throw lockoutError(locked);
    }
    const found = await this.users.findForLogin(input.email);
    const ok = await verifyPassword(found?.passwordHash, input.password);
    if (!found || !ok) {
      await this.audit.record({ actor: { type: 'anonymous', id: null }, action: 'auth.login_failed', targetType: 'user', targetId: found?.user.id, changes: { email: input.email }, ip: caller.ip, requestId: caller.requestId });
      throw unauthorized(BAD_CREDENTIALS, 'invalid_credentials');
    }
    // The password was right, so this was no guess: the points go back either way.
    await this.guard.succeeded(caller.ip, input.email);
    if (found.user.status === 'suspended') {
      await this.audit.record({ actor: { type: 'user', id: found.user.id }, action: 'auth.login_suspended', targetType: 'user', targetId: found.user.id, ip: caller.ip, requestId: caller.requestId });
      throw new AppError(403, 'permission_error', 'This account is suspended.', 'account_suspended');
    }
    this.users.remember(found.user);
    await this.audit.record({ actor: { type: 'user', id: found.user.id }, action: 'auth.login', targetType: 'user', targetId: found.user.id, ip: caller.ip, requestId: caller.requestId });
    return { user: userView(found.user), ...(await this.issue(found.user, caller)) };
  }

  /**
   * Rotates a refresh token. A token can be used once; presenting one that was already used means it was
   * stolen (or replayed), so the whole family is revoked and every session of that chain ends.
   */
  async refresh(refreshToken: string, caller: Caller) {
    await this.guard.admitRefresh(caller.ip);
    const hash = sha256Hex(refreshToken);
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    if (!row) throw unauthorized('Invalid refresh token.', 'invalid_refresh_token');
    if (row.used_at || row.revoked_at) {
      if (row.used_at) await this.revokeFamily(row.family_id, row.user_id, caller);
      throw unauthorized('This refresh token is no longer valid; sign in again.', row.used_at ? 'refresh_token_reused' : 'refresh_token_revoked');
    }
    if (new Date(row.expires_at).getTime() <= Date.now()) throw unauthorized('The refresh token has expired; sign in again.', 'refresh_token_expired');
    // Claim it atomically: of two concurrent refreshes with the same token, exactly one wins.
    const claimed = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: new Date() })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!claimed) {
      await this.revokeFamily(row.family_id, row.user_id, caller);
      throw unauthorized('This refresh token is no longer valid; sign in again.', 'refresh_token_reused');
    }
    const user = await this.users.load(row.user_id);
    if (!user || user.status !== 'active') throw unauthorized('This account cannot sign in.', 'account_inactive');
    return { user: userView(user), ...(await this.issue(user, caller, row.family_id)) };
  }

  private async revokeFamily(familyId: string, userId: string, caller: Caller) {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
    this.endedSessions?.end(familyId);
    await this.audit.record({ actor: { type: 'system', id: null }, action: 'auth.refresh_token_reuse', targetType: 'user', targetId: userId, changes: { family: familyId }, ip: caller.ip, requestId: caller.requestId });
  }

  /** Ends the session chain the token belongs to. Unknown tokens are ignored (logout is idempotent). */
  async logout(refreshToken: string, caller: Caller): Promise<void> {
    const row = await this.db.selectFrom('refresh_tokens').select(['family_id', 'user_id']).where('token_hash', '=', sha256Hex(refreshToken)).executeTakeFirst();
    if (!row) return;
    const ended = await this.db.updateTable('refresh_tokens').set({ revoked_at: new Date() }).where('family_id', '=', row.family_id).where('revoked_at', 'is', null).executeTakeFirst();
    this.endedSessions?.end(row.family_id);
    if (Number(ended.numUpdatedRows) > 0) {
      await this.audit.record({ actor: { type: 'user', id: row.user_id }, action: 'auth.logout', targetType: 'user', targetId: row.user_id, changes: { family: row.family_id }, ip: caller.ip, requestId: caller.requestId });
    }
  }

  async changePassword(user: UserRecord, current: string, next: string, caller: Caller) {
    const found = await this.users.findForLogin(user.email);
    if (!found || !(await verifyPassword(found.passwordHash, current))) throw unauthorized('The current password is wrong.', 'invalid_credentials');
    await this.users.setPassword(user.id, next);
    await this.audit.record({ actor: { type: 'user', id: user.id }, action: 'auth.password_changed', targetType: 'user', targetId: user.id, ip: caller.ip, requestId: caller.requestId });
    return { user: userView(user), ...(await this.issue(user, caller)) };
  }

  /** Always succeeds from the caller's view, so it cannot be used to find out which emails have accounts. */
  async requestReset(email: string, caller: Caller): Promise<void> {
    if (!(await this.guard.allowResetRequest(caller.ip, email))) return;
    const found = await this.users.findForLogin(email);
    if (!found || found.user.status !== 'active') return;
    const token = newToken(32);
    const expires = new Date(Date.now() + this.config.passwordResetTtlMinutes * 60_000);
    await this.db.insertInto('password_resets').values({ id: newId('pwr'), user_id: found.user.id, token_hash: sha256Hex(token), expires_at: expires }).execute();
    await this.audit.record({ actor: { type: 'anonymous', id: null }, action: 'auth.password_reset_requested', targetType: 'user', targetId: found.user.id, ip: caller.ip, requestId: caller.requestId });
    // The token rides in the fragment: browsers never send it to a server, so no proxy log or Referer carries it.
    const link = this.config.publicUrl ? `${this.config.publicUrl.replace(/\/$/, '')}/reset-password#token=${token}` : undefined;
    // Sent in the background: neither a slow nor a failing mail server may tell the caller the account exists
    // (the mailer logs failures).
    void this.mailer
      .send({
        to: found.user.email,
        subject: 'Reset your Switchyard password',
        text:
          `Someone asked to reset the password of this account. If it was you, ${link ? `open ${link}` : 'use this token'} ` +
          `within ${this.config.passwordResetTtlMinutes} minutes:\n\n${token}\n\nIf it was not you, ignore this message.`,
      })
      .catch(() => {});
  }

  /** Sets the new password once, before expiry, and ends every existing session. */
  async confirmReset(token: string, password: string, caller: Caller): Promise<void> {
    const hash = sha256Hex(token);
    const userId = await this.db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('password_resets')
        .set({ used_at: new Date() })
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', new Date())
        .returning('user_id')
        .executeTakeFirst();
      if (!claimed) throw new AppError(400, 'invalid_request_error', 'This reset token is invalid, used or expired.', 'invalid_reset_token', 'token');
      const user = await trx.selectFrom('users').select(['id', 'status']).where('id', '=', claimed.user_id).executeTakeFirst();
      if (!user || user.status !== 'active') throw new AppError(400, 'invalid_request_error', 'This reset token is invalid, used or expired.', 'invalid_reset_token', 'token');
      await this.users.setPassword(user.id, password, trx);
      // Other outstanding reset tokens die with this one.
      await trx.updateTable('password_resets').set({ used_at: new Date() }).where('user_id', '=', user.id).where('used_at', 'is', null).execute();
      return user.id;
    });
    // Only now: invalidated inside the transaction, a concurrent read could re-cache the uncommitted-old row
    // (old sessions_valid_after) and keep pre-reset access tokens alive until the cache entry expired.
    this.users.invalidate([userId]);
    await this.audit.record({ actor: { type: 'user', id: userId }, action: 'auth.password_reset', targetType: 'user', targetId: userId, ip: caller.ip, requestId: caller.requestId });
  }
}
