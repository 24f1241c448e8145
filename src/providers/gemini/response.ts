/**
 * Gemini `GenerateContentResponse` -> OpenAI chat completion, plus the pieces the stream decoder shares:
 * usage mapping, finish reasons, part splitting, logprobs and ids.
 */
import { tokenCount, usageToOpenAI } from '../usage.ts';
import { randomBytes } from 'node:crypto';
import type { ChatChoice, ChatCompletion, ChatResult, FinishReason, ToolCall, UpstreamTarget, Usage } from '../types.ts';
import { malformedUpstream } from '../errors.ts';
import { errorFromBody } from './errors.ts';
import type { GeminiCandidate, GeminiLogprobsCandidate, GeminiLogprobsResult, GeminiPart, GeminiUsageMetadata, GenerateContentResponse } from './wire.ts';

/** A tool call as we return it: OpenAI's shape plus the thought signature Gemini needs back next turn. */
export type GeminiToolCall = ToolCall & { extra_content?: { google: { thought_signature: string } } };

export const newCompletionId = () => `chatcmpl-${randomBytes(12).toString('hex')}`;
export const newToolCallId = () => `call_${randomBytes(12).toString('hex')}`;


/**
 * Gemini's `promptTokenCount` includes the cached tokens, and tool-use prompt tokens (e.g. search results)
 * are billed as input on top of it; thoughts are billed as output but reported apart from candidates.
 */
export function fromGeminiUsage(u: GeminiUsageMetadata | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const fields = ['promptTokenCount', 'cachedContentTokenCount', 'candidatesTokenCount', 'toolUsePromptTokenCount', 'thoughtsTokenCount', 'totalTokenCount'];
  if (!fields.some((f) => typeof u[f] === 'number')) return undefined;
  const cached = tokenCount(u.cachedContentTokenCount);
  const thoughts = tokenCount(u.thoughtsTokenCount);
  return {
    input: Math.max(0, tokenCount(u.promptTokenCount) - cached) + tokenCount(u.toolUsePromptTokenCount),
    cacheRead: cached,
    cacheWrite: 0,
    output: tokenCount(u.candidatesTokenCount) + thoughts,
    reasoning: thoughts,
  };
}


const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION']);

/** Gemini says STOP after function calls too; OpenAI clients look for `tool_calls` to run them. */
export function mapFinishReason(reason: string, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (FILTERED.has(reason)) return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}

export interface SplitParts {
  text: string;
  reasoning: string;
  toolCalls: GeminiToolCall[];
}

/** Sorts a candidate's parts into answer text, thought text and function calls; other parts are ignored. */
export function splitParts(parts: GeminiPart[] | undefined): SplitParts {
  const out: SplitParts = { text: '', reasoning: '', toolCalls: [] };
  for (const p of Array.isArray(parts) ? parts : []) {
    if (!p || typeof p !== 'object') throw malformedUpstream('content part is not an object');
    if (p.functionCall) out.toolCalls.push(toToolCall(p));
    else if (typeof p.text === 'string') {
      if (p.thought === true) out.reasoning += p.text;
      else out.text += p.text;
    }
  }
  return out;
}

function toToolCall(p: GeminiPart): GeminiToolCall {
  const fc = p.functionCall!;
  if (typeof fc.name !== 'string' || !fc.name) throw malformedUpstream('functionCall without a name');
  const call: GeminiToolCall = {
    id: typeof fc.id === 'string' && fc.id ? fc.id : newToolCallId(),
    type: 'function',
    function: { name: fc.name, arguments: JSON.stringify(fc.args ?? {}) },
  };
  if (typeof p.thoughtSignature === 'string' && p.thoughtSignature) call.extra_content = { google: { thought_signature: p.thoughtSignature } };
  return call;
}

/** Gemini logprobs -> OpenAI's `{ content: [{ token, logprob, bytes, top_logprobs }] }`. */
export function toLogprobs(r: GeminiLogprobsResult | undefined): { content: unknown[]; refusal: null } | undefined {
  if (!r || !Array.isArray(r.chosenCandidates)) return undefined;
  const entry = (c: GeminiLogprobsCandidate) => {
    const token = c.token ?? '';
    return { token, logprob: c.logProbability ?? 0, bytes: Array.from(Buffer.from(token, 'utf8')) };
  };
  const content = r.chosenCandidates.map((c, i) => ({
    ...entry(c),
    top_logprobs: (r.topCandidates?.[i]?.candidates ?? []).map(entry),
  }));
  return { content, refusal: null };
}

function toChoice(c: GeminiCandidate, position: number): ChatChoice {
  const { text, reasoning, toolCalls } = splitParts(c.content?.parts);
  const choice: ChatChoice = {
    index: typeof c.index === 'number' ? c.index : position,
    message: {
      role: 'assistant',
      content: text || (toolCalls.length ? null : ''),
      ...(reasoning ? { reasoning_content: reasoning } : {}),
      ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
    },
    finish_reason: mapFinishReason(c.finishReason ?? 'STOP', toolCalls.length > 0),
  };
  const logprobs = toLogprobs(c.logprobsResult);
  if (logprobs) choice.logprobs = logprobs;
  return choice;
}

/** A prompt Gemini refused to answer: no candidates, only `promptFeedback.blockReason`. */
export const blockedChoice = (): ChatChoice => ({ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'content_filter' });

export function asResponse(body: unknown): GenerateContentResponse {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw malformedUpstream('response is not a JSON object');
  const b = body as GenerateContentResponse;
  if (b.error && typeof b.error === 'object') throw errorFromBody(b.error);
  if (b.candidates !== undefined && !Array.isArray(b.candidates)) throw malformedUpstream('candidates is not an array');
  return b;
}

export function fromUpstreamResponse(body: unknown, target: UpstreamTarget): ChatResult {
  const b = asResponse(body);
  const candidates = b.candidates ?? [];
  let choices: ChatChoice[];
  if (candidates.length) choices = candidates.map(toChoice).sort((x, y) => x.index - y.index);
  else if (b.promptFeedback?.blockReason) choices = [blockedChoice()];
  else throw malformedUpstream('response has neither candidates nor a block reason');
  const usage = fromGeminiUsage(b.usageMetadata);
  const completion: ChatCompletion = {
    id: typeof b.responseId === 'string' && b.responseId ? b.responseId : newCompletionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: typeof b.modelVersion === 'string' && b.modelVersion ? b.modelVersion : target.model,
    choices,
    ...(usage ? { usage: usageToOpenAI(usage) } : {}),
  };
  return { completion, usage };
}
