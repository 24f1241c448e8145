/**
 * Anthropic Messages wire format (POST /v1/messages, anthropic-version 2023-06-01): OpenAI requests are
 * translated to Messages requests, and responses, streams and errors back to the OpenAI shapes.
 */
import type { ChatAdapter } from '../types.ts';
import { fromUpstreamError } from './errors.ts';
import { toUpstreamRequest } from './request.ts';
import { fromUpstreamResponse } from './response.ts';
import { AnthropicStreamDecoder } from './stream.ts';

export { toMessagesBody, toUpstreamRequest, structuredOutputTool } from './request.ts';
export { fromUpstreamResponse, fromAnthropicUsage, finishReasonOf } from './response.ts';
export { AnthropicEventTranslator, AnthropicStreamDecoder, parseEvent, type AnthropicEvent } from './stream.ts';
export { fromUpstreamError, errorFromWire, anthropicError } from './errors.ts';

export const anthropicAdapter: ChatAdapter = {
  format: 'anthropic',
  toUpstreamRequest,
  fromUpstreamResponse,
  createStreamDecoder: (target, req) => new AnthropicStreamDecoder(target, req),
  fromUpstreamError,
};
