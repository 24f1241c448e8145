/**
 * Precomputed OpenAI-format payloads for the fake upstream. The model name carries the response profile,
 * so that every gateway (which forwards the model name untouched) reaches the same behaviour:
 *
 *   gpt-bench-c200-i20-l5   200 content chunks, 20 ms between chunks, 5 ms before the first byte
 *
 * Missing parts take the upstream's defaults. Payloads are built once per model name and cached.
 */

export interface ResponseProfile {
  /** Content chunks in a stream (and words in a non-streaming answer). */
  chunks: number;
  /** Milliseconds between streamed chunks (0: written back to back). */
  intervalMs: number;
  /** Milliseconds before the response starts. */
  latencyMs: number;
}

export interface ChatPayloads {
  profile: ResponseProfile;
  /** The whole non-streaming JSON body. */
  json: Buffer;
  /** Streamed events, each a complete `data: ...\n\n` frame: role chunk, content chunks, finish chunk. */
  frames: Buffer[];
  /** The same events as OpenAI sends them when `stream_options.include_usage` is set: each with `"usage": null`. */
  framesWithUsage: Buffer[];
  /** The usage-only chunk sent when `stream_options.include_usage` is set. */
  usageFrame: Buffer;
  doneFrame: Buffer;
}

export const PROMPT_TOKENS = 24;
const CREATED = 1_732_000_000;
const EMBEDDING_DIMENSIONS = 1536;

export function parseProfile(model: string, defaults: ResponseProfile): ResponseProfile {
  const part = (letter: string, fallback: number) => {
    const m = new RegExp(`-${letter}(\\d+)(?=-|$)`).exec(model);
    return m ? Number(m[1]) : fallback;
  };
  return { chunks: Math.max(1, part('c', defaults.chunks)), intervalMs: part('i', defaults.intervalMs), latencyMs: part('l', defaults.latencyMs) };
}

function usage(completionTokens: number) {
  return {
    prompt_tokens: PROMPT_TOKENS,
    completion_tokens: completionTokens,
    total_tokens: PROMPT_TOKENS + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

const WORDS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.'];
const word = (i: number) => WORDS[i % WORDS.length];
const frame = (data: unknown) => Buffer.from(`data: ${JSON.stringify(data)}\n\n`);

export function buildChatPayloads(model: string, profile: ResponseProfile): ChatPayloads {
  const id = `chatcmpl-bench${model.length}`;
  let text = '';
  for (let i = 0; i < profile.chunks; i++) text += word(i);
  const json = Buffer.from(
    JSON.stringify({
      id,
      object: 'chat.completion',
      created: CREATED,
      model,
      system_fingerprint: 'fp_bench',
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: usage(profile.chunks),
      service_tier: 'default',
    }),
  );
  const base = { id, object: 'chat.completion.chunk', created: CREATED, model, system_fingerprint: 'fp_bench' };
  const deltas: [object, string | null][] = [[{ role: 'assistant', content: '', refusal: null }, null]];
  for (let i = 0; i < profile.chunks; i++) deltas.push([{ content: word(i) }, null]);
  deltas.push([{}, 'stop']);
  const chunks = deltas.map(([delta, finish]) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }));
  return {
    profile,
    json,
    frames: chunks.map((c) => frame(c)),
    framesWithUsage: chunks.map((c) => frame({ ...c, usage: null })),
    usageFrame: frame({ ...base, choices: [], usage: usage(profile.chunks) }),
    doneFrame: Buffer.from('data: [DONE]\n\n'),
  };
}

/** A deterministic embedding response with one vector per input. */
export function buildEmbeddingsPayload(model: string, inputs: number): Buffer {
  const vector: number[] = [];
  for (let i = 0; i < EMBEDDING_DIMENSIONS; i++) vector.push(Math.round(Math.sin(i + 1) * 1e6) / 1e6);
  const data = Array.from({ length: inputs }, (_, index) => ({ object: 'embedding', index, embedding: vector }));
  return Buffer.from(JSON.stringify({ object: 'list', data, model, usage: { prompt_tokens: 8 * inputs, total_tokens: 8 * inputs } }));
}
