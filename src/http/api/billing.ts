/**
 * Billing: /api/billing/checkout, /api/billing/subscription (GET, DELETE), the Stripe webhook, and the local
 * page stub-mode checkouts point at. Every response carries `mode`: "stripe", or "stub" when STRIPE_SECRET_KEY
 * is unset (no payment is taken and nothing is credited).
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../app.ts';
import { actorOf } from '../../domain/audit/audit.ts';
import { MAX_CREDITS_USD } from '../../domain/billing/billing.ts';
import { notFound } from '../../errors.ts';
import { currentUser, requireSession } from '../auth.ts';
import { PlanViewSchema } from './plans.ts';

const tags = ['billing'];
const security = [{ bearerAuth: [] }];
const Mode = z.enum(['stripe', 'stub']).describe('"stub": STRIPE_SECRET_KEY is unset; no payment is taken');
const TierSchema = z.enum(['free', 'pro', 'power', 'team']);
/** Webhook bodies are small; anything larger is not Stripe. */
const WEBHOOK_BODY_LIMIT = 1024 * 1024;

const CheckoutBody = z
  .object({
    tier: TierSchema.optional().describe('Subscribe to a plan (pro, power or team)'),
    credits_usd: z.number().positive().max(MAX_CREDITS_USD).optional().describe('Buy prepaid credits once (USD, whole cents)'),
  })
  .strict();

const CheckoutResponse = z.object({
  mode: Mode,
  session_id: z.string(),
  checkout_url: z.string().describe('Send the user here to pay'),
  kind: z.enum(['subscription', 'credits']),
  tier: TierSchema.nullable(),
  credits_usd: z.number().nullable(),
});

const SubscriptionResponse = z.object({
  mode: Mode,
  tier: TierSchema.describe('Your current plan'),
  plan: PlanViewSchema,
  subscription: z
    .object({
      id: z.string(),
      tier: TierSchema,
      status: z.string(),
      current_period_end: z.string().nullable(),
      cancel_at_period_end: z.boolean(),
      canceled_at: z.string().nullable(),
      entitled: z.boolean().describe('Whether this subscription currently grants its plan'),
    })
    .nullable(),
  customer_id: z.string().nullable(),
});

const WebhookResponse = z.object({
  received: z.literal(true),
  mode: Mode,
  event_id: z.string(),
  type: z.string(),
  duplicate: z.boolean(),
  handled: z.boolean(),
  note: z.string().nullable(),
});

const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;
const meta = (request: FastifyRequest) => ({ ip: request.ip, requestId: String(request.id) });

export const billingRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { billing } = services;
  const session = requireSession(services.auth);

  app.post('/checkout', {
    onRequest: session,
    schema: {
      tags,
      security,
      summary: 'Start a Stripe Checkout: {tier} for a subscription or {credits_usd} for a one-time credit purchase',
      body: CheckoutBody,
      response: { 200: CheckoutResponse },
    },
    handler: async (request) => billing.checkout(currentUser(request), actorOf(request.principal), request.body, { ...meta(request), origin: origin(request) }),
  });

  app.get('/subscription', {
    onRequest: session,
    schema: { tags, security, summary: 'My plan and the subscription that sets it', response: { 200: SubscriptionResponse } },
    handler: async (request) => billing.subscription(currentUser(request)),
  });

  app.delete('/subscription', {
    onRequest: session,
    schema: {
      tags,
      security,
      summary: 'Cancel my subscription at the end of the paid period (the plan stays until then, then back to free)',
      response: { 200: SubscriptionResponse },
    },
    handler: async (request) => billing.cancel(currentUser(request), actorOf(request.principal), meta(request)),
  });

  app.get('/stub/checkout/:id', {
    schema: {
      tags,
      summary: 'Where stub-mode checkouts point: explains that no payment provider is configured',
      params: z.object({ id: z.string().min(1).max(100) }),
      response: { 200: z.object({ mode: z.literal('stub'), session_id: z.string(), message: z.string() }) },
    },
    handler: async (request) => {
      if (billing.mode !== 'stub') throw notFound('Stub checkouts exist only in stub mode.', 'route_not_found');
      return {
        mode: 'stub' as const,
        session_id: request.params.id,
        message: 'Billing runs in stub mode: STRIPE_SECRET_KEY is not set on this server, so no payment was taken and nothing changed. Configure Stripe to sell plans and credits.',
      };
    },
  });

  // The webhook needs the exact bytes Stripe signed: a raw-body parser for this route only (encapsulated).
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));
    raw.post('/webhook', {
      bodyLimit: WEBHOOK_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Stripe webhook (signature-verified with STRIPE_WEBHOOK_SECRET; each event applied exactly once)',
        response: { 200: WebhookResponse },
      },
      handler: async (request) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const signature = request.headers['stripe-signature'];
        const result = await billing.webhooks.handle(body, typeof signature === 'string' ? signature : undefined);
        return { ...result, mode: billing.mode };
      },
    });
  });
};
