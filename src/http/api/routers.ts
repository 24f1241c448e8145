/**
 * Task routers: /api/routers/code/tiers, /options, /test (a dry run: no upstream call, no metrics, no request
 * log) and /validate (checks a proposed tier configuration). Any signed-in user or account-scoped key.
 */
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Services } from '../../app.ts';
import { ChatMessageSchema, ToolDefinitionSchema } from '../../providers/chat-schema.ts';
import { CODE_MODES, decisionHeaders, modelIdOf, type RouterDataInput } from '../../gateway/routers/index.ts';
import { requireSession } from '../auth.ts';

const tags = ['routers'];
const security = [{ bearerAuth: [] }];

const Price = z.object({ input: z.number(), output: z.number() }).nullable().describe('USD per million tokens');
const ModelState = z.object({
  available: z.boolean(),
  reason: z.string().optional().describe('Why the model is not available now'),
  provider: z.string().nullable(),
  tools: z.boolean(),
  offline: z.boolean().describe('Served by the offline mock provider (a last resort)'),
  price: Price,
});
const TiersView = z.object({
  tiers: z.array(
    z.object({
      id: z.string(),
      rank: z.number().describe('1 is the strongest tier'),
      description: z.string().nullable(),
      available: z.number().describe('Models of real providers available now'),
      models: z.array(ModelState.extend({ id: z.string(), score: z.number(), strengths: z.array(z.string()) })),
    }),
  ),
  baseline: z.object({ id: z.string(), price: Price }),
  fallback: ModelState.extend({ id: z.string() }),
  default_output_tokens: z.number(),
});

const ComplexityTiers = z.object({ low: z.string(), medium: z.string(), high: z.string() });
const OptionsView = z.object({
  modes: z.array(z.object({ id: z.string(), model: z.string(), description: z.string(), tiers: ComplexityTiers, price_weight: z.number(), require_tools: z.boolean() })),
  categories: z.array(z.object({ id: z.string(), description: z.string(), min_tier: z.string().nullable() })),
  complexity: z.array(z.object({ id: z.string(), description: z.string() })),
  auto: z.object({ model: z.string(), cheap: z.array(z.string()), strong: z.array(z.string()), strong_complexity: z.string(), code_is_strong: z.boolean(), strong_min_tokens: z.number() }),
  baseline: z.string(),
  headers: z.array(z.string()),
});

const TestBody = z
  .object({
    messages: z.array(ChatMessageSchema).min(1).max(1000),
    mode: z.enum([...CODE_MODES, 'auto']).default('balanced').describe('A router:code mode, or `auto` for router:auto'),
    tools: z.array(ToolDefinitionSchema).max(128).optional(),
    max_tokens: z.number().int().positive().optional().describe('Output tokens for the savings estimate (default: the data file\'s default_output_tokens)'),
  })
  .strict();

const Savings = z.object({ baseline: z.string(), input_tokens: z.number(), output_tokens: z.number(), cost_usd: z.number(), baseline_cost_usd: z.number(), percent: z.number() });
const Decision = z.object({
  model_id: z.string().describe('The router model id tested, e.g. router:code:price'),
  router: z.enum(['code', 'auto']),
  mode: z.string(),
  label: z.string(),
  category: z.string(),
  complexity: z.string(),
  confidence: z.number(),
  signals: z.array(z.string()),
  tier: z.string(),
  target_tier: z.string(),
  model: z.string(),
  provider: z.string().nullable(),
  alternates: z.array(z.string()),
  fallback: z.string().describe('none, tier, fallback_model, any_model or offline'),
  require_tools: z.boolean(),
  reason: z.string(),
  estimated_tokens: z.object({ input: z.number(), output: z.number() }),
  savings: Savings.nullable(),
  decision_us: z.number(),
  headers: z.record(z.string(), z.string()).describe('The response headers a real request would carry'),
});

// Types are checked here (400); values (score ranges, empty tiers, unknown models) come back as problems.
const ModeProposal = z
  .object({ description: z.string(), tiers: z.object({ low: z.string(), medium: z.string(), high: z.string() }).partial().strict(), price_weight: z.number(), require_tools: z.boolean() })
  .partial()
  .strict();
const ValidateBody = z
  .object({
    tiers: z
      .array(
        z
          .object({
            id: z.string().max(100),
            description: z.string().max(1000).optional(),
            models: z.array(z.object({ id: z.string().max(300), score: z.number(), strengths: z.array(z.string().max(100)).max(50).optional(), tools: z.boolean().optional() }).strict()).max(500),
          })
          .strict(),
      )
      .max(50),
    modes: z.object({ balanced: ModeProposal, price: ModeProposal, quality: ModeProposal, agentic: ModeProposal }).partial().strict(),
    category_min_tier: z.record(z.string().max(100), z.string().max(100)),
    baseline: z.string().max(300),
    fallback: z.string().max(300),
    default_output_tokens: z.number(),
    auto: z
      .object({ cheap: z.array(z.string().max(300)).max(100), strong: z.array(z.string().max(300)).max(100), strong_complexity: z.string(), code_is_strong: z.boolean(), strong_min_tokens: z.number() })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
const ProblemList = z.array(z.object({ path: z.string(), message: z.string() }));
const ValidateView = z.object({ valid: z.boolean(), errors: ProblemList, warnings: ProblemList, summary: z.object({ tiers: z.number(), models: z.number(), available: z.number() }) });

export const routerRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const routers = services.gateway.routers;
  app.addHook('onRequest', requireSession(services.auth));

  app.get('/code/tiers', {
    schema: { tags, summary: 'Router tiers with their models, scores and what is available now', security, response: { 200: TiersView } },
    handler: async () => routers.tiersView(),
  });

  app.get('/code/options', {
    schema: { tags, summary: 'Router modes, task categories, complexity levels and the router:auto policy', security, response: { 200: OptionsView } },
    handler: async () => routers.optionsView(),
  });

  app.post('/code/test', {
    schema: {
      tags,
      summary: 'Dry-run a routing decision (no upstream call, no metrics, no request log)',
      description: 'Classifies the messages and returns the model `router:code[:mode]` (or `router:auto` with `mode: auto`) would choose, with the headers a real request would carry.',
      security,
      body: TestBody,
      response: { 200: Decision },
    },
    handler: async (request) => {
      const { messages, mode, tools, max_tokens } = request.body;
      const model = modelIdOf(mode);
      const d = routers.decide(model, { messages, tools, max_tokens });
      return { model_id: model, ...d, provider: d.provider ?? null, savings: d.savings ?? null, headers: decisionHeaders(d) };
    },
  });

  app.post('/code/validate', {
    schema: {
      tags,
      summary: 'Validate a proposed router configuration (tiers, scores, modes, baseline, auto policy)',
      description: 'The proposal is merged over the configuration in effect, as the config file\'s `routers:` key would be. Returns problems; never changes anything.',
      security,
      body: ValidateBody,
      response: { 200: ValidateView },
    },
    handler: async (request) => routers.validate(request.body as RouterDataInput),
  });
};
