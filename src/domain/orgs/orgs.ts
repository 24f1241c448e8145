/**
 * Organizations: a user creates one (and owns it), invites members by email (owner | admin | member),
 * and owners/admins create org-owned keys whose usage is attributed to the org. Non-members get 404
 * for everything of an org, so ids leak nothing.
 */
import type { Selectable, Transaction } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { Database, OrganizationsTable, OrgInvitesTable, OrgRole } from '../../store/schema.ts';
import { AppError, conflict, forbidden, notFound } from '../../errors.ts';
import { newId } from '../ids.ts';
import type { UserRecord } from '../users/records.ts';

const INVITE_TTL_MS = 7 * 86_400_000;

const orgNotFound = (id: string) => notFound(`No organization "${id}".`, 'org_not_found', 'id');

export function orgView(o: Selectable<OrganizationsTable>, role?: OrgRole) {
  return { id: o.id, name: o.name, created_by: o.created_by, created_at: new Date(o.created_at).toISOString(), ...(role ? { role } : {}) };
}

export function inviteView(i: Selectable<OrgInvitesTable>, orgName?: string) {
  return {
    id: i.id,
    org_id: i.org_id,
    ...(orgName ? { org_name: orgName } : {}),
    email: i.email,
    role: i.role,
    status: i.status,
    invited_by: i.invited_by,
    created_at: new Date(i.created_at).toISOString(),
    expires_at: new Date(i.expires_at).toISOString(),
  };
}

export class OrgService {
  constructor(private readonly db: Db) {}

  async roleOf(orgId: string, userId: string): Promise<OrgRole | undefined> {
    const row = await this.db.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst();
    return row?.role;
  }

  /** The caller's role, or 404 when not a member. */
  async requireMember(orgId: string, userId: string): Promise<OrgRole> {
    const role = await this.roleOf(orgId, userId);
    if (!role) throw orgNotFound(orgId);
    return role;
  }

  async requireManager(orgId: string, userId: string): Promise<OrgRole> {
    const role = await this.requireMember(orgId, userId);
    if (role === 'member') throw forbidden('Only owners and admins of the organization can do this.', 'org_role_required');
    return role;
  }

  async create(user: UserRecord, name: string) {
    return this.db.transaction().execute(async (trx) => {
      const org = await trx.insertInto('organizations').values({ id: newId('org'), name, created_by: user.id }).returningAll().executeTakeFirstOrThrow();
      await trx.insertInto('org_members').values({ org_id: org.id, user_id: user.id, role: 'owner' }).execute();
      return orgView(org, 'owner');
    });
  }

  async listForUser(userId: string) {
    const rows = await this.db
      .selectFrom('organizations as o')
      .innerJoin('org_members as m', 'm.org_id', 'o.id')
      .selectAll('o')
      .select('m.role')
      .where('m.user_id', '=', userId)
      .orderBy('o.created_at')
      .execute();
    return rows.map((r) => orgView(r, r.role));
  }

  async get(orgId: string, userId: string) {
    const role = await this.requireMember(orgId, userId);
    const org = await this.db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirstOrThrow();
    return orgView(org, role);
  }

  async rename(orgId: string, userId: string, name: string) {
    const role = await this.requireManager(orgId, userId);
    const org = await this.db.updateTable('organizations').set({ name, updated_at: new Date() }).where('id', '=', orgId).returningAll().executeTakeFirstOrThrow();
    return orgView(org, role);
  }

  /** Owner only; its keys are revoked with it. Returns the ids of the revoked keys (for cache invalidation). */
  async remove(orgId: string, userId: string): Promise<string[]> {
    const role = await this.requireMember(orgId, userId);
    if (role !== 'owner') throw forbidden('Only an owner can delete the organization.', 'org_owner_required');
    return this.db.transaction().execute(async (trx) => {
      const keys = await trx.updateTable('api_keys').set({ revoked_at: new Date() }).where('org_id', '=', orgId).where('revoked_at', 'is', null).returning('id').execute();
      await trx.deleteFrom('organizations').where('id', '=', orgId).execute();
      return keys.map((k) => k.id);
    });
  }

