/** Organizations: /api/orgs. Members see only their orgs; non-members get 404. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../app.ts';
import { EmailSchema } from '../../domain/users/schema.ts';
import { actorOf } from '../../domain/audit/audit.ts';
import { currentUser, requireSession } from '../auth.ts';

const tags = ['organizations'];
const security = [{ bearerAuth: [] }];
const OrgId = z.object({ id: z.string().min(1).max(64) });
const OrgView = z.object({ id: z.string(), name: z.string(), created_by: z.string(), created_at: z.string(), role: z.enum(['owner', 'admin', 'member']).optional() });
const InviteView = z.object({
  id: z.string(),
  org_id: z.string(),
  org_name: z.string().optional(),
  email: z.string(),
  role: z.enum(['admin', 'member']),
  status: z.string(),
  invited_by: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
});
const MemberView = z.object({ user_id: z.string(), email: z.string(), name: z.string().nullable(), role: z.enum(['owner', 'admin', 'member']), joined_at: z.string() });
const OrgName = z.string().trim().min(1).max(100);

export const orgRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { orgs, audit, keys, mailer, config } = services;
  app.addHook('onRequest', requireSession(services.auth));
  const record = (request: FastifyRequest, action: string, targetId: string, changes?: Record<string, unknown>) =>
    audit.record({ actor: actorOf(request.principal), action, targetType: 'organization', targetId, changes, ip: request.ip, requestId: String(request.id) });

  app.post('/', {
    schema: { tags, security, summary: 'Create an organization (you become its owner)', body: z.object({ name: OrgName }).strict(), response: { 201: OrgView } },
    handler: async (request, reply) => {
      const org = await orgs.create(currentUser(request), request.body.name);
      await record(request, 'org.create', org.id, { name: org.name });
      return reply.code(201).send(org);
    },
  });

  app.get('/', {
    schema: { tags, security, summary: 'Organizations I belong to, with my role', response: { 200: z.object({ data: z.array(OrgView) }) } },
    handler: async (request) => ({ data: await orgs.listForUser(currentUser(request).id) }),
  });

  app.get('/invites', {
    schema: { tags, security, summary: 'Pending invitations addressed to me', response: { 200: z.object({ data: z.array(InviteView) }) } },
    handler: async (request) => ({ data: await orgs.myInvites(currentUser(request)) }),
  });

  for (const [action, accept] of [['accept', true], ['decline', false]] as const) {
    app.post(`/invites/:id/${action}`, {
      schema: { tags, security, summary: `${action === 'accept' ? 'Accept' : 'Decline'} an invitation`, params: OrgId, response: { 200: InviteView } },
      handler: async (request) => {
        const invite = await orgs.respond(request.params.id, currentUser(request), accept);
        await record(request, `org.invite_${action}`, invite.org_id, { invite: invite.id });
        return invite;
      },
    });
  }

  app.get('/:id', {
    schema: { tags, security, summary: 'One organization', params: OrgId, response: { 200: OrgView } },
    handler: async (request) => orgs.get(request.params.id, currentUser(request).id),
  });

  app.patch('/:id', {
    schema: { tags, security, summary: 'Rename (owners and admins)', params: OrgId, body: z.object({ name: OrgName }).strict(), response: { 200: OrgView } },
    handler: async (request) => {
      const org = await orgs.rename(request.params.id, currentUser(request).id, request.body.name);
      await record(request, 'org.rename', org.id, { name: org.name });
      return org;
    },
  });

  app.delete('/:id', {
    schema: { tags, security, summary: 'Delete the organization and revoke its keys (owners)', params: OrgId, response: { 200: z.object({ id: z.string(), deleted: z.literal(true), revoked_keys: z.number() }) } },
    handler: async (request) => {
      const revoked = await orgs.remove(request.params.id, currentUser(request).id);
      keys.invalidate(revoked);
      await record(request, 'org.delete', request.params.id, { revoked_keys: revoked.length });
      return { id: request.params.id, deleted: true as const, revoked_keys: revoked.length };
    },
  });

  app.get('/:id/members', {
    schema: { tags, security, summary: 'Members and their roles', params: OrgId, response: { 200: z.object({ data: z.array(MemberView) }) } },
    handler: async (request) => ({ data: await orgs.members(request.params.id, currentUser(request).id) }),
  });

  app.patch('/:id/members/:userId', {
    schema: {
      tags,
      security,
      summary: 'Change a member\'s role (owners)',
      params: OrgId.extend({ userId: z.string().min(1).max(64) }),
      body: z.object({ role: z.enum(['owner', 'admin', 'member']) }).strict(),
      response: { 200: z.object({ user_id: z.string(), role: z.string() }) },
    },
    handler: async (request) => {
      const out = await orgs.setRole(request.params.id, request.params.userId, request.body.role, currentUser(request).id);
      await record(request, 'org.member_role', request.params.id, { user_id: out.user_id, role: out.role });
      return out;
    },
  });

  app.delete('/:id/members/:userId', {
    schema: {
      tags,
      security,
      summary: 'Remove a member (managers), or leave (yourself)',
      params: OrgId.extend({ userId: z.string().min(1).max(64) }),
      response: { 200: z.object({ removed: z.literal(true), revoked_keys: z.number() }) },
    },
    handler: async (request) => {
      const revoked = await orgs.removeMember(request.params.id, request.params.userId, currentUser(request).id);
      keys.invalidate(revoked);
      await record(request, 'org.member_remove', request.params.id, { user_id: request.params.userId });
      return { removed: true as const, revoked_keys: revoked.length };
    },
  });

  app.get('/:id/invites', {
    schema: { tags, security, summary: 'Invitations of the organization (managers)', params: OrgId, response: { 200: z.object({ data: z.array(InviteView) }) } },
    handler: async (request) => ({ data: await orgs.invitesOf(request.params.id, currentUser(request).id) }),
  });

  app.post('/:id/invites', {
    schema: {
      tags,
      security,
      summary: 'Invite someone by email (managers); they accept from their own account',
      params: OrgId,
      body: z.object({ email: EmailSchema, role: z.enum(['admin', 'member']).default('member') }).strict(),
      response: { 201: InviteView },
    },
    handler: async (request, reply) => {
      const user = currentUser(request);
      const { invite, orgName } = await orgs.invite(request.params.id, user, request.body.email, request.body.role);
      await record(request, 'org.invite', invite.org_id, { email: invite.email, role: invite.role });
      const where = config.publicUrl ? ` at ${config.publicUrl}` : '';
      await mailer
        .send({
          to: invite.email,
          subject: `You are invited to ${orgName} on Switchyard`,
          text: `${user.name ?? user.email} invited you to join "${orgName}" as ${invite.role}. Sign in (or create an account with this email)${where} and accept invitation ${invite.id}.`,
        })
        .catch((err) => request.log.error({ err }, 'invitation mail failed'));
      return reply.code(201).send(invite);
    },
  });

  app.delete('/:id/invites/:inviteId', {
    schema: { tags, security, summary: 'Withdraw a pending invitation (managers)', params: OrgId.extend({ inviteId: z.string().min(1).max(64) }), response: { 200: InviteView } },
    handler: async (request) => {
      const invite = await orgs.revokeInvite(request.params.id, request.params.inviteId, currentUser(request).id);
      await record(request, 'org.invite_withdraw', invite.org_id, { invite: invite.id, email: invite.email });
      return invite;
    },
  });
};
