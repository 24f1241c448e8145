/** Admin incidents: list, ongoing, one, manual resolution and statistics (MTTR, counts by provider). */
import { z } from 'zod';
import { sql } from 'kysely';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../../app.ts';
import { actorOf } from '../../../domain/audit/audit.ts';
import { idIs, incidentStatistics, toIncidentView } from '../../../domain/health/incidents.ts';
import { resolveRange } from '../../../domain/analytics/range.ts';
import { DAY_MS } from '../../../domain/analytics/rollups.ts';
import { notFound } from '../../../errors.ts';

const security = [{ bearerAuth: [] }];
const tags = ['incidents'];

const IncidentSchema = z.object({
  id: z.string(),
  provider: z.string(),
  model: z.string(),
  status: z.enum(['ongoing', 'resolved']),
  started_at: z.string().describe('When the deployment was first seen down'),
  opened_at: z.string(),
  resolved_at: z.string().nullable(),
  resolution: z.enum(['recovered', 'manual']).nullable(),
  resolved_by: z.string().nullable(),
  note: z.string().nullable(),
  duration_seconds: z.number(),
  requests: z.number().describe('Outcomes in the health window when it opened'),
  failures: z.number(),
  last_status: z.number().nullable(),
  last_error_code: z.string().nullable(),
});
const IdParams = z.object({ id: z.string().regex(/^[1-9]\d{0,17}$/, 'an incident id (digits)') });

export const adminIncidentRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const db = services.database.db;
  const obs = services.observability;

  app.get('/incidents', {
    schema: {
      tags,
      summary: 'Incidents, newest first',
      security,
      querystring: z
        .object({
          status: z.enum(['ongoing', 'resolved']).optional(),
          provider: z.string().min(1).max(100).optional(),
          model: z.string().min(1).max(200).optional(),
          before_id: IdParams.shape.id.optional().describe('Paging: incidents with a smaller id'),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        })
        .strict(),
      response: { 200: z.object({ data: z.array(IncidentSchema), next_before_id: z.string().nullable() }) },
    },
    handler: async (request) => {
      const q = request.query;
      let query = db.selectFrom('incidents').selectAll().orderBy('id', 'desc').limit(q.limit + 1);
      if (q.status) query = query.where('status', '=', q.status);
      if (q.provider) query = query.where('provider', '=', q.provider);
      if (q.model) query = query.where('model', '=', q.model);
      if (q.before_id) query = query.where(sql<boolean>`id < ${q.before_id}::int8`);
      const rows = await query.execute();
      const page = rows.slice(0, q.limit);
      return { data: page.map((r) => toIncidentView(r)), next_before_id: rows.length > q.limit ? String(page[page.length - 1].id) : null };
    },
  });

  app.get('/incidents/ongoing', {
    schema: { tags, summary: 'Ongoing incidents', security, response: { 200: z.object({ data: z.array(IncidentSchema) }) } },
    handler: async () => {
      const rows = await db.selectFrom('incidents').selectAll().where('status', '=', 'ongoing').orderBy('started_at').limit(1000).execute();
      return { data: rows.map((r) => toIncidentView(r)) };
    },
  });

  app.get('/incidents/statistics', {
    schema: {
      tags,
      summary: 'Incident counts and mean time to recovery (overall and by provider) for incidents started in a range',
      security,
      querystring: z
        .object({ from: z.iso.datetime({ offset: true }).optional().describe('Default: 30 days before `to`'), to: z.iso.datetime({ offset: true }).optional() })
        .strict(),
      response: {
        200: z.object({
          from: z.string(),
          to: z.string(),
          total: z.number(),
          ongoing: z.number(),
          resolved: z.number(),
          mttr_seconds: z.number().nullable().describe('Mean time from first seen down to resolution, resolved incidents'),
          by_provider: z.array(z.object({ provider: z.string(), total: z.number(), ongoing: z.number(), resolved: z.number(), mttr_seconds: z.number().nullable() })),
        }),
      },
    },
    handler: async (request) => {
      const range = resolveRange(request.query, { defaultMs: 30 * DAY_MS, maxMs: 3660 * DAY_MS, unitMs: 1 });
      return incidentStatistics(db, range.from, range.to);
    },
  });

  app.get('/incidents/:id', {
    schema: {
      tags,
      summary: 'One incident, with the deployment’s current health',
      security,
      params: IdParams,
      response: {
        200: IncidentSchema.extend({
          current_health: z.object({ status: z.enum(['healthy', 'degraded', 'down', 'unknown']), requests: z.number(), failures: z.number(), error_rate: z.number() }).nullable(),
        }),
      },
    },
    handler: async (request) => {
      const row = await db.selectFrom('incidents').selectAll().where(idIs(request.params.id)).executeTakeFirst();
      if (!row) throw notFound(`No incident ${request.params.id}.`, 'incident_not_found', 'id');
      const h = obs.health.get(row.provider, row.model);
      return { ...toIncidentView(row), current_health: h ? { status: h.status, requests: h.requests, failures: h.failures, error_rate: h.error_rate } : null };
    },
  });

  app.post('/incidents/:id/resolve', {
    schema: {
      tags,
      summary: 'Resolve an ongoing incident by hand',
      security,
      params: IdParams,
      body: z.object({ note: z.string().max(2000).optional() }).strict().nullish(),
      response: { 200: IncidentSchema },
    },
    handler: async (request) => {
      const p = request.principal as { kind?: string; id?: string; user?: { id?: string } } | undefined;
      const by = p ? `${p.kind ?? 'principal'}:${p.user?.id ?? p.id ?? ''}` : 'unknown';
      const resolved = await obs.incidents.resolve(request.params.id, by, request.body?.note);
      await services.audit.record({ actor: actorOf(request.principal), action: 'admin.incident_resolve', targetType: 'incident', targetId: request.params.id, changes: { provider: resolved.provider, model: resolved.model, note: request.body?.note ?? null }, ip: request.ip, requestId: String(request.id) });
      return resolved;
    },
  });
};
