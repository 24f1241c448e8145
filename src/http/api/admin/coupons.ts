/** Admin coupon management, each change audited: /api/admin/coupons*. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../app.ts';
import { COUPON_STATUSES, COUPON_TYPES, CouponService } from '../../../domain/credits/coupons.ts';
import { actorOf } from '../../../domain/audit/audit.ts';

const tags = ['admin', 'coupons'];
const security = [{ bearerAuth: [] }];
const CouponId = z.object({ id: z.string().min(1).max(64) });
const DateTime = z.iso.datetime({ offset: true });

export const CouponViewSchema = z.object({
  id: z.string(),
  code: z.string(),
  type: z.enum(COUPON_TYPES),
  value_usd: z.number(),
  value_pico: z.string().describe('Exact value in pico-USD (1e-12 USD)'),
  max_uses: z.number().nullable().describe('Uses across all users; null: unlimited (assigned coupons, and coupons created before uses were capped)'),
  per_user_limit: z.number(),
  uses: z.number(),
  remaining_uses: z.number().nullable(),
  valid_from: z.string().nullable(),
  valid_until: z.string().nullable(),
  assigned_user_id: z.string().nullable(),
  description: z.string().nullable(),
  active: z.boolean(),
  status: z.enum(COUPON_STATUSES),
  created_by: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const CreateSchema = z
  .object({
    code: z
      .string()
      .trim()
      .min(3)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "-" and "_" only')
      .describe('Case-insensitive; stored upper-cased'),
    value_usd: z.number().positive().max(1_000_000_000).describe('At most 6 decimals; at most ADMIN_MAX_CREDIT_GRANT'),
    type: z.enum(COUPON_TYPES),
    max_uses: z
      .number()
      .int()
      .positive()
      .max(1_000_000_000)
      .nullable()
      .optional()
      .describe('Across all users; required unless assigned_user_id is set (then per_user_limit bounds it). value_usd x uses counts against ADMIN_DAILY_GRANT_LIMIT'),
    per_user_limit: z.number().int().positive().max(1_000_000).default(1),
    valid_from: DateTime.nullable().optional(),
    valid_until: DateTime.nullable().optional().describe('Must be in the future and after valid_from'),
    assigned_user_id: z.string().min(1).max(64).nullable().optional().describe('Only this user may see and redeem it'),
    description: z.string().trim().max(500).nullable().optional(),
  })
  .strict();

const UpdateSchema = z
  .object({
    description: z.string().trim().max(500).nullable().optional(),
    max_uses: z.number().int().positive().max(1_000_000_000).nullable().optional().describe('Not below the uses already made; a raise counts value_usd x the extra uses against ADMIN_DAILY_GRANT_LIMIT; null only for an assigned coupon'),
    valid_until: DateTime.nullable().optional().describe('After valid_from; a past time ends the coupon now; null: no end'),
    active: z.boolean().optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'give at least one field to change' });

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(300).optional(),
  active: z.enum(['true', 'false']).optional(),
  status: z.enum(COUPON_STATUSES).optional(),
  type: z.enum(COUPON_TYPES).optional(),
  q: z.string().trim().min(1).max(200).optional().describe('Part of the code or description, or an exact id'),
  assigned_user_id: z.string().min(1).max(64).optional(),
});

const CountsByType = z.object(Object.fromEntries(COUPON_TYPES.map((t) => [t, z.number()])) as Record<(typeof COUPON_TYPES)[number], z.ZodNumber>);
const CountsByStatus = z.object(Object.fromEntries(COUPON_STATUSES.map((t) => [t, z.number()])) as Record<(typeof COUPON_STATUSES)[number], z.ZodNumber>);

export const adminCouponRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { database, ledger, audit, config } = services;
  const coupons = new CouponService(database.db, ledger, audit, config.credits);
  const meta = (request: FastifyRequest) => ({ ip: request.ip, requestId: String(request.id) });

  app.post('/coupons', {
    schema: {
      tags,
      security,
      summary: 'Create a coupon (409 coupon_code_exists on a duplicate code, in any case)',
      body: CreateSchema,
      response: { 201: CouponViewSchema },
    },
    handler: async (request, reply) => reply.code(201).send(await coupons.create(request.body, actorOf(request.principal), meta(request))),
  });

  app.get('/coupons', {
    schema: {
      tags,
      security,
      summary: 'List coupons (filters: active, status, type, q, assigned_user_id; cursor paging with true totals)',
      querystring: ListQuery,
      response: { 200: z.object({ data: z.array(CouponViewSchema), next_cursor: z.string().nullable(), total: z.number() }) },
    },
    handler: async (request) => coupons.list(request.query),
  });

  app.get('/coupons/stats', {
    schema: {
      tags,
      security,
      summary: 'Coupon counts by type and status, and the value redeemed (computed in SQL)',
      response: {
        200: z.object({
          total: z.number(),
          by_type: CountsByType,
          by_status: CountsByStatus,
          by_type_status: z.array(z.object({ type: z.enum(COUPON_TYPES), status: z.enum(COUPON_STATUSES), count: z.number() })),
          redemptions: z.number(),
          unique_users: z.number(),
          value_redeemed_usd: z.number(),
          value_redeemed_pico: z.string(),
          redeemed_by_type: z.array(z.object({ type: z.enum(COUPON_TYPES), redemptions: z.number(), unique_users: z.number(), value_redeemed_usd: z.number() })),
        }),
      },
    },
    handler: async () => coupons.stats(),
  });

  app.get('/coupons/:id', {
    schema: { tags, security, summary: 'One coupon', params: CouponId, response: { 200: CouponViewSchema } },
    handler: async (request) => coupons.get(request.params.id),
  });

  app.get('/coupons/:id/analytics', {
    schema: {
      tags,
      security,
      summary: 'Redemptions of one coupon by UTC day, unique users, value redeemed and remaining uses',
      params: CouponId,
      response: {
        200: z.object({
          coupon_id: z.string(),
          code: z.string(),
          status: z.enum(COUPON_STATUSES),
          uses: z.number(),
          max_uses: z.number().nullable(),
          remaining_uses: z.number().nullable(),
          redemptions: z.number(),
          unique_users: z.number(),
          accounts_credited: z.number(),
          value_redeemed_usd: z.number(),
          value_redeemed_pico: z.string(),
          first_redeemed_at: z.string().nullable(),
          last_redeemed_at: z.string().nullable(),
          by_day: z.array(z.object({ date: z.string(), redemptions: z.number(), unique_users: z.number(), value_usd: z.number() })),
        }),
      },
    },
    handler: async (request) => coupons.analytics(request.params.id),
  });

  app.patch('/coupons/:id', {
    schema: {
      tags,
      security,
      summary: 'Change description, max_uses (not below uses), valid_until or active',
      params: CouponId,
      body: UpdateSchema,
      response: { 200: CouponViewSchema },
    },
    handler: async (request) => coupons.update(request.params.id, request.body, actorOf(request.principal), meta(request)),
  });

  app.delete('/coupons/:id', {
    schema: { tags, security, summary: 'Deactivate a coupon (its history and redemptions stay)', params: CouponId, response: { 200: CouponViewSchema } },
    handler: async (request) => coupons.deactivate(request.params.id, actorOf(request.principal), meta(request)),
  });
};
