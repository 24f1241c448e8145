/**
 * Local token estimates (gpt-tokenizer, o200k). Only for admission estimates, the mock provider and
 * upstreams that report no usage; billing otherwise uses the provider's own counts.
 */
import { createRequire } from 'node:module';
import type { ChatMessage, ChatRequest, EmbeddingsRequest } from './types.ts';

type CountTokens = (text: string) => number;
let countTokens: CountTokens | undefined;
/**
 * The tokenizer loads on first use (synchronously, about 0.3 s once): its o200k tables take about 70 MB, and a
 * gateway whose upstreams report usage never needs them.
 */
function tokenizer(): CountTokens {
  countTokens ??= (createRequire(import.meta.url)('gpt-tokenizer') as { countTokens: CountTokens }).countTokens;
  return countTokens;
}

/** Per-message framing overhead, as OpenAI documents for chat formats. */
const PER_MESSAGE = 3;
const PER_REPLY = 3;
/** A flat charge for an image part: a conservative mid-size figure, since sizes are unknown here. */
const PER_IMAGE = 765;

export function countText(text: string): number {
  return text ? tokenizer()(text) : 0;
}

/** A file part sent by reference (`file_id`): its size is unknown here, so it counts like an image. */
const PER_FILE_REF = PER_IMAGE;

type Loose = Record<string, unknown>;
const isObject = (v: unknown): v is Loose => typeof v === 'object' && v !== null;

/**
 * An upper bound on the tokens of an audio or file part, from the size of its inline data. Audio: one token
 * per 4 base64 characters (3 bytes of audio), far above any provider's audio rate (about 25-32 tokens per
 * second, while codecs spend hundreds of bytes or more per second). Files (PDFs, ...): one token per byte of
 * their base64 data, as text is bounded.
 */
function mediaBound(part: Loose): number {
  if (part.type === 'input_audio') {
    const data = isObject(part.input_audio) ? part.input_audio.data : undefined;
    return typeof data === 'string' ? Math.ceil(data.length / 4) : 0;
  }
  if (part.type === 'file') {
    const file = isObject(part.file) ? part.file : undefined;
    if (typeof file?.file_data === 'string') return file.file_data.length;
    return PER_FILE_REF;
  }
  return 0;
}

function messageText(m: ChatMessage): { text: string; images: number; media: number } {
  let text = m.name ?? '';
  let images = 0;
  let media = 0;
  if (typeof m.content === 'string') text += m.content;
  else if (Array.isArray(m.content)) {
    for (const part of m.content) {
      if (part.type === 'text' && typeof (part as { text?: unknown }).text === 'string') text += (part as { text: string }).text;
      else if (part.type === 'image_url') images++;
      else media += mediaBound(part as Loose);
    }
  }
  for (const call of m.tool_calls ?? []) text += call.function.name + call.function.arguments;
  return { text, images, media };
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
 * tokenizer. Framing and images are added as in the estimate; audio and file parts by the size of their data
 * (see mediaBound); tools and a `json_schema` response format (sent upstream as a schema or a tool) by bytes.
 */
export function promptTokenBound(req: Pick<ChatRequest, 'messages' | 'tools' | 'response_format'>): number {
  let total = PER_REPLY;
  for (const m of req.messages) {
    const { text, images, media } = messageText(m);
    total += PER_MESSAGE + Buffer.byteLength(text) + images * PER_IMAGE + media;
  }
  if (req.tools?.length) total += Buffer.byteLength(JSON.stringify(req.tools));
  const rf = req.response_format as Loose | undefined;
  if (rf?.type === 'json_schema' && rf.json_schema !== undefined) total += Buffer.byteLength(JSON.stringify(rf.json_schema));
  return total;
}

type EmbeddingsInput = EmbeddingsRequest['input'];

/** An embeddings input's tokens: token-id inputs exactly, text by `textTokens`. */
function inputTokens(input: EmbeddingsInput, textTokens: (text: string) => number): number {
  if (typeof input === 'string') return textTokens(input);
  let total = 0;
  for (const item of input) {
    if (typeof item === 'string') total += textTokens(item);
    else if (typeof item === 'number') total += 1;
    else total += item.length;
  }
  return total;
}

/**
 * A cheap bound on an embeddings input's tokens, for admission, like promptTokenBound: text by its UTF-8 bytes
 * divided by `bytesPerToken` (1 gives an upper bound; 4 a typical estimate), token-id inputs exactly.
 */
export function inputTokenBound(input: EmbeddingsInput, bytesPerToken = 1): number {
  return inputTokens(input, (text) => Math.ceil(Buffer.byteLength(text) / bytesPerToken));
}

/** An embeddings input's tokens counted with the tokenizer (an upstream that reported no usage, the mock). */
export function estimateInputTokens(input: EmbeddingsInput): number {
  return inputTokens(input, countText);
}
