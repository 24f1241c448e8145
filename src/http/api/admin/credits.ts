/** Admin credit operations, each audited: /api/admin/credits/*. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app.ts';
import { CreditAdmin } from '../../../domain/credits/grants.ts';
import type { Owner } from '../../../domain/credits/ledger.ts';
import { listTransactions, summarize, SummaryQuerySchema, TransactionFilterSchema } from '../../../domain/credits/queries.ts';
import { picoToUsdNumber, usdToPico } from '../../../domain/credits/units.ts';
import { actorOf } from '../../../domain/audit/audit.ts';
import { AppError, badRequest } from '../../../errors.ts';
import { CreditViewSchema, TransactionPageSchema, TransactionViewSchema } from '../credits.ts';

const tags = ['admin'];
const security = [{ bearerAuth: [] }];
const Reason = z.string().trim().min(10, 'must be at least 10 characters').max(500);
const Amount = z.number().positive().max(1_000_000_000);
const OwnerRef = z.object({ user_id: z.string().min(1).max(64).optional(), org_id: z.string().min(1).max(64).optional() });
const oneOwner = (b: { user_id?: string; org_id?: string }) => (b.user_id ? 1 : 0) + (b.org_id ? 1 : 0) === 1;
const ownerOf = (b: { user_id?: string; org_id?: string }): Owner => (b.user_id ? { type: 'user', id: b.user_id } : { type: 'org', id: b.org_id! });
const OWNER_MSG = { message: 'give exactly one of user_id or org_id', path: ['user_id'] };

export const adminCreditRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { ledger, credits, charges, audit, database, config } = services;
  const admin = new CreditAdmin(database.db, ledger, audit, config.credits, { flush: () => charges.flush(), held: (id) => credits.held(id) });
  const meta = (request: FastifyRequest) => ({ ip: request.ip, requestId: String(request.id) });

  app.post('/credits/add', {
    schema: {
      tags,
      security,
      summary: 'Grant credits to a user or an org (capped per grant and per admin per rolling 24 hours)',
      body: OwnerRef.extend({ amount_usd: Amount, reason: Reason }).strict().refine(oneOwner, OWNER_MSG),
      response: { 201: TransactionViewSchema },
    },
    handler: async (request, reply) => {
      const [tx] = await admin.grant(actorOf(request.principal), [{ owner: ownerOf(request.body), amountPico: usdToPico(request.body.amount_usd), reason: request.body.reason }], meta(request));
      return reply.code(201).send(tx);
    },
  });

  app.post('/credits/bulk-add', {
    schema: {
      tags,
      security,
      summary: 'Grant to up to 100 accounts in one transaction; caps apply to the total; per-account results',
      body: z
        .object({
          reason: Reason,
          grants: z.array(OwnerRef.extend({ amount_usd: Amount }).strict().refine(oneOwner, OWNER_MSG)).min(1).max(100),
        })
        .strict(),
      response: {
        200: z.object({
          granted: z.number(),
          total_usd: z.number(),
          results: z.array(z.object({ user_id: z.string().optional(), org_id: z.string().optional(), ok: z.boolean(), transaction_id: z.string().optional(), error: z.string().optional() })),
        }),
      },
    },
    handler: async (request) => {
      const results: { user_id?: string; org_id?: string; ok: boolean; transaction_id?: string; error?: string }[] = [];
      const valid: { index: number; owner: Owner; amountPico: bigint }[] = [];
      const seen = new Set<string>();
      for (const [index, g] of request.body.grants.entries()) {
        const owner = ownerOf(g);
        const ref = owner.type === 'user' ? { user_id: owner.id } : { org_id: owner.id };
        const key = `${owner.type}:${owner.id}`;
        try {
          if (seen.has(key)) throw badRequest('listed twice', 'duplicate');
          seen.add(key);
          await admin.assertOwner(owner);
          valid.push({ index, owner, amountPico: usdToPico(g.amount_usd) });
          results.push({ ...ref, ok: true });
        } catch (err) {
          results.push({ ...ref, ok: false, error: err instanceof AppError ? err.message : 'failed' });
        }
      }
      const txs = valid.length ? await admin.grant(actorOf(request.principal), valid.map((v) => ({ owner: v.owner, amountPico: v.amountPico, reason: request.body.reason })), meta(request)) : [];
      txs.forEach((tx, i) => (results[valid[i].index].transaction_id = tx.id));
      return { granted: txs.length, total_usd: picoToUsdNumber(valid.reduce((s, v) => s + v.amountPico, 0n)), results };
    },
  });

  app.post('/credits/adjust', {
    schema: {
      tags,
      security,
      summary: 'A signed correction: positive ones count against the grant caps; negative ones never go below zero or below what in-flight requests hold',
      body: OwnerRef.extend({ amount_usd: z.number().min(-1_000_000_000).max(1_000_000_000), reason: Reason }).strict().refine(oneOwner, OWNER_MSG),
      response: { 201: TransactionViewSchema },
    },
    handler: async (request, reply) => {
      const b = request.body;
      const pico = b.amount_usd < 0 ? -usdToPico(-b.amount_usd) : usdToPico(b.amount_usd);
      return reply.code(201).send(await admin.adjust(actorOf(request.principal), ownerOf(b), pico, b.reason, meta(request)));
    },
  });

  app.post('/credits/refund', {
    schema: {
      tags,
      security,
      summary: 'Refund (part of) a charge; all refunds of a charge together never exceed it',
      body: z.object({ transaction_id: z.string().min(1).max(30), amount_usd: Amount.optional(), reason: Reason }).strict(),
      response: { 201: TransactionViewSchema },
    },
    handler: async (request, reply) => {
      const b = request.body;
      const actor = actorOf(request.principal);
      const tx = await ledger.refund(b.transaction_id, b.amount_usd === undefined ? undefined : usdToPico(b.amount_usd), b.reason, actor, (trx, row) =>
        audit.record({ actor, action: 'admin.credit_refund', targetType: 'transaction', targetId: b.transaction_id, changes: { amount_usd: picoToUsdNumber(row.amount), reason: b.reason, refund_id: String(row.id) }, ...meta(request) }, trx),
      );
      return reply.code(201).send(tx);
    },
  });

  const AccountFilter = OwnerRef.extend({ account_id: z.string().min(1).max(64).optional() });
  /** Reads never write: an unknown user or org is a 404; one without a credit account has no entries. */
  async function accountsFor(q: { user_id?: string; org_id?: string; account_id?: string }): Promise<string[] | 'all'> {
    if (q.account_id) return [q.account_id];
    const owner: Owner | undefined = q.user_id ? { type: 'user', id: q.user_id } : q.org_id ? { type: 'org', id: q.org_id } : undefined;
    if (!owner) return 'all';
    await admin.assertOwner(owner, database.db, { includeDeleted: true });
    const acct = await ledger.findAccount(owner);
    return acct ? [acct.id] : [];
  }

  app.get('/credits/transactions', {
    schema: {
      tags,
      security,
      summary: 'All ledger entries with filters (account, kind, dates, amount range, direction), sorting and true totals',
      querystring: TransactionFilterSchema.extend(AccountFilter.shape),
      response: { 200: TransactionPageSchema },
    },
    handler: async (request) => listTransactions(database.db, await accountsFor(request.query), request.query),
  });

  app.get('/credits/summary', {
    schema: {
      tags,
      security,
      summary: 'Totals by kind and by day, for one account or the whole system (computed in SQL)',
      querystring: SummaryQuerySchema.extend(AccountFilter.shape),
      response: {
        200: z.object({
          from: z.string(),
          to: z.string(),
          by_kind: z.array(z.object({ kind: z.string(), count: z.number(), total_usd: z.number() })),
          by_day: z.array(z.object({ date: z.string(), kind: z.string(), count: z.number(), total_usd: z.number() })),
        }),
      },
    },
    handler: async (request) => summarize(database.db, await accountsFor(request.query), request.query),
  });

  app.get('/credits/accounts/:id', {
    schema: {
      tags,
      security,
      summary: 'One account: balance, holds, and the ledger invariant check (balance == sum of entries)',
      params: z.object({ id: z.string().min(1).max(64) }),
      response: { 200: CreditViewSchema.extend({ owner_type: z.string(), owner_id: z.string(), ledger_sum_usd: z.number(), invariant_ok: z.boolean() }) },
    },
    handler: async (request) => {
      const acct = await ledger.accountById(request.params.id);
      if (!acct) throw new AppError(404, 'not_found_error', `No credit account "${request.params.id}".`, 'account_not_found', 'id');
      const check = await ledger.verify(acct.id);
      return { ...(await credits.view(acct.id)), owner_type: acct.ownerType, owner_id: acct.ownerId, ledger_sum_usd: picoToUsdNumber(check.sum), invariant_ok: check.ok };
    },
  });
};
