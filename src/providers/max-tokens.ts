/**
 * The most output tokens a request may produce upstream: the max tokens each wire format's adapter sends
 * (thinking budgets included) for a request. One place, called by the adapters when they build the body and
 * by admission when it reserves credit, so the hold always covers what the upstream is allowed to generate.
 */
import type { WireFormat } from '../config/schema.ts';
import type { ChatRequest } from './types.ts';
import { messagesMaxTokens } from './anthropic/request.ts';
import { converseMaxTokens } from './bedrock/request.ts';

/** The request's own output limit (OpenAI's newer `max_completion_tokens` wins); undefined when unset. */
export const requestedMaxTokens = (req: Pick<ChatRequest, 'max_tokens' | 'max_completion_tokens'>): number | undefined => req.max_completion_tokens ?? req.max_tokens ?? undefined;

/**
 * The max tokens the `format` adapter sends upstream for `req` to `model`; undefined: it sends none (the
 * model's own output limit applies). OpenAI-compatible, Gemini (whose thinking counts inside
 * maxOutputTokens) and mock send the request's own limit; Anthropic sends a default when unset and adds the
 * thinking budget; Bedrock adds the budget for Claude (an upper bound: the adapter also turns thinking off
 * for forced tool use and mid tool loop).
 */
export function upstreamMaxTokens(format: WireFormat, model: string, req: ChatRequest): number | undefined {
  if (format === 'anthropic') return messagesMaxTokens(req);
  if (format === 'bedrock') return converseMaxTokens(model, req);
  return requestedMaxTokens(req);
}
