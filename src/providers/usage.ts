/** Helpers every wire format shares for usage: reading counts defensively, and the OpenAI shape. */
import type { OpenAIUsage, Usage } from './types.ts';

/** A token count from untrusted JSON: non-negative integers only, anything else is 0. */
export const tokenCount = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** Our usage in OpenAI's shape, whose prompt_tokens include cached and cache-write tokens. */
export function usageToOpenAI(u: Usage): OpenAIUsage {
  const prompt = u.input + u.cacheRead + u.cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead, cache_write_tokens: u.cacheWrite },
    completion_tokens_details: { reasoning_tokens: u.reasoning },
  };
}
