/**
 * The Bedrock Converse / ConverseStream wire shapes we produce and consume (the subset we use).
 * Reference: Bedrock runtime API (Converse, ConverseStream, ContentBlock, ToolConfiguration, TokenUsage).
 */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp';

export interface ImageBlock {
  image: { format: ImageFormat; source: { bytes: string } | { s3Location: { uri: string } } };
}

export interface ToolUseBlock {
  toolUse: { toolUseId: string; name: string; input: unknown };
}

export interface ToolResultBlock {
  toolResult: { toolUseId: string; content: ({ json: unknown } | { text: string })[] };
}

export interface ReasoningBlock {
  reasoningContent: { reasoningText?: { text: string; signature?: string }; redactedContent?: string };
}

export type ContentBlock = { text: string } | ImageBlock | ToolUseBlock | ToolResultBlock | ReasoningBlock;

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

export interface ToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: unknown } };
}

export type ToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

export interface ConverseRequest {
  messages: ConverseMessage[];
  system?: { text: string }[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: ToolSpec[]; toolChoice?: ToolChoice };
  additionalModelRequestFields?: Record<string, unknown>;
}

/** Converse `usage`: `inputTokens` excludes cache reads and writes, which are reported beside it. */
export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export type StopReason =
  | 'end_turn'
  | 'tool_use'
  | 'max_tokens'
  | 'stop_sequence'
  | 'guardrail_intervened'
  | 'content_filtered'
  | 'malformed_model_output'
  | 'malformed_tool_use'
  | 'model_context_window_exceeded'
  | (string & {});
