/** Anthropic Messages response -> OpenAI chat completion, and the usage mapping shared with the stream. */
import { tokenCount, usageToOpenAI } from '../usage.ts';
import type { AssistantMessage, ChatRequest, ChatResult, FinishReason, ThinkingBlock, ToolCall, UpstreamTarget, Usage } from '../types.ts';
import { malformedUpstream } from '../errors.ts';
import { errorFromWire } from './errors.ts';
import { structuredOutputTool } from './request.ts';
import type { WireError, WireMessage, WireUsage } from './wire.ts';


/**
 * Anthropic usage in our kinds. Anthropic's `input_tokens` already excludes cache reads and writes,
 * so it maps to `input` as is.
 */
export function fromAnthropicUsage(u: WireUsage | null | undefined): Usage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  return {
    input: tokenCount(u.input_tokens),
    cacheRead: tokenCount(u.cache_read_input_tokens),
    cacheWrite: tokenCount(u.cache_creation_input_tokens),
    output: tokenCount(u.output_tokens),
    reasoning: tokenCount(u.output_tokens_details?.thinking_tokens),
  };
}


const STOP_REASONS: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export const finishReasonOf = (stopReason: string | null | undefined): FinishReason => (stopReason && STOP_REASONS[stopReason]) || 'stop';

const nowSeconds = () => Math.floor(Date.now() / 1000);

export function fromUpstreamResponse(body: unknown, target: UpstreamTarget, req: ChatRequest): ChatResult {
  const b = body as WireMessage & { error?: WireError };
  if (!b || typeof b !== 'object') throw malformedUpstream('response is not an object');
  if ((b as { type?: string }).type === 'error') throw errorFromWire(b.error);
  if (!Array.isArray(b.content)) throw malformedUpstream('response has no content array');

  const answerTool = structuredOutputTool(req)?.name;
  const texts: string[] = [];
  const thinking: string[] = [];
  const signed: ThinkingBlock[] = [];
  const toolCalls: ToolCall[] = [];
  let answer: string | undefined;
  for (const block of b.content) {
    if (!block || typeof block !== 'object') continue;
    if (block.type === 'text' && typeof block.text === 'string') texts.push(block.text);
    else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      thinking.push(block.thinking);
      if (typeof block.signature === 'string' && block.signature) signed.push({ type: 'thinking', thinking: block.thinking, signature: block.signature });
    } else if (block.type === 'redacted_thinking' && typeof block.data === 'string' && block.data) {
      signed.push({ type: 'redacted_thinking', data: block.data });
    } else if (block.type === 'tool_use') {
      const args = JSON.stringify(block.input ?? {});
      // The forced json_schema tool is the answer itself, not a call the client should run.
      if (answerTool && block.name === answerTool) answer = args;
      else toolCalls.push({ id: String(block.id ?? ''), type: 'function', function: { name: String(block.name ?? ''), arguments: args } });
    }
    // Server-side tool blocks have no OpenAI equivalent.
  }

  const message: AssistantMessage = { role: 'assistant', content: answer ?? (texts.length ? texts.join('') : null), refusal: null };
  if (thinking.length) message.reasoning_content = thinking.join('');
  if (signed.length) message.thinking_blocks = signed;
  if (toolCalls.length) message.tool_calls = toolCalls;
  let finish = finishReasonOf(b.stop_reason);
  // A json_schema answer (or a tool_use stop with nothing to run) is a normal stop for the client.
  if (finish === 'tool_calls' && !toolCalls.length) finish = 'stop';

  const usage = fromAnthropicUsage(b.usage);
  return {
    completion: {
      id: typeof b.id === 'string' ? b.id : 'msg_unknown',
      object: 'chat.completion',
      created: nowSeconds(),
      model: typeof b.model === 'string' ? b.model : target.model,
      choices: [{ index: 0, message, finish_reason: finish, logprobs: null }],
      ...(usage ? { usage: usageToOpenAI(usage) } : {}),
    },
    usage,
  };
}
