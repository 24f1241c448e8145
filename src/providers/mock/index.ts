/**
 * The `mock` provider: deterministic, offline models so anyone can try the gateway without a key.
 * - `echo`:  answers with the last user message (as `{"echo": ...}` in JSON mode).
 * - `tools`: calls the first declared tool with `{"input": <last user text>}`; after a tool result, reports it.
 * - `embed`: deterministic unit vectors derived from the text.
 * Usage is counted locally with the tokenizer, so costs are real numbers. Latency is configurable.
 */
import { createHash } from 'node:crypto';
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingsResult, ToolCall, Usage } from '../types.ts';
import type { ProviderClient } from '../client.ts';
import { iteratorStream } from '../chat-stream.ts';
import { UpstreamError } from '../errors.ts';
import type { CancelSignal } from '../cancel.ts';
import { countText, estimatePromptTokens, estimateInputTokens } from '../tokens.ts';

export const MOCK_MODELS = ['echo', 'tools', 'embed'] as const;

const sleep = (ms: number, signal?: CancelSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

function lastUserText(req: ChatRequest): string {
  for (let i = req.messages.length - 1; i >= 0; i--) {
    const m = req.messages[i];
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.map((p) => (p.type === 'text' ? String((p as { text?: string }).text ?? '') : '')).join('');
    return '';
  }
  return '';
}

interface MockTurn {
  content: string | null;
  toolCalls: ToolCall[] | undefined;
  finish: 'stop' | 'tool_calls' | 'length';
}

function respond(model: string, req: ChatRequest): MockTurn {
  const text = lastUserText(req);
  const json = req.response_format?.type === 'json_object' || req.response_format?.type === 'json_schema';
  if (model === 'tools') {
    const last = req.messages[req.messages.length - 1];
    if (last.role === 'tool') {
      const result = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
      return { content: `Tool result: ${result}`, toolCalls: undefined, finish: 'stop' };
    }
    const tool = req.tool_choice && typeof req.tool_choice === 'object' ? req.tool_choice.function.name : req.tools?.[0]?.function.name;
    if (tool && req.tool_choice !== 'none') {
      const id = 'call_' + createHash('sha256').update(text).digest('hex').slice(0, 24);
      return { content: null, toolCalls: [{ id, type: 'function', function: { name: tool, arguments: JSON.stringify({ input: text }) } }], finish: 'tool_calls' };
    }
  }
  let content = json ? JSON.stringify({ echo: text }) : text;
  const max = req.max_completion_tokens ?? req.max_tokens;
  let finish: MockTurn['finish'] = 'stop';
  if (max && !json) {
    const words = content.split(/(?<=\s)/);
    if (words.length > max) {
      content = words.slice(0, max).join('');
      finish = 'length';
    }
  }
  return { content, toolCalls: undefined, finish };
}

function usageOf(req: ChatRequest, turn: MockTurn): Usage {
  const outText = (turn.content ?? '') + (turn.toolCalls ?? []).map((t) => t.function.name + t.function.arguments).join('');
  return { input: estimatePromptTokens(req), cacheRead: 0, cacheWrite: 0, output: countText(outText), reasoning: 0 };
}

/** Requests can ask the mock to fail: a user message containing `[mock-error:<status>]`. */
function scriptedFailure(req: ChatRequest): UpstreamError | undefined {
  const m = /\[mock-error:(\d{3})\]/.exec(lastUserText(req));
  if (!m) return undefined;
  const status = Number(m[1]);
  return new UpstreamError(status >= 500 ? 502 : status, status === 429 ? 'rate_limit_error' : status >= 500 ? 'api_error' : 'invalid_request_error', `mock failure ${status} requested`, `upstream_${status}`, status === 429 || status >= 500, undefined, status);
}

export function mockClient(latencyMs: () => number): ProviderClient {
  let seq = 0;
  const nextId = () => `chatcmpl-mock${Date.now().toString(36)}${(seq++).toString(36)}`;

  function check(model: string, kind: 'chat' | 'embed') {
    if (!(MOCK_MODELS as readonly string[]).includes(model) || (kind === 'embed') !== (model === 'embed')) {
      throw new UpstreamError(404, 'not_found_error', `The mock provider has no ${kind === 'embed' ? 'embedding' : 'chat'} model "${model}"`, 'model_not_found', false, undefined, 404);
    }
  }

  return {
    async chat(target, req, opts) {
      check(target.model, 'chat');
      await sleep(latencyMs(), opts.signal);
      const failure = scriptedFailure(req);
      if (failure) throw failure;
      const turn = respond(target.model, req);
      const n = req.n ?? 1;
      const completion: ChatCompletion = {
        id: nextId(),
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: target.model,
        choices: Array.from({ length: n }, (_, index) => ({
          index,
          message: { role: 'assistant', content: turn.content, ...(turn.toolCalls ? { tool_calls: turn.toolCalls } : {}) },
          finish_reason: turn.finish,
          logprobs: null,
        })),
      };
      const usage = usageOf(req, turn);
      usage.output *= n;
      return { completion, usage };
    },

    async chatStream(target, req, opts) {
      check(target.model, 'chat');
      await sleep(latencyMs(), opts.signal);
      const failure = scriptedFailure(req);
      if (failure) throw failure;
      const turn = respond(target.model, req);
      const id = nextId();
      const created = Math.floor(Date.now() / 1000);
      let usage: Usage | undefined;
      const chunk = (delta: ChatChunk['choices'][0]['delta'], finish: ChatChunk['choices'][0]['finish_reason'] = null): ChatChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model: target.model,
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      async function* chunks(): AsyncGenerator<ChatChunk> {
        yield chunk({ role: 'assistant', content: '' });
        for (const word of (turn.content ?? '').split(/(?<=\s)/)) {
          if (!word) continue;
          opts.signal?.throwIfAborted();
          yield chunk({ content: word });
        }
        for (const [index, call] of (turn.toolCalls ?? []).entries()) {
          yield chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] });
          yield chunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] });
        }
        yield chunk({}, turn.finish);
        usage = usageOf(req, turn);
      }
      return iteratorStream(chunks(), () => usage);
    },

    async embeddings(target, req, opts): Promise<EmbeddingsResult> {
      check(target.model, 'embed');
      await sleep(latencyMs(), opts.signal);
      const inputs: string[] = typeof req.input === 'string' ? [req.input] : (req.input as unknown[]).map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
      const dims = req.dimensions ?? 16;
      const data = inputs.map((text, index) => {
        const v: number[] = [];
        for (let i = 0; v.length < dims; i++) {
          const h = createHash('sha256').update(`${i}:${text}`).digest();
          for (let j = 0; j + 4 <= h.length && v.length < dims; j += 4) v.push(h.readInt32BE(j) / 2 ** 31);
        }
        const norm = Math.hypot(...v) || 1;
        const embedding = v.map((x) => x / norm);
        return {
          object: 'embedding' as const,
          index,
          embedding: req.encoding_format === 'base64' ? Buffer.from(new Float32Array(embedding).buffer).toString('base64') : embedding,
        };
      });
      return { data, usage: { input: estimateInputTokens(req.input as string | string[]), cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 } };
    },
  };
}
