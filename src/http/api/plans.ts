/** The plan table, public: GET /api/plans. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { planView } from '../../domain/plans/plans.ts';

export const PlanViewSchema = z.object({
  id: z.enum(['free', 'pro', 'power', 'team']),
  name: z.string(),
  price_usd: z.number().describe('Monthly list price'),
  currency: z.literal('USD'),
  interval: z.literal('month'),
  rpm: z.number().describe('Requests per minute'),
  features: z.object({
    agents: z.boolean(),
    batch: z.boolean(),
    providers: z.array(z.string()).describe('Provider ids (globs) this plan may use; ["*"] is all'),
    sso: z.boolean(),
  }),
  monthly_credit_usd: z.number().describe('Credit granted on each paid subscription invoice'),
  stripe_price_id: z.string().nullable(),
});

export const planRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/plans', {
    schema: {
      tags: ['billing'],
      summary: 'Plans and tiers: price, requests per minute, features and monthly credit allowance (public)',
      response: { 200: z.object({ data: z.array(PlanViewSchema), billing_mode: z.enum(['stripe', 'stub']) }) },
    },
    handler: async () => ({ data: services.plans.all().map(planView), billing_mode: services.billing.mode }),
  });
};
