/** The caller's API keys (and the keys of orgs they manage): /api/keys. Secrets are shown once. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { KeyCreateSchema, KeyUpdateSchema, KeyViewSchema, KeyWithSecretSchema } from '../../domain/keys/schema.ts';
import { actorOf } from '../../domain/audit/audit.ts';
import { currentUser, requireSession } from '../auth.ts';

const tags = ['keys'];
const security = [{ bearerAuth: [] }];
const IdParams = z.object({ id: z.string().min(1).max(64) });

export const keyRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { keys, audit } = services;
  app.addHook('onRequest', requireSession(services.auth));

  /** The API key making the request, when it is one (it then bounds what it can create, change or rotate). */
  const callerKey = (request: Parameters<typeof currentUser>[0]) => (request.principal?.kind === 'api_key' ? request.principal.key.id : undefined);
  const record = (request: Parameters<typeof currentUser>[0], action: string, id: string, changes?: Record<string, unknown>) =>
    audit.record({ actor: actorOf(request.principal), action, targetType: 'api_key', targetId: id, changes, ip: request.ip, requestId: String(request.id) });

  app.post('/', {
    schema: { tags, security, summary: 'Create an API key (the secret is in `key`, shown only once); an API key caller can only create keys within its own restrictions, which they inherit', body: KeyCreateSchema, response: { 201: KeyWithSecretSchema } },
    handler: async (request, reply) => {
      const user = currentUser(request);
      const created = await keys.create(user.id, request.body, user.id, callerKey(request));
      await record(request, 'key.create', created.id, { name: created.name, org_id: created.org_id });
      return reply.code(201).send(created);
    },
  });

  app.get('/', {
    schema: {
      tags,
      security,
      summary: 'List my keys, or an organization\'s keys with ?org_id=',
      querystring: z.object({ org_id: z.string().max(64).optional(), include_revoked: z.enum(['true', 'false']).optional() }),
      response: { 200: z.object({ data: z.array(KeyViewSchema) }) },
    },
    handler: async (request) => ({
      data: await keys.list(currentUser(request).id, { orgId: request.query.org_id, includeRevoked: request.query.include_revoked === 'true' }),
    }),
  });

  app.get('/:id', {
    schema: { tags, security, summary: 'One key (never its secret)', params: IdParams, response: { 200: KeyViewSchema } },
    handler: async (request) => keys.get(currentUser(request).id, request.params.id),
  });

  app.patch('/:id', {
    schema: { tags, security, summary: 'Update name, expiry, scopes, allowlists or limits; effective on the next request', params: IdParams, body: KeyUpdateSchema, response: { 200: KeyViewSchema } },
    handler: async (request) => {
      const { before, after } = await keys.update(currentUser(request).id, request.params.id, request.body, callerKey(request));
      await record(request, 'key.update', after.id, { before, after });
      return after;
    },
  });

  app.delete('/:id', {
    schema: { tags, security, summary: 'Revoke a key (immediately, on every instance)', params: IdParams, response: { 200: KeyViewSchema } },
    handler: async (request) => {
      const revoked = await keys.revoke(currentUser(request).id, request.params.id);
      await record(request, 'key.revoke', revoked.id);
      return revoked;
    },
  });

  app.post('/:id/rotate', {
    schema: { tags, security, summary: 'Replace the secret; the old one stops working at once', params: IdParams, response: { 200: KeyWithSecretSchema } },
    handler: async (request) => {
      const rotated = await keys.rotate(currentUser(request).id, request.params.id, callerKey(request));
      await record(request, 'key.rotate', rotated.id);
      return rotated;
    },
  });
};
