/** Coupons for signed-in users: /api/coupons/redeem, /api/coupons/available, /api/coupons/history. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { COUPON_TYPES, CouponService } from '../../domain/credits/coupons.ts';
import type { Owner } from '../../domain/credits/ledger.ts';
import { actorOf } from '../../domain/audit/audit.ts';
import { currentUser, requireSession } from '../auth.ts';

const tags = ['coupons'];
const security = [{ bearerAuth: [] }];

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
});

export const RedemptionViewSchema = z.object({
  id: z.string(),
  coupon_id: z.string(),
  code: z.string(),
  type: z.enum(COUPON_TYPES),
  value_usd: z.number(),
  value_pico: z.string().describe('Exact value in pico-USD (1e-12 USD)'),
  account_id: z.string().describe('The credit account that received the value'),
  transaction_id: z.string().describe('The ledger entry'),
  created_at: z.string(),
});

const AvailableSchema = z.object({
  id: z.string(),
  code: z.string(),
  type: z.enum(COUPON_TYPES),
  value_usd: z.number(),
  description: z.string().nullable(),
  valid_from: z.string().nullable(),
  valid_until: z.string().nullable(),
  assigned_to_you: z.boolean(),
  remaining_uses: z.number().nullable().describe('Uses left across all users; null: unlimited'),
  your_redemptions: z.number(),
  your_remaining: z.number(),
});

export const couponRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { orgs, database, ledger, audit, config } = services;
  const coupons = new CouponService(database.db, ledger, audit, config.credits);
  app.addHook('onRequest', requireSession(services.auth));

  app.post('/redeem', {
    schema: {
      tags,
      security,
      summary: 'Redeem a coupon code (case-insensitive) for credits, once per user unless the coupon allows more',
      description:
        'Credits your own account, or with `org_id` an organization you own or administer. Errors: 404 `coupon_not_found`; 400 `coupon_inactive`, `coupon_not_yet_valid`, `coupon_expired`; 409 `coupon_already_redeemed`, `coupon_exhausted`.',
      body: z
        .object({
          code: z.string().trim().min(1).max(64),
          org_id: z.string().min(1).max(64).optional().describe('An organization you own or administer'),
        })
        .strict(),
      response: { 200: RedemptionViewSchema.extend({ balance_usd: z.number(), balance_pico: z.string() }) },
    },
    handler: async (request) => {
      const user = currentUser(request);
      let owner: Owner = { type: 'user', id: user.id };
      if (request.body.org_id) {
        await orgs.requireManager(request.body.org_id, user.id);
        owner = { type: 'org', id: request.body.org_id };
      }
      return coupons.redeem(request.body.code, user.id, owner, actorOf(request.principal), { ip: request.ip, requestId: String(request.id) });
    },
  });

  app.get('/available', {
    schema: {
      tags,
      security,
      summary: 'Coupons you could redeem now: public live ones with uses left and those assigned to you, minus those you used up',
      querystring: PageQuery,
      response: { 200: z.object({ data: z.array(AvailableSchema), next_cursor: z.string().nullable(), total: z.number() }) },
    },
    handler: async (request) => coupons.available(currentUser(request).id, request.query),
  });

  app.get('/history', {
    schema: {
      tags,
      security,
      summary: 'Your redemptions, newest first (cursor paging, true totals)',
      querystring: PageQuery,
      response: { 200: z.object({ data: z.array(RedemptionViewSchema), next_cursor: z.string().nullable(), total: z.number(), total_value_usd: z.number() }) },
    },
    handler: async (request) => coupons.history(currentUser(request).id, request.query),
  });
};
