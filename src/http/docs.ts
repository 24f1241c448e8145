/** OpenAPI generated from the route schemas (zod), served with Swagger UI at /docs. */
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { VERSION } from '../version.ts';

export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Switchyard',
        description: 'Self-hosted AI gateway: an OpenAI-compatible API over many providers, with usage and cost on every response.',
        version: VERSION,
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (or the operator ADMIN_API_KEY)' },
          apiKeyAuth: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same API key in `x-api-key`, as Anthropic clients send it' },
        },
      },
      tags: [
        { name: 'inference', description: 'OpenAI-compatible inference (/v1), and the Anthropic Messages API (/v1/messages)' },
        { name: 'auth', description: 'Accounts and sessions (/api/auth)' },
        { name: 'keys', description: 'API keys (/api/keys)' },
        { name: 'organizations', description: 'Organizations, members and invitations (/api/orgs)' },
        { name: 'credits', description: 'Prepaid credits, ledger and usage (/api/credits, /api/usage)' },
        { name: 'billing', description: 'Plans and Stripe billing (/api/plans, /api/billing)' },
        { name: 'coupons', description: 'Coupon redemption (/api/coupons) and management (/api/admin/coupons)' },
        { name: 'routers', description: 'Task routers router:code and router:auto: tiers, options, dry runs, validation (/api/routers)' },
        { name: 'admin', description: 'Operator API (/api/admin), admin role required' },
        { name: 'ops', description: 'Health, readiness, metrics' },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
