/**
 * OpenAI Chat Completions wire format: the pivot format itself, so translation is mostly pass-through.
 * Serves OpenAI and every OpenAI-compatible preset (Azure, OpenRouter, Groq, Ollama, vLLM, ...).
 */
import type {
  ChatAdapter,
  ChatChunk,
  ChatCompletion,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResult,
  StreamDecoder,
  UpstreamRequest,
  UpstreamTarget,
  Usage,
} from '../types.ts';
import { SseParser } from '../sse.ts';
import { tokenCount } from '../usage.ts';
import { malformedUpstream, upstreamHttpError, UpstreamError } from '../errors.ts';

type Json = Record<string, any>;

function endpoint(target: UpstreamTarget, path: '/chat/completions' | '/embeddings'): string {
  const p = target.provider;
  if (p.preset === 'azure') {
    const version = p.apiVersion ?? '2024-10-21';
    return `${p.baseUrl}/openai/deployments/${encodeURIComponent(target.model)}${path}?api-version=${encodeURIComponent(version)}`;
  }
  return p.baseUrl + path;
}

function headers(target: UpstreamTarget): Record<string, string> {
  const p = target.provider;
  const h: Record<string, string> = { 'content-type': 'application/json', ...p.headers };
  if (p.apiKey) {
    if (p.preset === 'azure') h['api-key'] = p.apiKey;
    else h.authorization = `Bearer ${p.apiKey}`;
  }
  return h;
}

/** Anthropic's signed thinking (`thinking_blocks`) means nothing to an OpenAI-format upstream, which may refuse it. */
function withoutThinkingBlocks(messages: ChatRequest['messages']): ChatRequest['messages'] {
  if (!messages.some((m) => 'thinking_blocks' in m)) return messages;
  return messages.map((m) => {
    if (!('thinking_blocks' in m)) return m;
    const { thinking_blocks: _dropped, ...rest } = m;
    return rest as typeof m;
  });
}

export function toUpstreamRequest(target: UpstreamTarget, req: ChatRequest, stream: boolean): UpstreamRequest {
  const body: Json = { ...req, messages: withoutThinkingBlocks(req.messages), model: target.model, stream };
  if (stream && target.provider.streamUsageOption) body.stream_options = { ...(req.stream_options ?? {}), include_usage: true };
  else delete body.stream_options; // upstreams without the option reject it; they report usage anyway
  // A limit set as max_tokens (by the client, or by admission capping a short balance) in the field the upstream takes.
  if (target.provider.maxCompletionTokens && body.max_tokens != null) {
    body.max_completion_tokens ??= body.max_tokens;
    delete body.max_tokens;
  }
  return { method: 'POST', url: endpoint(target, '/chat/completions'), headers: headers(target), body: JSON.stringify(body) };
}

/** Maps OpenAI usage (whose prompt_tokens include cached tokens) to our explicit kinds. */
export function fromUpstreamUsage(u: Json | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const prompt = tokenCount(u.prompt_tokens ?? u.input_tokens);
  const completion = tokenCount(u.completion_tokens ?? u.output_tokens);
  const pd = u.prompt_tokens_details ?? u.input_tokens_details ?? {};
  // DeepSeek reports cache hits in its own fields.
  const cacheRead = tokenCount(pd.cached_tokens ?? u.prompt_cache_hit_tokens);
  const cacheWrite = tokenCount(pd.cache_write_tokens);
  const reasoning = tokenCount((u.completion_tokens_details ?? u.output_tokens_details ?? {}).reasoning_tokens);
  return {
    input: Math.max(0, prompt - cacheRead - cacheWrite),
    cacheRead,
    cacheWrite,
    output: completion,
    reasoning,
  };
}


