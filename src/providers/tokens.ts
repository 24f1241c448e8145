/**
 * Local token estimates (gpt-tokenizer, o200k). Only for admission estimates, the mock provider and
 * upstreams that report no usage; billing otherwise uses the provider's own counts.
 */
import { countTokens } from 'gpt-tokenizer';
import type { ChatMessage, ChatRequest } from './types.ts';

/** Per-message framing overhead, as OpenAI documents for chat formats. */
const PER_MESSAGE = 3;
const PER_REPLY = 3;
/** A flat charge for an image part: a conservative mid-size figure, since sizes are unknown here. */
const PER_IMAGE = 765;

export function countText(text: string): number {
  return text ? countTokens(text) : 0;
}

function messageText(m: ChatMessage): { text: string; images: number } {
  let text = m.name ?? '';
  let images = 0;
  if (typeof m.content === 'string') text += m.content;
  else if (Array.isArray(m.content)) {
    for (const part of m.content) {
      if (part.type === 'text' && typeof (part as { text?: unknown }).text === 'string') text += (part as { text: string }).text;
      else if (part.type === 'image_url') images++;
    }
  }
  for (const call of m.tool_calls ?? []) text += call.function.name + call.function.arguments;
  return { text, images };
}

/** Estimated prompt tokens for a chat request, tools included. */
export function estimatePromptTokens(req: Pick<ChatRequest, 'messages' | 'tools'>): number {
  let total = PER_REPLY;
  for (const m of req.messages) {
    const { text, images } = messageText(m);
    total += PER_MESSAGE + countText(text) + images * PER_IMAGE;
  }
  if (req.tools?.length) total += countText(JSON.stringify(req.tools));
  return total;
}

/**
 * A cheap upper bound on prompt tokens, for admission (credit holds, token rate limits) on every request:
 * a BPE token covers at least one UTF-8 byte, so the byte length bounds the count without running the
 * tokenizer. Framing and images are added as in the estimate.
 */
export function promptTokenBound(req: Pick<ChatRequest, 'messages' | 'tools'>): number {
  let total = PER_REPLY;
  for (const m of req.messages) {
    const { text, images } = messageText(m);
    total += PER_MESSAGE + Buffer.byteLength(text) + images * PER_IMAGE;
  }
  if (req.tools?.length) total += Buffer.byteLength(JSON.stringify(req.tools));
  return total;
}

export function estimateInputTokens(input: string | string[] | number[] | number[][]): number {
  if (typeof input === 'string') return countText(input);
  let total = 0;
  for (const item of input) {
    if (typeof item === 'string') total += countText(item);
    else if (typeof item === 'number') total += 1;
    else total += item.length;
  }
  return total;
}
