/**
 * Zod schemas for the OpenAI-compatible request bodies: the single source for validation, TypeScript types
 * and OpenAPI. Objects are `.loose()` so parameters we do not know yet pass through to OpenAI-compatible
 * upstreams unchanged.
 */
import { z } from 'zod';

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).loose();
const ImagePart = z
  .object({
    type: z.literal('image_url'),
    image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }).loose(),
  })
  .loose();
const OtherPart = z.object({ type: z.string() }).loose();
export const ContentPartSchema = z.union([TextPart, ImagePart, OtherPart]);
export type ContentPart = z.infer<typeof ContentPartSchema>;

const ToolCallSchema = z
  .object({
    id: z.string(),
    type: z.literal('function').default('function'),
    function: z.object({ name: z.string(), arguments: z.string() }).loose(),
  })
  .loose();

export const ChatMessageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(ContentPartSchema), z.null()]).optional(),
    name: z.string().optional(),
    tool_calls: z.array(ToolCallSchema).optional(),
    tool_call_id: z.string().optional(),
  })
  .loose();
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ToolDefinitionSchema = z
  .object({
    type: z.literal('function'),
    function: z
      .object({
        name: z.string().min(1).max(128),
        description: z.string().optional(),
        parameters: z.record(z.string(), z.unknown()).optional(),
        strict: z.boolean().nullable().optional(),
      })
      .loose(),
  })
  .loose();
export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;

const ToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }).loose(),
]);

const ResponseFormatSchema = z.union([
  z.object({ type: z.literal('text') }).loose(),
  z.object({ type: z.literal('json_object') }).loose(),
  z
    .object({
      type: z.literal('json_schema'),
      json_schema: z
        .object({
          name: z.string(),
          description: z.string().optional(),
          schema: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullable().optional(),
        })
        .loose(),
    })
    .loose(),
]);

const providerIds = z.array(z.string().min(1).max(64)).max(50);

const sortBy = z.enum(['price', 'throughput', 'latency']);
const usdPerMillion = z.number().nonnegative();

/**
 * OpenRouter's `provider` object. The fields the gateway acts on are typed strictly (a wrong type is a 400);
 * OpenRouter's other fields (`require_parameters`, `data_collection`, `zdr`, `quantizations`,
 * `preferred_min_throughput`, ... and any added later) are accepted and ignored: objects are `.loose()`.
 */
export const ProviderPreferencesSchema = z
  .object({
    order: providerIds.optional(),
    only: providerIds.optional(),
    ignore: providerIds.optional(),
    allow_fallbacks: z.boolean().optional(),
    sort: z
      .union([sortBy, z.object({ by: sortBy, partition: z.enum(['model', 'none']).nullable().optional() }).loose()])
      .optional()
      .describe('"price" | "throughput" | "latency", or {by, partition: "model" (default: sort within each model) | "none" (across models)}'),
    max_price: z
      .object({
        prompt: usdPerMillion.optional(),
        completion: usdPerMillion.optional(),
        // Accepted for OpenRouter compatibility, not enforced (no per-request / per-image / audio prices here).
        request: usdPerMillion.optional(),
        image: usdPerMillion.optional(),
        audio: usdPerMillion.optional(),
      })
      .loose()
      .optional()
      .describe('USD per million tokens; prompt and completion are enforced'),
    // Accepted for OpenRouter compatibility and ignored (no equivalent here).
    require_parameters: z.boolean().optional(),
    data_collection: z.enum(['allow', 'deny']).optional(),
    zdr: z.boolean().optional(),
    enforce_distillable_text: z.boolean().optional(),
    quantizations: z.array(z.string()).optional(),
  })
  .loose();

export const ChatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(ChatMessageSchema).min(1),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).loose().nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    n: z.number().int().min(1).max(128).nullable().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    logit_bias: z.record(z.string(), z.number()).nullable().optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    tools: z.array(ToolDefinitionSchema).optional(),
    tool_choice: ToolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: ResponseFormatSchema.optional(),
    reasoning_effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable().optional(),
    user: z.string().optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
    // Switchyard routing (OpenRouter-compatible); consumed by the gateway, never sent upstream.
    models: z.array(z.string().min(1).max(200)).max(10).optional().describe('Ordered fallback models, tried after `model`'),
    provider: ProviderPreferencesSchema.optional().describe('Provider preferences: order, only, ignore, allow_fallbacks, sort, max_price'),
  })
  .loose();
export type ChatRequest = z.infer<typeof ChatRequestSchema>;

/** The routing fields the gateway consumes; everything else goes upstream. */
export const ROUTING_FIELDS = ['models', 'provider', 'route'] as const;

export const EmbeddingsRequestSchema = z
  .object({
    model: z.string().min(1),
    input: z.union([
      z.string(),
      z.array(z.string()).min(1).max(2048),
      z.array(z.number().int()).min(1),
      z.array(z.array(z.number().int()).min(1)).min(1).max(2048),
    ]),
    encoding_format: z.enum(['float', 'base64']).optional(),
    dimensions: z.number().int().positive().optional(),
    user: z.string().optional(),
  })
  .loose();
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequestSchema>;
