/** Zod schemas for catalog entries: admin upserts, the shipped seed file and API responses. */
import { z } from 'zod';

const price = z.number().nonnegative().max(1_000_000);

export const PricingBodySchema = z.object({
  input: price.describe('USD per million input tokens'),
  output: price.describe('USD per million output tokens'),
  cached_input: price.nullable().optional().describe('USD per million cached input tokens read (defaults to input)'),
  cache_write: price.nullable().optional().describe('USD per million tokens written to the prompt cache (defaults to input)'),
});

export const CapabilitiesSchema = z.record(z.string(), z.boolean());

export const ModelUpsertSchema = z
  .object({
    id: z.string().min(3).max(200).regex(/^[a-z0-9][a-z0-9_-]*\/\S+$/, 'must be "provider/model"'),
    provider: z.string().min(1).max(64),
    upstream_id: z.string().min(1).max(200).optional(),
    name: z.string().min(1).max(200).optional(),
    kind: z.enum(['chat', 'embedding']).optional(),
    context_length: z.number().int().positive().nullable().optional(),
    max_output_tokens: z.number().int().positive().nullable().optional(),
    pricing: PricingBodySchema,
    capabilities: CapabilitiesSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((m) => m.id.startsWith(`${m.provider}/`), { message: 'id must start with "<provider>/"', path: ['id'] });
export type ModelUpsert = z.infer<typeof ModelUpsertSchema>;

export const SeedCatalogSchema = z.object({
  as_of: z.string(),
  sources: z.array(z.string()).default([]),
  models: z.array(
    z.object({
      id: z.string(),
      provider: z.string(),
      upstream_id: z.string(),
      name: z.string(),
      kind: z.enum(['chat', 'embedding']).default('chat'),
      context_length: z.number().int().positive().optional(),
      max_output_tokens: z.number().int().positive().optional(),
      pricing: PricingBodySchema,
      capabilities: CapabilitiesSchema.default({}),
    }),
  ),
});

export const ModelViewSchema = z.object({
  id: z.string(),
  provider: z.string(),
  upstream_id: z.string(),
  name: z.string(),
  kind: z.enum(['chat', 'embedding']),
  context_length: z.number().nullable(),
  max_output_tokens: z.number().nullable(),
  pricing: z.object({ input: z.number(), output: z.number(), cached_input: z.number().optional(), cache_write: z.number().optional() }),
  capabilities: CapabilitiesSchema,
  enabled: z.boolean(),
  source: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type ModelView = z.infer<typeof ModelViewSchema>;
