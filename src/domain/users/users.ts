/**
 * Users: creation, live lookups (cached, invalidated through the cache bus), updates, soft deletion and
 * the admin queries (search with cursor paging, stats, growth, deletion by email domain).
 */
import { sql, type Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Database, LimitsJson, Role, Tier } from '../../store/schema.ts';
import { conflict, notFound } from '../../errors.ts';
import { newId } from '../ids.ts';
import type { CacheBus } from '../cache-bus.ts';
import { afterCursor, cursorTs, decodeCursor, encodeCursor, type Page } from '../paging.ts';
import { hashPassword } from '../auth/passwords.ts';
import { userFromRow, type UserRecord } from './records.ts';

type Executor = Db | Transaction<Database>;

export interface NewUser {
  email: string;
  password?: string;
  /** Already hashed (callers that hash before opening a transaction); wins over `password`. */
  passwordHash?: string;
  name?: string;
  role?: Role;
  tier?: Tier;
  trialExpiresAt?: Date | null;
}

export interface UserPatch {
  name?: string | null;
  role?: Role;
  tier?: Tier;
  status?: 'active' | 'suspended';
  limits?: LimitsJson | null;
  trial_expires_at?: string | null;
  password?: string;
}

export interface UserSearch {
  q?: string;
  role?: Role;
  tier?: Tier;
  status?: 'active' | 'suspended' | 'deleted';
  limit: number;
  cursor?: string;
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 50_000;

const isUniqueViolation = (err: unknown) => (err as { code?: string })?.code === '23505';

export class UserService {
  private readonly cache = new Map<string, { user: UserRecord; expires: number }>();
  /** Invalidations seen per user (a load that raced one must not cache the old row). */
  private readonly invalidated = new Map<string, number>();
  /** clear() calls so far (a load that raced one must not cache either). */
  private resets = 0;

  constructor(
    private readonly db: Db,
    private readonly bus: CacheBus,
  ) {
    bus.on((msg) => {
      if (msg.type === 'resync') return this.clear();
      if (msg.type !== 'user') return;
      this.cache.delete(msg.id);
      if (this.invalidated.size >= 50_000) this.invalidated.delete(this.invalidated.keys().next().value!);
      this.invalidated.set(msg.id, (this.invalidated.get(msg.id) ?? 0) + 1);
    });
  }

  /** Drops every cached user; loads already reading the database will not cache what they read. */
  clear(): void {
    this.cache.clear();
    this.resets++;
  }

  /** A cached live view; undefined on a miss (call `load`). No I/O. */
  cached(id: string): UserRecord | undefined {
    const hit = this.cache.get(id);
    if (!hit) return undefined;
    if (hit.expires < Date.now()) {
      this.cache.delete(id);
      return undefined;
    }
    return hit.user;
  }

  remember(user: UserRecord): void {
    if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(user.id, { user, expires: Date.now() + CACHE_TTL_MS });
  }

  /** The live record, from cache or database (deleted users included: callers decide). */
  async load(id: string): Promise<UserRecord | undefined> {
    const hit = this.cached(id);
    if (hit) return hit;
    const seen = this.invalidated.get(id) ?? 0;
    const resets = this.resets;
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const user = userFromRow(row);
    if ((this.invalidated.get(id) ?? 0) === seen && this.resets === resets) this.remember(user);
    else return this.load(id); // changed while we read: read again
    return user;
  }

  async get(id: string): Promise<UserRecord> {
    const user = await this.load(id);
    if (!user) throw notFound(`No user "${id}".`, 'user_not_found', 'id');
    return user;
  }