export function fromUpstreamResponse(body: unknown): { completion: ChatCompletion; usage: Usage | undefined } {
  const b = body as Json;
  // Some upstreams (OpenRouter) answer 200 with only an error object.
  if (b && typeof b === 'object' && b.error) throw errorFromBody(b.error, 502);
  if (!b || typeof b !== 'object' || !Array.isArray(b.choices)) throw malformedUpstream('response has no choices array');
  const usage = fromUpstreamUsage(b.usage);
  return { completion: b as ChatCompletion, usage };
}

function errorFromBody(e: Json, status: number): UpstreamError {
  const message = typeof e === 'string' ? e : (e?.message ?? 'upstream error');
  const code = typeof e?.code === 'string' ? e.code : e?.code != null ? String(e.code) : null;
  const errStatus = typeof e?.code === 'number' && e.code >= 400 && e.code < 600 ? e.code : status;
  return upstreamHttpError(errStatus, message, {}, code, typeof e?.type === 'string' ? e.type : undefined, e?.param ?? null);
}

class OpenAIStreamDecoder implements StreamDecoder {
  private readonly sse = new SseParser();
  usage: Usage | undefined;

  push(bytes: Uint8Array): ChatChunk[] {
    return this.translate(this.sse.push(bytes));
  }

  end(): ChatChunk[] {
    return this.translate(this.sse.end());
  }

  private translate(events: { data: string }[]): ChatChunk[] {
    const out: ChatChunk[] = [];
    for (const { data } of events) {
      if (data === '[DONE]') continue;
      let chunk: Json;
      try {
        chunk = JSON.parse(data);
      } catch {
        throw malformedUpstream(`invalid JSON in stream event: ${data.slice(0, 200)}`);
      }
      if (!chunk || typeof chunk !== 'object') throw malformedUpstream('stream event is not an object');
      if (chunk.error) throw errorFromBody(chunk.error, 502);
      // Groq reports stream usage under x_groq.
      const usage = chunk.usage ?? chunk.x_groq?.usage;
      if (usage) this.usage = fromUpstreamUsage(usage);
      if (!Array.isArray(chunk.choices)) throw malformedUpstream('stream chunk has no choices array');
      if (chunk.choices.length === 0) continue; // the usage-only chunk: we emit our own, with cost
      delete chunk.usage;
      out.push(chunk as ChatChunk);
    }
    return out;
  }
}

export function toEmbeddingsRequest(target: UpstreamTarget, req: EmbeddingsRequest): UpstreamRequest {
  const body = { ...req, model: target.model };
  return { method: 'POST', url: endpoint(target, '/embeddings'), headers: headers(target), body: JSON.stringify(body) };
}

export function fromEmbeddingsResponse(body: unknown): EmbeddingsResult {
  const b = body as Json;
  if (!b || !Array.isArray(b.data)) throw malformedUpstream('embeddings response has no data array');
  const u = b.usage;
  const usage = u ? { input: tokenCount(u.prompt_tokens ?? u.total_tokens), cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 } : undefined;
  return { data: b.data, usage };
}

export function fromUpstreamError(status: number, body: string, hdrs: Record<string, string | string[] | undefined>): UpstreamError {
  let message = body.slice(0, 2000) || `HTTP ${status}`;
  let code: string | null = null;
  let type: string | undefined;
  let param: string | null = null;
  try {
    const parsed = JSON.parse(body);
    const e = parsed?.error ?? parsed;
    if (typeof e === 'string') message = e;
    else if (e && typeof e === 'object') {
      if (typeof e.message === 'string') message = e.message;
      if (e.code != null) code = String(e.code);
      if (typeof e.type === 'string') type = e.type;
      if (typeof e.param === 'string') param = e.param;
    }
  } catch {
    /* not JSON: keep the text */
  }
  return upstreamHttpError(status, message, hdrs, code, type, param);
}

export const openaiAdapter: ChatAdapter = {
  format: 'openai',
  toUpstreamRequest,
  fromUpstreamResponse,
  createStreamDecoder: () => new OpenAIStreamDecoder(),
  toEmbeddingsRequest,
  fromEmbeddingsResponse,
  fromUpstreamError,
};
