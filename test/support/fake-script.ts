/**
 * A provider-neutral script for one fake assistant turn. Each provider fake (fake-openai.ts,
 * fake-anthropic.ts, fake-gemini.ts, fake-bedrock.ts) renders it in that provider's real wire format, so
 * one end-to-end test can run against every provider family.
 */
import type { FakeHandler, FakeReply, FakeRequest } from './fake-upstream.ts';

export interface ScriptedTurn {
  text?: string;
  /** Thinking / reasoning text, where the format has it. */
  reasoning?: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  finish?: 'stop' | 'length' | 'tool_calls';
  /**
   * Usage in our explicit kinds (input excludes cached and cache-write tokens; output includes reasoning).
   * Each fake maps it into its provider's own fields.
   */
  usage?: { input: number; output: number; cacheRead?: number; cacheWrite?: number; reasoning?: number };
  /** Send no usage at all. */
  omitUsage?: boolean;
  /** Streaming: pause between events. */
  chunkDelayMs?: number;
  /** Streaming: cut the connection after this many events. */
  cutAfter?: number;
}

export interface ProviderFake {
  /** Wire format name, as in config `type`. */
  format: 'openai' | 'anthropic' | 'gemini' | 'bedrock';
  /** Did this request ask for a stream? */
  isStream(req: FakeRequest): boolean;
  /** A successful reply in the provider's format. */
  reply(turn: ScriptedTurn, stream: boolean, req: FakeRequest): FakeReply;
  /** An error reply with the provider's error body. */
  error(status: number, message: string): FakeReply;
  /** Text of the last user message in the provider's request body (for echo-style scripts). */
  lastUserText(req: FakeRequest): string;
  /** Names of the tools declared in the provider's request body. */
  toolNames(req: FakeRequest): string[];
}

/** A handler answering every request with a scripted turn, or `{ reply }` for a ready-made FakeReply. */
export function scripted(fake: ProviderFake, script: (req: FakeRequest) => ScriptedTurn | { reply: FakeReply }): FakeHandler {
  return (req) => {
    const s = script(req);
    if ('reply' in s) return s.reply;
    return fake.reply(s, fake.isStream(req), req);
  };
}

/** Splits a string into `n` roughly equal pieces (for streaming deltas). */
export function pieces(s: string, n = 3): string[] {
  if (s.length <= 1) return [s];
  const size = Math.ceil(s.length / n);
  const out: string[] = [];
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size));
  return out;
}
