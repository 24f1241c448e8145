/**
 * Google Gemini wire format (generativelanguage v1beta): `generateContent`, `streamGenerateContent?alt=sse`
 * and `batchEmbedContents`, authenticated with `x-goog-api-key`.
 */
import type { ChatAdapter } from '../types.ts';
import { toUpstreamRequest } from './request.ts';
import { fromUpstreamResponse } from './response.ts';
import { GeminiStreamDecoder } from './stream.ts';
import { fromEmbeddingsResponse, toEmbeddingsRequest } from './embeddings.ts';
import { fromUpstreamError } from './errors.ts';

export { toUpstreamRequest, toGenerateContentRequest, SKIP_SIGNATURE } from './request.ts';
export { fromUpstreamResponse, fromGeminiUsage } from './response.ts';
export { GeminiStreamDecoder } from './stream.ts';
export { toEmbeddingsRequest, fromEmbeddingsResponse } from './embeddings.ts';
export { fromUpstreamError } from './errors.ts';

export const geminiAdapter: ChatAdapter = {
  format: 'gemini',
  toUpstreamRequest,
  fromUpstreamResponse: (body, target) => fromUpstreamResponse(body, target),
  createStreamDecoder: (target) => new GeminiStreamDecoder(target),
  toEmbeddingsRequest,
  fromEmbeddingsResponse,
  fromUpstreamError,
};
