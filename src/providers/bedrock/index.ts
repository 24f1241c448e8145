/**
 * AWS Bedrock wire format: the Converse / ConverseStream API (one request shape for every Bedrock chat
 * model), SigV4 or Bedrock-API-key auth, and Titan text embeddings through InvokeModel.
 */
import type { ChatAdapter, ChatRequest, EmbeddingsRequest, UpstreamRequest, UpstreamTarget } from '../types.ts';
import { modelUrl, toConverseRequest } from './request.ts';
import { fromUpstreamResponse } from './response.ts';
import { BedrockStreamDecoder } from './stream.ts';
import { fromUpstreamError } from './errors.ts';
import { authorize } from './sign.ts';
import { fromTitanResponse, toTitanBody } from './embeddings.ts';

function post(target: UpstreamTarget, url: string, body: unknown): Promise<UpstreamRequest> {
  const p = target.provider;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...p.headers };
  return authorize({ method: 'POST', url, headers, body: JSON.stringify(body) }, p);
}

export async function toUpstreamRequest(target: UpstreamTarget, req: ChatRequest, stream: boolean): Promise<UpstreamRequest> {
  const url = modelUrl(target.provider.baseUrl, target.model, stream ? 'converse-stream' : 'converse');
  return post(target, url, toConverseRequest(target, req));
}

export async function toEmbeddingsRequest(target: UpstreamTarget, req: EmbeddingsRequest): Promise<UpstreamRequest> {
  return post(target, modelUrl(target.provider.baseUrl, target.model, 'invoke'), toTitanBody(req));
}

export const bedrockAdapter: ChatAdapter = {
  format: 'bedrock',
  toUpstreamRequest,
  fromUpstreamResponse,
  createStreamDecoder: (target, req) => new BedrockStreamDecoder(target, req),
  toEmbeddingsRequest,
  fromEmbeddingsResponse: (body, _target, req) => fromTitanResponse(body, req),
  fromUpstreamError,
};
