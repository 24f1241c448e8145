/** Admin user management and the audit log: /api/admin/users*, /api/admin/audit. Every change is audited. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app.ts';
import { AdminCreateUserSchema, AdminUpdateUserSchema, RoleSchema, StatusSchema, TierSchema, UserViewSchema } from '../../../domain/users/schema.ts';
import { userView } from '../../../domain/users/records.ts';
import { KeyCreateSchema, KeyViewSchema, KeyWithSecretSchema } from '../../../domain/keys/schema.ts';
import { actorOf, diff } from '../../../domain/audit/audit.ts';
import { PageQuerySchema } from '../../../domain/paging.ts';
import { AppError, badRequest, forbidden } from '../../../errors.ts';

const tags = ['admin'];
const security = [{ bearerAuth: [] }];
const UserId = z.object({ id: z.string().min(1).max(64) });
const DomainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}$/, 'must be a domain such as example.com');

export const adminUserRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { users, keys, audit, config } = services;
  const record = (request: FastifyRequest, action: string, targetType: string, targetId: string | undefined, changes?: Record<string, unknown>) =>
    audit.record({ actor: actorOf(request.principal), action, targetType, targetId, changes, ip: request.ip, requestId: String(request.id) });

  app.post('/users', {
    schema: { tags, security, summary: 'Create a user (password optional: they can reset it)', body: AdminCreateUserSchema, response: { 201: UserViewSchema } },
    handler: async (request, reply) => {
      const user = await users.create(request.body);
      await record(request, 'admin.user_create', 'user', user.id, { email: user.email, role: user.role, tier: user.tier });
      return reply.code(201).send(userView(user));
    },
  });

  app.get('/users', {
    schema: {
      tags,
      security,
      summary: 'Search users (email, name or id), filter by role/tier/status; cursor paging with true totals',
      querystring: PageQuerySchema.extend({ q: z.string().trim().min(1).max(200).optional(), role: RoleSchema.optional(), tier: TierSchema.optional(), status: StatusSchema.optional() }),
      response: { 200: z.object({ data: z.array(UserViewSchema), next_cursor: z.string().nullable(), total: z.number() }) },
    },
    handler: async (request) => {
      const page = await users.search(request.query);
      return { ...page, data: page.data.map(userView) };
    },
  });

  app.get('/users/stats', {
    schema: {
      tags,
      security,
      summary: 'Counts by role, tier and status',
      response: { 200: z.object({ total: z.number(), by_role: z.record(z.string(), z.number()), by_tier: z.record(z.string(), z.number()), by_status: z.record(z.string(), z.number()) }) },
    },
    handler: async () => users.stats(),
  });

  app.get('/users/growth', {
    schema: {
      tags,
      security,
      summary: 'New users per UTC day',
      querystring: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }),
      response: { 200: z.object({ days: z.number(), since: z.string(), users_before: z.number(), series: z.array(z.object({ date: z.string(), new_users: z.number() })) }) },
    },
    handler: async (request) => users.growth(request.query.days),
  });

  app.delete('/users/by-domain/:domain', {
    schema: {
      tags,
      security,
      summary:
        'Delete every user of an email domain: previews unless dry_run=false, then deletes in one transaction. Admins (the caller included) are skipped, never deleted: demote one first to delete it.',
      params: z.object({ domain: DomainSchema }),
      querystring: z.object({ dry_run: z.enum(['true', 'false']).default('true') }),
      response: {
        200: z.object({
          domain: z.string(),
          dry_run: z.boolean(),
          matched: z.number(),
          deleted: z.number(),
          skipped_admins: z.number().describe('Admin accounts of the domain left alone'),
          sample: z.array(z.object({ id: z.string(), email: z.string() })),
        }),
      },
    },
    handler: async (request) => {
      const domain = request.params.domain;
      const protectedDomains = config.protectedDomains.map((d) => d.toLowerCase());
      if (protectedDomains.includes(domain)) throw forbidden(`The domain ${domain} is protected from bulk deletion.`, 'protected_domain');
      const dryRun = request.query.dry_run !== 'false';
      const p = request.principal;
      const self = p?.kind === 'user' || p?.kind === 'api_key' ? p.user.id : undefined;
      // A bulk delete must never lock the operators out: admins and the caller are skipped, not deleted.
      const split = (rows: { id: string; email: string; role: string }[]) => {
        const targets = rows.filter((r) => r.role !== 'admin' && r.id !== self).map((r) => ({ id: r.id, email: r.email }));
        return { targets, skipped: rows.length - targets.length };
      };
      if (dryRun) {
        const { targets, skipped } = split(await users.idsByDomain(domain));
        return { domain, dry_run: true, matched: targets.length, deleted: 0, skipped_admins: skipped, sample: targets.slice(0, 20) };
      }
      const result = await services.database.db.transaction().execute(async (trx) => {
        const { targets, skipped } = split(await users.idsByDomain(domain, trx));
        const deleted = await users.softDelete(targets.map((m) => m.id), trx);
        await audit.record({ actor: actorOf(request.principal), action: 'admin.user_delete_by_domain', targetType: 'domain', targetId: domain, changes: { deleted, skipped_admins: skipped, user_ids: targets.map((m) => m.id) }, ip: request.ip, requestId: String(request.id) }, trx);
        return { targets, skipped, deleted };
      });
      users.invalidate(result.targets.map((m) => m.id));
      return { domain, dry_run: false, matched: result.targets.length, deleted: result.deleted, skipped_admins: result.skipped, sample: result.targets.slice(0, 20) };
    },
  });

  app.get('/users/:id', {
    schema: { tags, security, summary: 'One user', params: UserId, response: { 200: UserViewSchema } },
    handler: async (request) => userView(await users.get(request.params.id)),
  });

  app.patch('/users/:id', {
    schema: {
      tags,
      security,
      summary: 'Change name, role, tier, status (active|suspended), custom limits, trial expiry or password; effective on the next request',
      params: UserId,
      body: AdminUpdateUserSchema,
      response: { 200: UserViewSchema },
    },
    handler: async (request) => {
      const { before, after } = await users.update(request.params.id, request.body);
      const changes: Record<string, unknown> = diff(userView(before), userView(after));
      if (request.body.password !== undefined) changes.password = 'changed';
      await record(request, 'admin.user_update', 'user', after.id, changes);
      return userView(after);
    },
  });

  app.delete('/users/:id', {
    schema: { tags, security, summary: 'Delete a user: sign-in and keys stop working at once; history is kept', params: UserId, response: { 200: UserViewSchema } },
    handler: async (request) => {
      const before = await users.get(request.params.id);
      if (before.status === 'deleted') throw new AppError(404, 'not_found_error', `No user "${request.params.id}".`, 'user_not_found', 'id');
      const p = request.principal;
      if ((p?.kind === 'user' || p?.kind === 'api_key') && p.user.id === before.id) throw badRequest('You cannot delete your own account here.', 'cannot_delete_self');
      await users.softDelete([before.id]);
      users.invalidate([before.id]);
      await record(request, 'admin.user_delete', 'user', before.id, { email: before.email });
      return userView(await users.get(before.id));
    },
  });

  app.get('/users/:id/keys', {
    schema: { tags, security, summary: 'A user\'s keys (never secrets)', params: UserId, response: { 200: z.object({ data: z.array(KeyViewSchema) }) } },
    handler: async (request) => {
      await users.get(request.params.id);
      return { data: await keys.listForUser(request.params.id) };
    },
  });

  app.post('/users/:id/keys', {
    schema: { tags, security, summary: 'Provision a key for a user (secret shown once)', params: UserId, body: KeyCreateSchema.omit({ org_id: true }), response: { 201: KeyWithSecretSchema } },
    handler: async (request, reply) => {
      const user = await users.get(request.params.id);
      if (user.status === 'deleted') throw new AppError(404, 'not_found_error', `No user "${user.id}".`, 'user_not_found', 'id');
      const actor = actorOf(request.principal);
      const created = await keys.create(user.id, request.body, actor.id ?? 'admin');
      await record(request, 'admin.key_create', 'api_key', created.id, { user_id: user.id, name: created.name });
      return reply.code(201).send(created);
    },
  });

  app.delete('/keys/:id', {
    schema: { tags, security, summary: 'Revoke any key', params: UserId, response: { 200: KeyViewSchema } },
    handler: async (request) => {
      const revoked = await keys.revokeById(request.params.id);
      await record(request, 'admin.key_revoke', 'api_key', revoked.id, { user_id: revoked.user_id });
      return revoked;
    },
  });

  app.get('/audit', {
    schema: {
      tags,
      security,
      summary: 'The audit log (admin actions and security events), newest first',
      querystring: PageQuerySchema.extend({
        actor_id: z.string().max(200).optional(),
        action: z.string().max(100).optional().describe('Exact action, or a prefix ending in * (e.g. auth.*)'),
        target_type: z.string().max(50).optional(),
        target_id: z.string().max(200).optional(),
        from: z.iso.datetime({ offset: true }).optional(),
        to: z.iso.datetime({ offset: true }).optional(),
      }),
      response: {
        200: z.object({
          data: z.array(
            z.object({
              id: z.string(),
              created_at: z.string(),
              actor_type: z.string(),
              actor_id: z.string().nullable(),
              action: z.string(),
              target_type: z.string().nullable(),
              target_id: z.string().nullable(),
              changes: z.record(z.string(), z.unknown()).nullable(),
              ip: z.string().nullable(),
              request_id: z.string().nullable(),
            }),
          ),
          next_cursor: z.string().nullable(),
          total: z.number(),
        }),
      },
    },
    handler: async (request) => audit.list(request.query),
  });
};
