/**
 * AWS Bedrock Converse / ConverseStream for the fake upstream. Streams are real
 * `application/vnd.amazon.eventstream` binary messages (EventStreamCodec, CRCs included), written in
 * pieces that split messages at odd byte offsets so clients must re-frame them.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { FakeReply, FakeRequest } from './fake-upstream.ts';
import { pieces, type ProviderFake, type ScriptedTurn } from './fake-script.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Bedrock pads stream payloads with a `p` field of filler characters; clients must ignore it. */
const PAD = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';

/** One `event` message, as ConverseStream sends it: the event name in `:event-type`, its JSON as the payload. */
export function encodeEvent(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** One `exception` message (e.g. `throttlingException`) as it arrives mid-stream. */
export function encodeException(exceptionType: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ':exception-type': { type: 'string', value: exceptionType },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/**
 * Writes messages as pieces that each end inside a message: piece k = tail of message k-1 + head of
 * message k. So cutting after n+1 pieces leaves exactly n whole messages and a partial one.
 */
export function splitOdd(messages: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let carry: Uint8Array = new Uint8Array(0);
  messages.forEach((m, k) => {
    const at = ((k * 7 + 5) % (m.length - 1)) + 1; // 1..len-1, often inside the 12-byte prelude
    out.push(Buffer.concat([carry, m.subarray(0, at)]));
    carry = m.subarray(at);
  });
  out.push(carry);
  return out;
}

const STOP_REASON = { stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use' } as const;

function stopReasonOf(turn: ScriptedTurn) {
  return STOP_REASON[turn.finish ?? (turn.toolCalls?.length ? 'tool_calls' : 'stop')];
}

/** Converse usage: `inputTokens` excludes cache reads and writes, reported beside it. */
function usageOf(turn: ScriptedTurn) {
  const u = turn.usage ?? { input: 10, output: 5 };
  const cacheRead = u.cacheRead ?? 0;
  const cacheWrite = u.cacheWrite ?? 0;
  return {
    inputTokens: u.input,
    outputTokens: u.output,
    totalTokens: u.input + cacheRead + cacheWrite + u.output,
    ...(cacheRead ? { cacheReadInputTokens: cacheRead } : {}),
    ...(cacheWrite ? { cacheWriteInputTokens: cacheWrite } : {}),
  };
}

const parseArgs = (s: string) => {
  try {
    return JSON.parse(s || '{}');
  } catch {
    return {};
  }
};

function streamEvents(turn: ScriptedTurn): Uint8Array[] {
  const out: Uint8Array[] = [encodeEvent('messageStart', { role: 'assistant', p: PAD.slice(0, 5) })];
  let block = 0;
  if (turn.reasoning) {
    for (const p of pieces(turn.reasoning)) {
      out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: block, delta: { reasoningContent: { text: p } }, p: PAD.slice(0, 11) }));
    }
    out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: block, delta: { reasoningContent: { signature: 'c2lnbmF0dXJl' } }, p: PAD.slice(0, 3) }));
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: block, p: PAD.slice(0, 20) }));
    block++;
  }
  if (turn.text) {
    for (const p of pieces(turn.text)) out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: block, delta: { text: p }, p: PAD.slice(0, 17) }));
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: block, p: PAD.slice(0, 8) }));
    block++;
  }
  for (const t of turn.toolCalls ?? []) {
    out.push(encodeEvent('contentBlockStart', { contentBlockIndex: block, start: { toolUse: { toolUseId: t.id, name: t.name } }, p: PAD.slice(0, 9) }));
    for (const p of pieces(t.arguments)) {
      out.push(encodeEvent('contentBlockDelta', { contentBlockIndex: block, delta: { toolUse: { input: p } }, p: PAD.slice(0, 13) }));
    }
    out.push(encodeEvent('contentBlockStop', { contentBlockIndex: block, p: PAD.slice(0, 4) }));
    block++;
  }
  out.push(encodeEvent('messageStop', { stopReason: stopReasonOf(turn), p: PAD.slice(0, 6) }));
  if (!turn.omitUsage) {
    out.push(encodeEvent('metadata', { usage: usageOf(turn), metrics: { latencyMs: 412 }, p: PAD.slice(0, 2) }));
  }
  return out;
}

const ERROR_TYPE: Record<number, string> = {
  400: 'ValidationException',
  401: 'UnrecognizedClientException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

/** A Bedrock HTTP error: `{message}` with the type in `x-amzn-errortype` (with its `:<namespace>` suffix). */
export function bedrockErrorReply(status: number, type: string, message: string): FakeReply {
  return {
    status,
    headers: {
      'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': '6c1b5e0e-5d1c-4a49-9a0e-000000000000',
    },
    json: { message },
  };
}

export const fakeBedrock: ProviderFake = {
  format: 'bedrock',
  isStream: (req) => req.path.endsWith('/converse-stream'),

  reply(turn, stream): FakeReply {
    if (stream) {
      const raw = splitOdd(streamEvents(turn));
      return {
        headers: { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': '0d6a6f9e-5f7e-4a0c-b3a4-000000000001' },
        raw,
        chunkDelayMs: turn.chunkDelayMs,
        // Piece n+1 ends inside message n, so this leaves `cutAfter` whole events and a partial one.
        cutAfter: turn.cutAfter === undefined ? undefined : turn.cutAfter + 1,
      };
    }
    const content: unknown[] = [];
    if (turn.reasoning) content.push({ reasoningContent: { reasoningText: { text: turn.reasoning, signature: 'c2lnbmF0dXJl' } } });
    if (turn.text) content.push({ text: turn.text });
    for (const t of turn.toolCalls ?? []) content.push({ toolUse: { toolUseId: t.id, name: t.name, input: parseArgs(t.arguments) } });
    return {
      headers: { 'x-amzn-requestid': '0d6a6f9e-5f7e-4a0c-b3a4-000000000002' },
      json: {
        output: { message: { role: 'assistant', content } },
        stopReason: stopReasonOf(turn),
        ...(turn.omitUsage ? {} : { usage: usageOf(turn) }),
        metrics: { latencyMs: 412 },
      },
    };
  },

  error(status, message): FakeReply {
    return bedrockErrorReply(status, ERROR_TYPE[status] ?? (status >= 500 ? 'InternalServerException' : 'ValidationException'), message);
  },

  lastUserText(req) {
    const msgs = (req.body?.messages ?? []) as any[];
    const last = [...msgs].reverse().find((m) => m.role === 'user' && (m.content ?? []).some((b: any) => typeof b.text === 'string'));
    if (!last) return '';
    return (last.content as any[]).filter((b) => typeof b.text === 'string').map((b) => b.text).join('');
  },

  toolNames: (req: FakeRequest) => ((req.body?.toolConfig?.tools ?? []) as any[]).map((t) => t.toolSpec?.name).filter(Boolean),
};
