/**
 * The pivot format: OpenAI Chat Completions. Every wire format translates to and from these shapes.
 * Request validation lives in ./chat-schema.ts (zod); these are the shapes adapters produce and consume.
 */
import type { WireFormat } from '../config/schema.ts';
import type { ChatRequest, EmbeddingsRequest } from './chat-schema.ts';

export type { ChatRequest, ChatMessage, ContentPart, ToolDefinition, EmbeddingsRequest } from './chat-schema.ts';

/**
 * Token usage with explicit kinds. `input` counts only uncached, non-cache-write prompt tokens, so that the
 * three input kinds add up to the whole prompt; `output` includes `reasoning`.
 */
export interface Usage {
  input: number;
  cacheRead: number;
  cacheWrite: number;
  output: number;
  reasoning: number;
  /** True when counted locally because the upstream reported nothing. */
  estimated?: boolean;
}

export const emptyUsage = (): Usage => ({ input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  /** Provider extras that must round-trip (e.g. Gemini thought signatures under extra_content). */
  [extra: string]: unknown;
}

/**
 * Anthropic's signed reasoning, kept so a client can send it back with the next turn (Anthropic requires the
 * last assistant turn's thinking before its tool results when thinking is on). LiteLLM's `thinking_blocks`.
 * In a stream, a thinking block's text arrives as `reasoning_content` and its signature as a block with
 * empty `thinking`.
 */
export type ThinkingBlock = { type: 'thinking'; thinking: string; signature: string } | { type: 'redacted_thinking'; data: string };

export interface AssistantMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: ToolCall[];
  refusal?: string | null;
  /** Thinking text from reasoning models (Anthropic thinking, Gemini thoughts, DeepSeek). */
  reasoning_content?: string;
  thinking_blocks?: ThinkingBlock[];
  [extra: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {});

export interface ChatChoice {
  index: number;
  message: AssistantMessage;
  finish_reason: FinishReason | null;
  logprobs?: unknown;
}

/** OpenAI's usage object as we return it; `cost` is USD, as OpenRouter reports it. */
export interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number; [k: string]: unknown };
  completion_tokens_details?: { reasoning_tokens?: number; [k: string]: unknown };
  cost?: number;
  [extra: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: OpenAIUsage;
  system_fingerprint?: string | null;
  [extra: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  [extra: string]: unknown;
}

export interface ChunkDelta {
  role?: 'assistant';
  content?: string | null;
  tool_calls?: ToolCallDelta[];
  refusal?: string | null;
  reasoning_content?: string;
  thinking_blocks?: ThinkingBlock[];
  [extra: string]: unknown;
}

export interface ChunkChoice {
  index: number;
  delta: ChunkDelta;
  finish_reason: FinishReason | null;
  logprobs?: unknown;
}

export interface ChatChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: OpenAIUsage | null;
  system_fingerprint?: string | null;
  [extra: string]: unknown;
}

/** A completed non-streaming call, translated. `usage` is undefined when the upstream reported none. */
export interface ChatResult {
  completion: ChatCompletion;
  usage: Usage | undefined;
}

export interface EmbeddingsResult {
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  usage: Usage | undefined;
}

/** A provider with its settings resolved from presets, environment and config file. */
export interface ResolvedProvider {
  id: string;
  type: WireFormat;
  /** Preset it derives from (e.g. `azure`, `groq`), which selects wire quirks. */
  preset: string | undefined;
  baseUrl: string;
  apiKey: string | undefined;
  headers: Record<string, string>;
  apiVersion?: string;
  region?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Per-attempt first-byte timeout override, ms. */
  timeoutMs?: number;
  /** Stream idle timeout override, ms. */
  idleTimeoutMs?: number;
  /** Connect timeout override, ms. */
  connectTimeoutMs?: number;
  /** Whether streaming requests should ask for `stream_options.include_usage` (OpenAI wire format). */
  streamUsageOption: boolean;
  /** Whether an output limit goes upstream as `max_completion_tokens` rather than `max_tokens` (OpenAI wire format). */
  maxCompletionTokens?: boolean;
}

/** Where one attempt goes: a provider and the model id it knows. */
export interface UpstreamTarget {
  provider: ResolvedProvider;
  /** The upstream's own model id (for Azure, the deployment name). */
  model: string;
}

/** An HTTP request to send upstream, fully built (and signed, for Bedrock). */
export interface UpstreamRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * A stateful decoder for one streaming response: raw bytes in, normalized OpenAI chunks out.
 * `push` and `end` throw an UpstreamError on an error event or malformed data.
 */
export interface StreamDecoder {
  push(bytes: Uint8Array): ChatChunk[];
  end(): ChatChunk[];
  /** Usage seen so far (final once the stream ended); undefined if the upstream sent none. */
  readonly usage: Usage | undefined;
}

/** The pure translation functions of one wire format. */
export interface ChatAdapter {
  readonly format: WireFormat;
  toUpstreamRequest(target: UpstreamTarget, req: ChatRequest, stream: boolean): UpstreamRequest | Promise<UpstreamRequest>;
  fromUpstreamResponse(body: unknown, target: UpstreamTarget, req: ChatRequest): ChatResult;
  createStreamDecoder(target: UpstreamTarget, req: ChatRequest): StreamDecoder;
  toEmbeddingsRequest?(target: UpstreamTarget, req: EmbeddingsRequest): UpstreamRequest | Promise<UpstreamRequest>;
  fromEmbeddingsResponse?(body: unknown, target: UpstreamTarget, req: EmbeddingsRequest): EmbeddingsResult;
  /** Maps an upstream error response (status and raw body) to an UpstreamError. */
  fromUpstreamError(status: number, body: string, headers: Record<string, string | string[] | undefined>): Error;
}

/** The thinking blocks a message carries (`thinking_blocks`), keeping only well-formed ones. */
export function thinkingBlocksOf(message: object): ThinkingBlock[] {
  const raw = (message as { thinking_blocks?: unknown }).thinking_blocks;
  if (!Array.isArray(raw)) return [];
  const out: ThinkingBlock[] = [];
  for (const b of raw) {
    if (!b || typeof b !== 'object') continue;
    const block = b as Record<string, unknown>;
    if (block.type === 'thinking' && typeof block.thinking === 'string' && typeof block.signature === 'string' && block.signature) {
      out.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
    } else if (block.type === 'redacted_thinking' && typeof block.data === 'string' && block.data) {
      out.push({ type: 'redacted_thinking', data: block.data });
    }
  }
  return out;
}
