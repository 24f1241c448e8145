/** Usage in the OpenAI response shape, with the exact cost attached, and local estimates when needed. */
import type { ChatRequest, OpenAIUsage, Usage } from '../providers/types.ts';
import { countText, estimatePromptTokens } from '../providers/tokens.ts';
import { picoToUsd } from '../domain/pricing.ts';

export function toOpenAIUsage(u: Usage, costPico: bigint): OpenAIUsage {
  const prompt = u.input + u.cacheRead + u.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead, cache_write_tokens: u.cacheWrite },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
    cost: picoToUsd(costPico),
    ...(u.estimated ? { estimated: true } : {}),
  };
}

/** Counts usage locally from the request and the generated text; marked as estimated. */
export function estimateChatUsage(req: ChatRequest, generated: string): Usage {
  return { input: estimatePromptTokens(req), cacheRead: 0, cacheWrite: 0, output: countText(generated), reasoning: 0, estimated: true };
}
