/**
 * Zod schemas for the inbound Anthropic Messages API (`POST /v1/messages`, anthropic-version 2023-06-01):
 * validation, TypeScript types and OpenAPI from one source. Objects are `.loose()` so fields Anthropic adds
 * later do not fail validation; content blocks are a closed set, because a block the gateway cannot
 * translate must be a clear 400, not silently dropped.
 */
import { z } from 'zod';
import { ProviderPreferencesSchema } from '../../../providers/chat-schema.ts';

const CacheControl = z.object({ type: z.string() }).loose().nullable().optional();

export const TextBlockSchema = z.object({ type: z.literal('text'), text: z.string(), cache_control: CacheControl }).loose();

const ImageSource = z.union([
  z.object({ type: z.literal('base64'), media_type: z.string(), data: z.string() }).loose(),
  z.object({ type: z.literal('url'), url: z.string() }).loose(),
  z.object({ type: z.string() }).loose(),
]);
const ImageBlock = z.object({ type: z.literal('image'), source: ImageSource, cache_control: CacheControl }).loose();

const DocumentBlock = z
  .object({
    type: z.literal('document'),
    source: z.object({ type: z.string() }).loose(),
    title: z.string().nullable().optional(),
    context: z.string().nullable().optional(),
    cache_control: CacheControl,
  })
  .loose();

const ToolUseBlock = z
  .object({ type: z.literal('tool_use'), id: z.string().min(1), name: z.string().min(1), input: z.unknown(), cache_control: CacheControl })
  .loose();

const ToolResultBlock = z
  .object({
    type: z.literal('tool_result'),
    tool_use_id: z.string().min(1),
    content: z.union([z.string(), z.array(z.union([TextBlockSchema, ImageBlock, DocumentBlock]))]).nullable().optional(),
    is_error: z.boolean().nullable().optional(),
    cache_control: CacheControl,
  })
  .loose();

const ThinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().optional() }).loose();
const RedactedThinkingBlock = z.object({ type: z.literal('redacted_thinking'), data: z.string() }).loose();

export const ContentBlockSchema = z.discriminatedUnion('type', [TextBlockSchema, ImageBlock, DocumentBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]);
export type ContentBlock = z.infer<typeof ContentBlockSchema>;

export const MessageSchema = z
  .object({
    role: z.enum(['user', 'assistant', 'system']),
    content: z.union([z.string(), z.array(ContentBlockSchema)]),
  })
  .loose();
export type AnthropicMessage = z.infer<typeof MessageSchema>;

export const ToolSchema = z
  .object({
    name: z.string().min(1).max(128),
    description: z.string().optional(),
    input_schema: z.record(z.string(), z.unknown()).optional(),
    /** `custom` (or absent) for client tools; server tools (`web_search_20250305`, ...) are not supported. */
    type: z.string().nullable().optional(),
    strict: z.boolean().nullable().optional(),
    cache_control: CacheControl,
  })
  .loose();
export type AnthropicTool = z.infer<typeof ToolSchema>;

export const ToolChoiceSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().nullable().optional() }).loose(),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().nullable().optional() }).loose(),
  z.object({ type: z.literal('tool'), name: z.string().min(1), disable_parallel_tool_use: z.boolean().nullable().optional() }).loose(),
  z.object({ type: z.literal('none') }).loose(),
]);

export const ThinkingSchema = z
  .object({ type: z.string(), budget_tokens: z.number().int().positive().optional() })
  .loose()
  .describe('`{type: "enabled", budget_tokens}`, `{type: "adaptive"}` or `{type: "disabled"}`');

const OutputConfigSchema = z
  .object({
    effort: z.string().nullable().optional(),
    format: z.object({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) }).loose().nullable().optional(),
  })
  .loose();

const common = {
  model: z.string().min(1),
  messages: z.array(MessageSchema).min(1),
  system: z.union([z.string(), z.array(TextBlockSchema)]).nullable().optional(),
  tools: z.array(ToolSchema).nullable().optional(),
  tool_choice: ToolChoiceSchema.nullable().optional(),
  thinking: ThinkingSchema.nullable().optional(),
  output_config: OutputConfigSchema.nullable().optional(),
  // Switchyard routing (OpenRouter-compatible), as on /v1/chat/completions; never sent upstream.
  models: z.array(z.string().min(1).max(200)).max(10).optional().describe('Ordered fallback models, tried after `model`'),
  provider: ProviderPreferencesSchema.optional().describe('Provider preferences: order, only, ignore, allow_fallbacks, sort, max_price'),
};

export const MessagesRequestSchema = z
  .object({
    ...common,
    max_tokens: z.number().int().positive(),
    temperature: z.number().min(0).max(1).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    top_k: z.number().int().nonnegative().nullable().optional(),
    stop_sequences: z.array(z.string()).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    metadata: z.object({ user_id: z.string().nullable().optional() }).loose().nullable().optional(),
  })
  .loose();
export type MessagesRequest = z.infer<typeof MessagesRequestSchema>;

export const CountTokensRequestSchema = z.object(common).loose();
export type CountTokensRequest = z.infer<typeof CountTokensRequestSchema>;
