/**
 * API key management. Secrets (`sk-sy-...`) are returned once and stored only as SHA-256 hashes. Personal
 * keys belong to their user; org keys are managed by the org's owners and admins. Anyone else gets 404.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { ApiKeysTable } from '../../store/schema.ts';
import { notFound } from '../../errors.ts';
import { newId, newToken, sha256Hex } from '../ids.ts';
import type { CacheBus } from '../cache-bus.ts';
import type { OrgService } from '../orgs/orgs.ts';
import { KEY_PREFIX, keyView, type KeyView } from './records.ts';
import type { KeyCreate, KeyUpdate } from './schema.ts';
import { boundsOfRequest, inheritBounds, requireWithinCaller, type KeyBounds } from './delegation.ts';

export interface KeyWithSecret extends KeyView {
  key: string;
}

const json = (v: unknown) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v));

export function newSecret(): { secret: string; hash: string; prefix: string; lastFour: string } {
  const secret = `${KEY_PREFIX}${newToken(32)}`;
  return { secret, hash: sha256Hex(secret), prefix: secret.slice(0, KEY_PREFIX.length + 4), lastFour: secret.slice(-4) };
}

const keyNotFound = (id: string) => notFound(`No API key "${id}".`, 'key_not_found', 'id');

export class KeyService {
  constructor(
    private readonly db: Db,
    private readonly orgs: OrgService,
    private readonly bus: CacheBus,
  ) {}

  /**
   * Creates a key owned by `ownerId` (or by an org the owner manages). `callerKeyId`: the API key making the
   * request, if any; the new key then stays within its bounds (delegation.ts).
   */
  async create(ownerId: string, requested: KeyCreate, createdBy: string, callerKeyId?: string): Promise<KeyWithSecret> {
    const caller = callerKeyId ? await this.callerRow(callerKeyId) : undefined;
    const input = caller ? inheritBounds(caller, requested) : requested;
    // Someone else's org is a 404 first, as for a session: the bounds must not reveal that it exists.
    if (input.org_id) await this.orgs.requireManager(input.org_id, ownerId);
    if (caller) requireWithinCaller(caller, boundsOfRequest(input), 'create');
    const s = newSecret();
    const row = await this.db
      .insertInto('api_keys')
      .values({
        id: newId('key'),
        user_id: ownerId,
        org_id: input.org_id ?? null,
        name: input.name,
        secret_hash: s.hash,
        prefix: s.prefix,
        last_four: s.lastFour,
        scopes: JSON.stringify(input.scopes ?? ['inference']),
        allowed_models: json(input.allowed_models) ?? null,
        allowed_ips: json(input.allowed_ips) ?? null,
        allowed_referrers: json(input.allowed_referrers) ?? null,
        limits: json(input.limits) ?? null,
        expires_at: input.expires_at ?? null,
        created_by: createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { ...keyView(row), key: s.secret };
  }

  /** The row if `userId` may manage it; 404 otherwise (never reveals that someone else's key exists). */
  private async manageable(userId: string, id: string): Promise<Selectable<ApiKeysTable>> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw keyNotFound(id);
    if (row.org_id) {
      const role = await this.orgs.roleOf(row.org_id, userId);
      if (role !== 'owner' && role !== 'admin') throw keyNotFound(id);
    } else if (row.user_id !== userId) throw keyNotFound(id);
    return row;
  }

  private async callerRow(id: string): Promise<Selectable<ApiKeysTable>> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw keyNotFound(id);
    return row;
  }

  async list(userId: string, opts: { orgId?: string; includeRevoked?: boolean }): Promise<KeyView[]> {
    let q = this.db.selectFrom('api_keys').selectAll();
    if (opts.orgId) {
      await this.orgs.requireManager(opts.orgId, userId);
      q = q.where('org_id', '=', opts.orgId);
    } else q = q.where('user_id', '=', userId).where('org_id', 'is', null);
    if (!opts.includeRevoked) q = q.where('revoked_at', 'is', null);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
    return rows.map(keyView);
  }

  async get(userId: string, id: string): Promise<KeyView> {
    return keyView(await this.manageable(userId, id));
  }

  async update(userId: string, id: string, patch: KeyUpdate, callerKeyId?: string): Promise<{ before: KeyView; after: KeyView }> {
    const before = await this.manageable(userId, id);
    if (before.revoked_at) throw keyNotFound(id);
    if (callerKeyId) {
      // Neither a key broader than the caller may be touched, nor may the change make one.
      const caller = await this.callerRow(callerKeyId);
      requireWithinCaller(caller, before, 'change');
      const next = <T>(patched: T | undefined, current: T): T => (patched === undefined ? current : patched);
      const after: KeyBounds = {
        org_id: before.org_id,
        scopes: next(patch.scopes, before.scopes),
        expires_at: next<Date | string | null>(patch.expires_at, before.expires_at),
        allowed_models: next(patch.allowed_models, before.allowed_models),
        allowed_ips: next(patch.allowed_ips, before.allowed_ips),
        allowed_referrers: next(patch.allowed_referrers, before.allowed_referrers),
        limits: next(patch.limits, before.limits),
      };
      requireWithinCaller(caller, after, 'change');
    }
    const values: Record<string, unknown> = { updated_at: new Date() };
    if (patch.name !== undefined) values.name = patch.name;
    if (patch.expires_at !== undefined) values.expires_at = patch.expires_at;
    if (patch.scopes !== undefined) values.scopes = JSON.stringify(patch.scopes);
    for (const f of ['allowed_models', 'allowed_ips', 'allowed_referrers', 'limits'] as const) {
      if (patch[f] !== undefined) values[f] = json(patch[f]);
    }
    const row = await this.db.updateTable('api_keys').set(values).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    this.bus.publish({ type: 'key', id });
    return { before: keyView(before), after: keyView(row) };
  }

  async revoke(userId: string, id: string): Promise<KeyView> {
    const row = await this.manageable(userId, id);
    if (row.revoked_at) return keyView(row);
    const updated = await this.db.updateTable('api_keys').set({ revoked_at: new Date(), updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    this.bus.publish({ type: 'key', id });
    return keyView(updated);
  }

  /** A new secret for the same key; the old one stops working at once. */
  async rotate(userId: string, id: string, callerKeyId?: string): Promise<KeyWithSecret> {
    const row = await this.manageable(userId, id);
    if (row.revoked_at) throw keyNotFound(id);
    // The new secret is handed to the caller: a key may only obtain the secret of a key within its bounds.
    if (callerKeyId) requireWithinCaller(await this.callerRow(callerKeyId), row, 'rotate');
    const s = newSecret();
    const updated = await this.db
      .updateTable('api_keys')
      .set({ secret_hash: s.hash, prefix: s.prefix, last_four: s.lastFour, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    this.bus.publish({ type: 'key', id });
    return { ...keyView(updated), key: s.secret };
  }

  /** Admin and CLI: keys of any user, no ownership check. */
  async listForUser(userId: string, includeRevoked = true): Promise<KeyView[]> {
    let q = this.db.selectFrom('api_keys').selectAll().where('user_id', '=', userId);
    if (!includeRevoked) q = q.where('revoked_at', 'is', null);
    return (await q.orderBy('created_at', 'desc').execute()).map(keyView);
  }

  async revokeById(id: string): Promise<KeyView> {
    const row = await this.db.updateTable('api_keys').set({ revoked_at: new Date(), updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();
    if (!row) throw keyNotFound(id);
    this.bus.publish({ type: 'key', id });
    return keyView(row);
  }

  /** Authentication's database path (cache miss). */
  findByHash(hash: string): Promise<Selectable<ApiKeysTable> | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('secret_hash', '=', hash).executeTakeFirst();
  }

  invalidate(ids: string[]): void {
    for (const id of ids) this.bus.publish({ type: 'key', id });
  }
}