  async members(orgId: string, userId: string) {
    await this.requireMember(orgId, userId);
    const rows = await this.db
      .selectFrom('org_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['m.user_id', 'm.role', 'm.created_at', 'u.email', 'u.name'])
      .where('m.org_id', '=', orgId)
      .orderBy('m.created_at')
      .execute();
    return rows.map((r) => ({ user_id: r.user_id, email: r.email, name: r.name, role: r.role, joined_at: new Date(r.created_at).toISOString() }));
  }

  async invite(orgId: string, inviter: UserRecord, email: string, role: 'admin' | 'member') {
    await this.requireManager(orgId, inviter.id);
    const already = await this.db
      .selectFrom('org_members as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select('m.user_id')
      .where('m.org_id', '=', orgId)
      .where('u.email', '=', email)
      .executeTakeFirst();
    if (already) throw conflict('That person is already a member.', 'already_member');
    try {
      const invite = await this.db
        .insertInto('org_invites')
        .values({ id: newId('inv'), org_id: orgId, email, role, invited_by: inviter.id, expires_at: new Date(Date.now() + INVITE_TTL_MS) })
        .returningAll()
        .executeTakeFirstOrThrow();
      const org = await this.db.selectFrom('organizations').select('name').where('id', '=', orgId).executeTakeFirstOrThrow();
      return { invite: inviteView(invite, org.name), orgName: org.name };
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict('That email already has a pending invitation.', 'invite_pending');
      throw err;
    }
  }

  async invitesOf(orgId: string, userId: string) {
    await this.requireManager(orgId, userId);
    const rows = await this.db.selectFrom('org_invites').selectAll().where('org_id', '=', orgId).orderBy('created_at', 'desc').execute();
    return rows.map((r) => inviteView(r));
  }

  async revokeInvite(orgId: string, inviteId: string, userId: string) {
    await this.requireManager(orgId, userId);
    const row = await this.db
      .updateTable('org_invites')
      .set({ status: 'revoked', responded_at: new Date() })
      .where('id', '=', inviteId)
      .where('org_id', '=', orgId)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound(`No pending invitation "${inviteId}".`, 'invite_not_found', 'id');
    return inviteView(row);
  }

  /** Pending, unexpired invitations addressed to this user's email. */
  async myInvites(user: UserRecord) {
    const rows = await this.db
      .selectFrom('org_invites as i')
      .innerJoin('organizations as o', 'o.id', 'i.org_id')
      .selectAll('i')
      .select('o.name as org_name')
      .where('i.email', '=', user.email)
      .where('i.status', '=', 'pending')
      .where('i.expires_at', '>', new Date())
      .orderBy('i.created_at', 'desc')
      .execute();
    return rows.map((r) => inviteView(r, r.org_name));
  }

  async respond(inviteId: string, user: UserRecord, accept: boolean) {
    return this.db.transaction().execute(async (trx) => {
      // Claim the invitation atomically: a second accept finds it no longer pending.
      const invite = await trx
        .updateTable('org_invites')
        .set({ status: accept ? 'accepted' : 'declined', responded_at: new Date() })
        .where('id', '=', inviteId)
        .where('email', '=', user.email)
        .where('status', '=', 'pending')
        .where('expires_at', '>', new Date())
        .returningAll()
        .executeTakeFirst();
      if (!invite) throw notFound(`No pending invitation "${inviteId}".`, 'invite_not_found', 'id');
      if (accept) {
        await trx.insertInto('org_members').values({ org_id: invite.org_id, user_id: user.id, role: invite.role }).onConflict((oc) => oc.columns(['org_id', 'user_id']).doNothing()).execute();
      }
      return inviteView(invite);
    });
  }

  async setRole(orgId: string, memberId: string, role: OrgRole, userId: string) {
    const mine = await this.requireMember(orgId, userId);
    if (mine !== 'owner') throw forbidden('Only an owner can change roles.', 'org_owner_required');
    return this.db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', memberId).forUpdate().executeTakeFirst();
      if (!current) throw notFound(`No member "${memberId}".`, 'member_not_found', 'user_id');
      if (current.role === 'owner' && role !== 'owner') await this.assertAnotherOwner(trx, orgId, memberId);
      await trx.updateTable('org_members').set({ role }).where('org_id', '=', orgId).where('user_id', '=', memberId).execute();
      return { user_id: memberId, role };
    });
  }

  /** Managers remove members; anyone may leave; the last owner cannot leave. Returns revoked key ids. */
  async removeMember(orgId: string, memberId: string, userId: string): Promise<string[]> {
    const mine = await this.requireMember(orgId, userId);
    if (memberId !== userId && mine === 'member') throw forbidden('Only owners and admins can remove members.', 'org_role_required');
    return this.db.transaction().execute(async (trx) => {
      const target = await trx.selectFrom('org_members').select('role').where('org_id', '=', orgId).where('user_id', '=', memberId).forUpdate().executeTakeFirst();
      if (!target) throw notFound(`No member "${memberId}".`, 'member_not_found', 'user_id');
      if (target.role === 'owner' && memberId !== userId && mine !== 'owner') throw forbidden('Only an owner can remove an owner.', 'org_owner_required');
      if (target.role === 'owner') await this.assertAnotherOwner(trx, orgId, memberId);
      await trx.deleteFrom('org_members').where('org_id', '=', orgId).where('user_id', '=', memberId).execute();
      // Keys the member created for the org stop working with their membership.
      const keys = await trx.updateTable('api_keys').set({ revoked_at: new Date() }).where('org_id', '=', orgId).where('user_id', '=', memberId).where('revoked_at', 'is', null).returning('id').execute();
      return keys.map((k) => k.id);
    });
  }

  private async assertAnotherOwner(trx: Transaction<Database>, orgId: string, exceptUserId: string) {
    const other = await trx.selectFrom('org_members').select('user_id').where('org_id', '=', orgId).where('role', '=', 'owner').where('user_id', '<>', exceptUserId).executeTakeFirst();
    if (!other) throw new AppError(409, 'conflict_error', 'An organization needs at least one owner.', 'last_owner');
  }
}
