/**
 * `streamGenerateContent?alt=sse` decoder: each SSE event is a partial GenerateContentResponse carrying only
 * new parts; each becomes one OpenAI chunk per candidate. Function calls arrive whole, so a call is one delta.
 */
import type { ChatChunk, ChunkChoice, ChunkDelta, StreamDecoder, ToolCallDelta, UpstreamTarget, Usage } from '../types.ts';
import { SseParser, type SseEvent } from '../sse.ts';
import { malformedUpstream } from '../errors.ts';
import { asResponse, blockedChoice, fromGeminiUsage, mapFinishReason, newCompletionId, splitParts, toLogprobs } from './response.ts';
import type { GeminiCandidate, GenerateContentResponse } from './wire.ts';

interface ChoiceState {
  started: boolean;
  /** Function calls emitted so far: the next call's index, and whether STOP means `tool_calls`. */
  toolCalls: number;
}

export class GeminiStreamDecoder implements StreamDecoder {
  private readonly sse = new SseParser();
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly states = new Map<number, ChoiceState>();
  private id: string | undefined;
  private model: string;
  usage: Usage | undefined;

  constructor(target: UpstreamTarget) {
    this.model = target.model;
  }

  push(bytes: Uint8Array): ChatChunk[] {
    return this.translate(this.sse.push(bytes));
  }

  end(): ChatChunk[] {
    return this.translate(this.sse.end());
  }

  private translate(events: SseEvent[]): ChatChunk[] {
    const out: ChatChunk[] = [];
    for (const { data } of events) {
      if (!data.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        throw malformedUpstream(`invalid JSON in stream event: ${data.slice(0, 200)}`);
      }
      this.event(asResponse(parsed), out);
    }
    return out;
  }

  private event(ev: GenerateContentResponse, out: ChatChunk[]): void {
    // The first event fixes id and model for the whole stream.
    if (this.id === undefined) {
      this.id = typeof ev.responseId === 'string' && ev.responseId ? ev.responseId : newCompletionId();
      if (typeof ev.modelVersion === 'string' && ev.modelVersion) this.model = ev.modelVersion;
    }
    // Running totals: the last one seen is the final count.
    this.usage = fromGeminiUsage(ev.usageMetadata) ?? this.usage;
    const candidates = ev.candidates ?? [];
    if (!candidates.length) {
      if (ev.promptFeedback?.blockReason && !this.states.size) {
        this.states.set(0, { started: true, toolCalls: 0 });
        const { index, finish_reason } = blockedChoice();
        out.push(this.chunk({ index, delta: { role: 'assistant', content: '' }, finish_reason }));
      }
      return;
    }
    candidates.forEach((c, position) => {
      const choice = this.candidate(c, typeof c.index === 'number' ? c.index : position);
      if (choice) out.push(this.chunk(choice));
    });
  }

  private candidate(c: GeminiCandidate, index: number): ChunkChoice | undefined {
    let state = this.states.get(index);
    if (!state) this.states.set(index, (state = { started: false, toolCalls: 0 }));
    const { text, reasoning, toolCalls } = splitParts(c.content?.parts);
    const delta: ChunkDelta = {};
    if (!state.started) delta.role = 'assistant';
    if (reasoning) delta.reasoning_content = reasoning;
    if (text) delta.content = text;
    if (toolCalls.length) {
      delta.tool_calls = toolCalls.map((tc): ToolCallDelta => ({ index: state.toolCalls++, ...tc }));
    }
    const finish = c.finishReason ? mapFinishReason(c.finishReason, state.toolCalls > 0) : null;
    const logprobs = toLogprobs(c.logprobsResult);
    const hasNews = reasoning || text || toolCalls.length || finish || logprobs;
    if (!hasNews && state.started) return undefined;
    state.started = true;
    const choice: ChunkChoice = { index, delta, finish_reason: finish };
    if (logprobs) choice.logprobs = logprobs;
    return choice;
  }

  private chunk(choice: ChunkChoice): ChatChunk {
    return { id: this.id!, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [choice] };
  }
}
