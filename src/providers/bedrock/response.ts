/**
 * Bedrock Converse response -> OpenAI chat completion, plus the pieces the stream decoder shares
 * (usage and stop-reason mapping, ids).
 */
import { tokenCount, usageToOpenAI } from '../usage.ts';
import { randomUUID } from 'node:crypto';
import type { ChatCompletion, ChatRequest, ChatResult, FinishReason, ToolCall, UpstreamTarget, Usage } from '../types.ts';
import { malformedUpstream } from '../errors.ts';
import { schemaToolOf } from './request.ts';
import type { StopReason, TokenUsage } from './wire.ts';

type Json = Record<string, any>;

export const completionId = () => `chatcmpl-${randomUUID().replace(/-/g, '')}`;


/**
 * Converse usage -> our kinds. Per the Bedrock prompt-caching guide, `inputTokens` already excludes cache
 * reads and writes (total prompt = inputTokens + cacheReadInputTokens + cacheWriteInputTokens). Bedrock does
 * not split reasoning out of `outputTokens`, so `reasoning` stays 0.
 */
export function fromConverseUsage(u: TokenUsage | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  return {
    input: tokenCount(u.inputTokens),
    cacheRead: tokenCount(u.cacheReadInputTokens),
    cacheWrite: tokenCount(u.cacheWriteInputTokens),
    output: tokenCount(u.outputTokens),
    reasoning: 0,
  };
}


export function finishReasonOf(stop: StopReason | undefined): FinishReason {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, malformed_* and anything newer
      return 'stop';
  }
}

/**
 * Finish reason once the forced json_schema tool is accounted for: its call is the answer ('stop');
 * only calls of the caller's own tools make it 'tool_calls'.
 */
export function finalFinish(stop: StopReason | undefined, realToolCalls: number): FinishReason {
  const f = finishReasonOf(stop);
  if (f === 'tool_calls' && realToolCalls === 0) return 'stop';
  if (f === 'stop' && realToolCalls > 0) return 'tool_calls';
  return f;
}

export function fromUpstreamResponse(body: unknown, target: UpstreamTarget, req: ChatRequest): ChatResult {
  const b = body as Json;
  const message = b?.output?.message;
  if (!b || typeof b !== 'object' || !message || !Array.isArray(message.content)) {
    throw malformedUpstream('Converse response has no output.message.content array');
  }
  const schemaTool = schemaToolOf(req);
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const block of message.content as Json[]) {
    if (!block || typeof block !== 'object') continue;
    if (typeof block.text === 'string') text += block.text;
    else if (block.toolUse) {
      const tu = block.toolUse as Json;
      const args = JSON.stringify(tu.input ?? {});
      if (schemaTool && tu.name === schemaTool.name) {
        // The forced structured-output tool: its input is the answer.
        text += args;
      } else {
        toolCalls.push({ id: String(tu.toolUseId ?? ''), type: 'function', function: { name: String(tu.name ?? ''), arguments: args } });
      }
    } else if (block.reasoningContent) {
      const t = block.reasoningContent.reasoningText?.text;
      if (typeof t === 'string') reasoning += t;
    }
  }
  const usage = fromConverseUsage(b.usage);
  const completion: ChatCompletion = {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: target.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: toolCalls.length && !text ? null : text,
          refusal: null,
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: finalFinish(b.stopReason, toolCalls.length),
      },
    ],
    ...(usage ? { usage: usageToOpenAI(usage) } : {}),
  };
  return { completion, usage };
}