  /** Live (non-deleted) account by email, with its password hash for login. */
  async findForLogin(email: string): Promise<{ user: UserRecord; passwordHash: string | null } | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).where('status', '<>', 'deleted').executeTakeFirst();
    return row ? { user: userFromRow(row), passwordHash: row.password_hash } : undefined;
  }

  async create(input: NewUser, db: Executor = this.db): Promise<UserRecord> {
    const passwordHash = input.passwordHash ?? (input.password ? await hashPassword(input.password) : null);
    try {
      const row = await db
        .insertInto('users')
        .values({
          id: newId('usr'),
          email: input.email.toLowerCase(),
          password_hash: passwordHash,
          name: input.name ?? null,
          role: input.role ?? 'user',
          tier: input.tier ?? 'free',
          trial_expires_at: input.trialExpiresAt ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return userFromRow(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('An account with this email already exists.', 'email_taken');
      throw err;
    }
  }

  /** Applies a patch; returns the record before and after (for the audit log). */
  async update(id: string, patch: UserPatch): Promise<{ before: UserRecord; after: UserRecord }> {
    const before = await this.get(id);
    if (before.status === 'deleted') throw notFound(`No user "${id}".`, 'user_not_found', 'id');
    const values: Record<string, unknown> = { updated_at: new Date() };
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.role !== undefined) values.role = patch.role;
    if (patch.tier !== undefined) values.tier = patch.tier;
    if (patch.status !== undefined) values.status = patch.status;
    if (patch.limits !== undefined) values.limits = patch.limits === null ? null : JSON.stringify(patch.limits);
    if (patch.trial_expires_at !== undefined) values.trial_expires_at = patch.trial_expires_at;
    if (patch.password !== undefined) values.password_hash = await hashPassword(patch.password);
    const row = await this.db.updateTable('users').set(values).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    if (patch.password !== undefined || patch.status === 'suspended') await this.revokeSessions(id);
    this.bus.publish({ type: 'user', id });
    return { before, after: userFromRow(row) };
  }

  /**
   * Sets the password and ends every session. Inside a caller's transaction (`trx`) nothing is published:
   * the caller calls `invalidate` after commit, or another reader could re-cache the pre-commit row.
   */
  async setPassword(id: string, password: string, trx?: Transaction<Database>): Promise<void> {
    const db = trx ?? this.db;
    await db.updateTable('users').set({ password_hash: await hashPassword(password), updated_at: new Date() }).where('id', '=', id).execute();
    await this.revokeSessions(id, trx);
  }

  /**
   * Ends every session: refresh tokens are revoked and access tokens issued until now are refused. With a
   * caller's transaction, the caller invalidates after commit (see setPassword).
   */
  async revokeSessions(userId: string, trx?: Transaction<Database>): Promise<void> {
    const now = new Date();
    const db = trx ?? this.db;
    await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    await db.updateTable('users').set({ sessions_valid_after: now }).where('id', '=', userId).execute();
    if (!trx) this.invalidate([userId]);
  }

  /** Soft delete: the account can no longer sign in or use its keys; history stays for billing. */
  async softDelete(ids: string[], db: Executor = this.db): Promise<number> {
    if (!ids.length) return 0;
    const now = new Date();
    const res = await db.updateTable('users').set({ status: 'deleted', deleted_at: now, updated_at: now }).where('id', 'in', ids).where('status', '<>', 'deleted').executeTakeFirst();
    await db.updateTable('api_keys').set({ revoked_at: now, updated_at: now }).where('user_id', 'in', ids).where('revoked_at', 'is', null).execute();
    await db.updateTable('refresh_tokens').set({ revoked_at: now }).where('user_id', 'in', ids).where('revoked_at', 'is', null).execute();
    return Number(res.numUpdatedRows);
  }

  /** Publishes invalidations after a (possibly transactional) change committed. */
  invalidate(ids: string[]): void {
    for (const id of ids) this.bus.publish({ type: 'user', id });
  }

  async search(s: UserSearch): Promise<Page<UserRecord>> {
    let q = this.db.selectFrom('users');
    if (s.q) {
      const like = `%${s.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      q = q.where((eb) => eb.or([eb('email', 'like', like), eb(sql<string>`lower(coalesce(name, ''))`, 'like', like), eb('id', '=', s.q!)]));
    }
    if (s.role) q = q.where('role', '=', s.role);
    if (s.tier) q = q.where('tier', '=', s.tier);
    q = s.status ? q.where('status', '=', s.status) : q.where('status', '<>', 'deleted');
    const total = Number((await q.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);
    const cursor = decodeCursor(s.cursor);
    let page = q.selectAll().select(cursorTs().as('cursor_ts'));
    if (cursor) page = page.where(afterCursor(cursor, { id: 'text' }));
    const rows = await page.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(s.limit + 1).execute();
    const last = rows[Math.min(rows.length, s.limit) - 1];
    return { data: rows.slice(0, s.limit).map(userFromRow), next_cursor: rows.length > s.limit && last ? encodeCursor(last.cursor_ts, last.id) : null, total };
  }

  async stats() {
    const rows = await this.db
      .selectFrom('users')
      .select(['role', 'tier', 'status', (eb) => eb.fn.countAll<string>().as('n')])
      .groupBy(['role', 'tier', 'status'])
      .execute();
    const by = (field: 'role' | 'tier' | 'status') => {
      const out: Record<string, number> = {};
      for (const r of rows) out[r[field]] = (out[r[field]] ?? 0) + Number(r.n);
      return out;
    };
    const live = rows.filter((r) => r.status !== 'deleted').reduce((s, r) => s + Number(r.n), 0);
    return { total: live, by_role: by('role'), by_tier: by('tier'), by_status: by('status') };
  }

  /** New registrations per UTC day for the last `days` days, zero-filled, from one SQL aggregate. */
  async growth(days: number) {
    const since = new Date(Date.now() - (days - 1) * 86_400_000);
    since.setUTCHours(0, 0, 0, 0);
    const rows = await this.db
      .selectFrom('users')
      .select([sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'), (eb) => eb.fn.countAll<string>().as('n')])
      .where('created_at', '>=', since)
      .groupBy(sql`1`)
      .execute();
    const counts = new Map(rows.map((r) => [r.day, Number(r.n)]));
    const out: { date: string; new_users: number }[] = [];
    for (let i = 0; i < days; i++) {
      const date = new Date(since.getTime() + i * 86_400_000).toISOString().slice(0, 10);
      out.push({ date, new_users: counts.get(date) ?? 0 });
    }
    const before = Number((await this.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).where('created_at', '<', since).executeTakeFirstOrThrow()).n);
    return { days, since: since.toISOString(), users_before: before, series: out };
  }

  async idsByDomain(domain: string, db: Executor = this.db): Promise<{ id: string; email: string; role: Role }[]> {
    return db.selectFrom('users').select(['id', 'email', 'role']).where('email', 'like', `%@${domain.replace(/[\\%_]/g, (c) => `\\${c}`)}`).where('status', '<>', 'deleted').orderBy('created_at').execute();
  }
}
