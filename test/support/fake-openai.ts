/** OpenAI Chat Completions wire format for the fake upstream (also what OpenAI-compatible presets speak). */
import type { FakeReply, SseItem } from './fake-upstream.ts';
import { pieces, type ProviderFake, type ScriptedTurn } from './fake-script.ts';

function usageOf(turn: ScriptedTurn) {
  const u = turn.usage ?? { input: 10, output: 5 };
  const cached = u.cacheRead ?? 0;
  const prompt = u.input + cached + (u.cacheWrite ?? 0);
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function finishOf(turn: ScriptedTurn) {
  return turn.finish ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop');
}

export const fakeOpenAI: ProviderFake = {
  format: 'openai',
  isStream: (req) => req.body?.stream === true,

  reply(turn, stream, req): FakeReply {
    const id = 'chatcmpl-fake123';
    const created = 1_732_000_000;
    const model = req.body?.model ?? 'fake-model';
    if (!stream) {
      return {
        json: {
          id,
          object: 'chat.completion',
          created,
          model,
          system_fingerprint: 'fp_fake',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: turn.toolCalls?.length && !turn.text ? null : (turn.text ?? ''),
                refusal: null,
                ...(turn.toolCalls?.length
                  ? { tool_calls: turn.toolCalls.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } })) }
                  : {}),
              },
              logprobs: null,
              finish_reason: finishOf(turn),
            },
          ],
          ...(turn.omitUsage ? {} : { usage: usageOf(turn) }),
        },
      };
    }
    const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake' };
    const events: SseItem[] = [];
    const chunk = (delta: object, finish: string | null = null) =>
      events.push({ data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] } });
    chunk({ role: 'assistant', content: '', refusal: null });
    for (const p of turn.text ? pieces(turn.text) : []) chunk({ content: p });
    (turn.toolCalls ?? []).forEach((t, index) => {
      chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] });
      for (const p of pieces(t.arguments)) chunk({ tool_calls: [{ index, function: { arguments: p } }] });
    });
    chunk({}, finishOf(turn));
    if (!turn.omitUsage && req.body?.stream_options?.include_usage) {
      events.push({ data: { ...base, choices: [], usage: usageOf(turn) } });
    }
    events.push('[DONE]');
    return { sse: events, chunkDelayMs: turn.chunkDelayMs, cutAfter: turn.cutAfter };
  },

  error(status, message): FakeReply {
    const type = status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
    return { status, json: { error: { message, type, param: null, code: status === 429 ? 'rate_limit_exceeded' : null } } };
  },

  lastUserText(req) {
    const msgs = (req.body?.messages ?? []) as any[];
    const last = [...msgs].reverse().find((m) => m.role === 'user');
    if (!last) return '';
    return typeof last.content === 'string' ? last.content : (last.content ?? []).filter((p: any) => p.type === 'text').map((p: any) => p.text).join('');
  },

  toolNames: (req) => ((req.body?.tools ?? []) as any[]).map((t) => t.function?.name),
};
