/**
 * Gemini API (generativelanguage v1beta) wire format for the fake upstream: GenerateContentResponse JSON,
 * `alt=sse` streams framed with CRLF as Google sends them, and Google's `{ error: { code, message, status } }`.
 */
import type { FakeReply, FakeRequest } from './fake-upstream.ts';
import { pieces, type ProviderFake, type ScriptedTurn } from './fake-script.ts';

/** A stand-in for the opaque signature Gemini attaches to the first function call of a step. */
export const FAKE_THOUGHT_SIGNATURE = 'CiQBVKhc7vX3fakeSignatureForTestsOnly==';

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** Our explicit kinds -> Gemini's counts: the prompt count includes cached tokens, thoughts are apart. */
function usageOf(turn: ScriptedTurn) {
  const u = turn.usage ?? { input: 10, output: 5 };
  const cached = u.cacheRead ?? 0;
  const thoughts = u.reasoning ?? 0;
  const prompt = u.input + cached + (u.cacheWrite ?? 0);
  const candidates = Math.max(0, u.output - thoughts);
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates + thoughts,
    ...(cached ? { cachedContentTokenCount: cached } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
  };
}

const finishOf = (turn: ScriptedTurn) => (turn.finish === 'length' ? 'MAX_TOKENS' : 'STOP');

function callParts(turn: ScriptedTurn) {
  return (turn.toolCalls ?? []).map((t, i) => ({
    functionCall: { name: t.name, args: t.arguments ? JSON.parse(t.arguments) : {} },
    // Gemini signs only the first call of a parallel batch.
    ...(i === 0 ? { thoughtSignature: FAKE_THOUGHT_SIGNATURE } : {}),
  }));
}

function modelOf(req: FakeRequest): string {
  const m = /\/models\/([^/:]+):/.exec(req.path);
  return m ? decodeURIComponent(m[1]) : 'gemini-fake';
}

export const fakeGemini: ProviderFake = {
  format: 'gemini',
  isStream: (req) => req.path.includes(':streamGenerateContent'),

  reply(turn, stream, req): FakeReply {
    const responseId = 'fakeGeminiResp01';
    const modelVersion = modelOf(req);
    if (!stream) {
      const parts = [
        ...(turn.reasoning ? [{ text: turn.reasoning, thought: true }] : []),
        ...(turn.text ? [{ text: turn.text }] : []),
        ...callParts(turn),
      ];
      return {
        json: {
          candidates: [{ content: { parts, role: 'model' }, finishReason: finishOf(turn), index: 0 }],
          ...(turn.omitUsage ? {} : { usageMetadata: usageOf(turn) }),
          modelVersion,
          responseId,
        },
      };
    }
    const usage = usageOf(turn);
    // Intermediate events carry the prompt count only; the last carries the full count.
    const partialUsage = { promptTokenCount: usage.promptTokenCount, totalTokenCount: usage.promptTokenCount };
    const events: object[] = [];
    const event = (parts: object[], last = false) =>
      events.push({
        candidates: [{ content: { parts, role: 'model' }, index: 0, ...(last ? { finishReason: finishOf(turn) } : {}) }],
        ...(turn.omitUsage ? {} : { usageMetadata: last ? usage : partialUsage }),
        modelVersion,
        responseId,
      });
    for (const p of turn.reasoning ? pieces(turn.reasoning) : []) event([{ text: p, thought: true }]);
    for (const p of turn.text ? pieces(turn.text) : []) event([{ text: p }]);
    const calls = callParts(turn);
    if (calls.length) event(calls);
    // Gemini puts finishReason on a final event (here with an empty text part, as it often does).
    event([{ text: '' }], true);
    return {
      raw: events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`),
      headers: { 'content-type': 'text/event-stream' },
      chunkDelayMs: turn.chunkDelayMs,
      cutAfter: turn.cutAfter,
    };
  },

  error(status, message): FakeReply {
    return { status, json: { error: { code: status, message, status: STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT') } } };
  },

  lastUserText(req) {
    const contents = (req.body?.contents ?? []) as { role?: string; parts?: { text?: string }[] }[];
    const last = [...contents].reverse().find((c) => c.role === 'user' && (c.parts ?? []).some((p) => typeof p.text === 'string'));
    return (last?.parts ?? []).map((p) => p.text ?? '').join('');
  },

  toolNames: (req) =>
    ((req.body?.tools ?? []) as { functionDeclarations?: { name: string }[] }[]).flatMap((t) => (t.functionDeclarations ?? []).map((f) => f.name)),
};
