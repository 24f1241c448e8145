/** The caller's credits and usage: /api/credits and /api/usage (own account, or an org's with ?org_id=). */
import { z } from 'zod';
import { sql } from 'kysely';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../app.ts';
import { listTransactions, SummaryQuerySchema, TransactionFilterSchema } from '../../domain/credits/queries.ts';
import { picoToUsdNumber } from '../../domain/credits/units.ts';
import { afterCursor, cursorTs, decodeCursor, encodeCursor } from '../../domain/paging.ts';
import { badRequest } from '../../errors.ts';
import { currentUser, requireSession } from '../auth.ts';
import type { Owner } from '../../domain/credits/ledger.ts';

const tags = ['credits'];
const security = [{ bearerAuth: [] }];
const OrgQuery = z.object({ org_id: z.string().min(1).max(64).optional().describe('An organization you belong to') });

export const CreditViewSchema = z.object({
  account_id: z.string(),
  balance_usd: z.number(),
  balance_pico: z.string().describe('Exact balance in pico-USD (1e-12 USD)'),
  reserved_usd: z.number().describe('Held by requests in flight'),
  pending_charges_usd: z.number().describe('Settled charges not yet written to the ledger'),
  available_usd: z.number(),
  currency: z.literal('USD'),
});

export const TransactionViewSchema = z.object({
  id: z.string(),
  account_id: z.string(),
  kind: z.string(),
  amount_usd: z.number(),
  balance_after_usd: z.number(),
  amount_pico: z.string(),
  balance_after_pico: z.string(),
  reference_type: z.string().nullable(),
  reference_id: z.string().nullable(),
  refund_of: z.string().nullable(),
  api_key_id: z.string().nullable(),
  model: z.string().nullable(),
  reason: z.string().nullable(),
  actor_type: z.string(),
  actor_id: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  created_at: z.string(),
});

export const TransactionPageSchema = z.object({
  data: z.array(TransactionViewSchema),
  next_cursor: z.string().nullable(),
  total: z.number(),
  totals: z.object({ credits_usd: z.number(), debits_usd: z.number(), net_usd: z.number() }),
});

