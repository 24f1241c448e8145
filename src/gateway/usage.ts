/** Usage in the OpenAI response shape, with the exact cost attached, and local estimates when needed. */
import type { ChatRequest, OpenAIUsage, Usage } from '../providers/types.ts';
import { countText, estimatePromptTokens } from '../providers/tokens.ts';
import { picoToUsd } from '../domain/pricing.ts';
import { usageToOpenAI } from '../providers/usage.ts';

export function toOpenAIUsage(u: Usage, costPico: bigint): OpenAIUsage {
  return { ...usageToOpenAI(u), cost: picoToUsd(costPico), ...(u.estimated ? { estimated: true } : {}) };
}

/** Counts usage locally from the request and the generated text; marked as estimated. */
export function estimateChatUsage(req: ChatRequest, generated: string): Usage {
  return { input: estimatePromptTokens(req), cacheRead: 0, cacheWrite: 0, output: countText(generated), reasoning: 0, estimated: true };
}

/** Tokens a request counts against token limits (reasoning is part of output). */
export const totalTokens = (u: Usage): number => u.input + u.cacheRead + u.cacheWrite + u.output;
