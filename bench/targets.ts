/**
 * What the load is sent to: the upstream directly (the baseline), Switchyard, and Portkey. Each target knows
 * its origin, its headers, how it names the upstream's models, and which process to probe.
 */
import type { BenchProcess } from './processes.ts';

/** `switchyard-credits-off`: the same gateway with CREDITS_MODE=off, to price billing (chat scenario only). */
export type TargetName = 'direct' | 'switchyard' | 'switchyard-credits-off' | 'portkey';

export interface Target {
  name: TargetName;
  origin: string;
  /** Headers sent with every request (content-type included). */
  headers: Record<string, string>;
  /** The model id this target expects for an upstream model name. */
  modelId(upstreamModel: string): string;
  /** The process whose event loop, memory and CPU are measured (the upstream for `direct`). */
  process: BenchProcess;
  /** Rows the gateway's write-behind queues still hold (request log + charges); only targets that have them. */
  backlog?(): Promise<number>;
  /**
   * The gateway's own time to first token (from the request reaching its handler to the first token) of its
   * newest `count` streams of a model, from its request log; only targets that keep one.
   */
  ownTtftMs?(upstreamModel: string, count: number): Promise<number[]>;
}

export const CHAT_PATH = '/v1/chat/completions';
export const EMBEDDINGS_PATH = '/v1/embeddings';

const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that answers briefly.' },
  { role: 'user', content: 'Write one sentence about why benchmarks should measure what users feel.' },
];

export function chatBody(target: Target, upstreamModel: string, stream: boolean): string {
  return JSON.stringify({
    model: target.modelId(upstreamModel),
    messages: MESSAGES,
    max_tokens: 256,
    temperature: 0.7,
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  });
}

export function embeddingsBody(target: Target, upstreamModel: string): string {
  return JSON.stringify({ model: target.modelId(upstreamModel), input: 'The quick brown fox jumps over the lazy dog.' });
}

async function post(target: Target, path: string, body: string): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(target.origin + path, { method: 'POST', headers: target.headers, body, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/**
 * Sends one request of each kind and checks the answers are complete (content, usage, [DONE]) before any
 * load is measured. Returns the problems found; empty means the target is good to measure.
 */
export async function verifyTarget(target: Target, models: { chat: string; stream: string; embeddings: string }): Promise<string[]> {
  const problems: string[] = [];
  try {
    const chat = await post(target, CHAT_PATH, chatBody(target, models.chat, false));
    const json = chat.status === 200 ? JSON.parse(chat.text) : undefined;
    if (!json?.choices?.[0]?.message?.content) problems.push(`chat: HTTP ${chat.status} ${chat.text.slice(0, 200)}`);
    else if (!json.usage?.total_tokens) problems.push('chat: the response has no usage');

    const stream = await post(target, CHAT_PATH, chatBody(target, models.stream, true));
    if (stream.status !== 200 || !stream.type.startsWith('text/event-stream')) problems.push(`stream: HTTP ${stream.status} ${stream.text.slice(0, 200)}`);
    else if (!stream.text.includes('data: [DONE]')) problems.push('stream: no [DONE]');
    else if (!/"usage":\{/.test(stream.text)) problems.push('stream: no usage chunk');

    const emb = await post(target, EMBEDDINGS_PATH, embeddingsBody(target, models.embeddings));
    const embJson = emb.status === 200 ? JSON.parse(emb.text) : undefined;
    if (!embJson?.data?.[0]?.embedding?.length) problems.push(`embeddings: HTTP ${emb.status} ${emb.text.slice(0, 200)}`);
  } catch (err) {
    problems.push(`request failed: ${(err as Error).message}`);
  }
  return problems;
}