export const creditRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { ledger, credits, orgs, database } = services;
  app.addHook('onRequest', requireSession(services.auth));

  /** My account, or an org's when I am a member. */
  async function owner(request: FastifyRequest, orgId: string | undefined): Promise<Owner> {
    const user = currentUser(request);
    if (!orgId) return { type: 'user', id: user.id };
    await orgs.requireMember(orgId, user.id);
    return { type: 'org', id: orgId };
  }

  app.get('/credits', {
    schema: { tags, security, summary: 'Balance, reserved and available credit (USD)', querystring: OrgQuery, response: { 200: CreditViewSchema } },
    handler: async (request) => {
      const acct = await ledger.account(await owner(request, request.query.org_id));
      return credits.view(acct.id);
    },
  });

  app.get('/credits/transactions', {
    schema: {
      tags,
      security,
      summary: 'Ledger entries (filters, cursor paging, totals over all matches)',
      querystring: TransactionFilterSchema.extend(OrgQuery.shape),
      response: { 200: TransactionPageSchema },
    },
    handler: async (request) => {
      const acct = await ledger.account(await owner(request, request.query.org_id));
      return listTransactions(database.db, [acct.id], request.query);
    },
  });

  const UsageRow = z.object({
    request_id: z.string(),
    created_at: z.string(),
    endpoint: z.string(),
    model: z.string().nullable(),
    provider: z.string().nullable(),
    status: z.number(),
    stream: z.boolean(),
    input_tokens: z.number(),
    cached_tokens: z.number(),
    output_tokens: z.number(),
    cost_usd: z.number(),
    latency_ms: z.number(),
    /** Streams only: from the request reaching its handler to the first token sent; null without one. */
    ttft_ms: z.number().nullable(),
    api_key_id: z.string().nullable(),
  });

  app.get('/usage', {
    schema: {
      tags,
      security,
      summary: 'My recent inference requests, newest first (cursor paging)',
      querystring: OrgQuery.extend({ limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional(), model: z.string().max(200).optional() }),
      response: { 200: z.object({ data: z.array(UsageRow), next_cursor: z.string().nullable() }) },
    },
    handler: async (request) => {
      const o = await owner(request, request.query.org_id);
      let q = database.db.selectFrom('request_logs').selectAll().select(cursorTs().as('cursor_ts'));
      q = o.type === 'user' ? q.where('user_id', '=', o.id) : q.where('org_id', '=', o.id);
      if (request.query.model) q = q.where('model', '=', request.query.model);
      const cursor = decodeCursor(request.query.cursor);
      if (cursor) q = q.where(afterCursor(cursor, { id: 'bigint' }));
      const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(request.query.limit + 1).execute();
      const data = rows.slice(0, request.query.limit);
      const last = data[data.length - 1];
      return {
        data: data.map((r) => ({
          request_id: r.request_id,
          created_at: new Date(r.created_at).toISOString(),
          endpoint: r.endpoint,
          model: r.model,
          provider: r.provider,
          status: r.status,
          stream: r.stream,
          input_tokens: r.input_tokens + r.cache_read_tokens + r.cache_write_tokens,
          cached_tokens: r.cache_read_tokens,
          output_tokens: r.output_tokens,
          cost_usd: picoToUsdNumber(BigInt(r.cost_pico)),
          latency_ms: r.latency_ms,
          ttft_ms: r.ttft_ms,
          api_key_id: r.api_key_id,
        })),
        next_cursor: rows.length > request.query.limit && last ? encodeCursor(last.cursor_ts, String(last.id)) : null,
      };
    },
  });

  app.get('/usage/summary', {
    schema: {
      tags,
      security,
      summary: 'Requests, tokens and cost per model and UTC day (default: last 30 days; at most 366)',
      querystring: SummaryQuerySchema.extend(OrgQuery.shape),
      response: {
        200: z.object({
          from: z.string(),
          to: z.string(),
          totals: z.object({ requests: z.number(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() }),
          by_model: z.array(z.object({ model: z.string().nullable(), requests: z.number(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() })),
          by_day: z.array(z.object({ date: z.string(), model: z.string().nullable(), requests: z.number(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number() })),
        }),
      },
    },
    handler: async (request) => {
      const o = await owner(request, request.query.org_id);
      const to = request.query.to ? new Date(request.query.to) : new Date();
      const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - 30 * 86_400_000);
      if (from >= to) throw badRequest('from must be before to.', 'invalid_range', 'from');
      if (to.getTime() - from.getTime() > 366 * 86_400_000) throw badRequest('The range can span at most 366 days.', 'range_too_long', 'from');
      // Raw rows, not the rollups: those are kept per key and user without the model, and per model without the
      // owner, so "one owner's usage per model and day" (or any org's) is not in them. Bounded by the range (at
      // most 366 days) and read through (user_id, created_at) or (org_id, created_at).
      let q = database.db.selectFrom('request_logs').where('created_at', '>=', from).where('created_at', '<', to);
      q = o.type === 'user' ? q.where('user_id', '=', o.id) : q.where('org_id', '=', o.id);
      const rows = await q
        .select([
          sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`.as('day'),
          'model',
          sql<string>`count(*)`.as('n'),
          sql<string>`sum(input_tokens + cache_read_tokens + cache_write_tokens)`.as('input'),
          sql<string>`sum(output_tokens)`.as('output'),
          sql<string>`sum(cost_pico)`.as('cost'),
        ])
        .groupBy([sql`1`, 'model'])
        .orderBy(sql`1`)
        .orderBy('model')
        .execute();
      const byModel = new Map<string | null, { requests: number; input: number; output: number; cost: bigint }>();
      const totals = { requests: 0, input: 0, output: 0, cost: 0n };
      const byDay = rows.map((r) => {
        const m = byModel.get(r.model) ?? { requests: 0, input: 0, output: 0, cost: 0n };
        m.requests += Number(r.n);
        m.input += Number(r.input);
        m.output += Number(r.output);
        m.cost += BigInt(r.cost);
        byModel.set(r.model, m);
        totals.requests += Number(r.n);
        totals.input += Number(r.input);
        totals.output += Number(r.output);
        totals.cost += BigInt(r.cost);
        return { date: r.day, model: r.model, requests: Number(r.n), input_tokens: Number(r.input), output_tokens: Number(r.output), cost_usd: picoToUsdNumber(BigInt(r.cost)) };
      });
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        totals: { requests: totals.requests, input_tokens: totals.input, output_tokens: totals.output, cost_usd: picoToUsdNumber(totals.cost) },
        by_model: [...byModel].map(([model, m]) => ({ model, requests: m.requests, input_tokens: m.input, output_tokens: m.output, cost_usd: picoToUsdNumber(m.cost) })),
        by_day: byDay,
      };
    },
  });
};
