/**
 * Titan text embeddings through InvokeModel: `{inputText, dimensions?}` -> `{embedding, inputTextTokenCount}`.
 * One string per call, which is all the Titan text models take.
 */
import type { EmbeddingsRequest, EmbeddingsResult } from '../types.ts';
import { malformedUpstream, UpstreamError } from '../errors.ts';

type Json = Record<string, any>;

export function toTitanBody(req: EmbeddingsRequest): { inputText: string; dimensions?: number } {
  const input = req.input;
  const text = typeof input === 'string' ? input : Array.isArray(input) && input.length === 1 && typeof input[0] === 'string' ? input[0] : undefined;
  if (text === undefined) {
    throw new UpstreamError(400, 'invalid_request_error', 'Bedrock Titan embeddings take a single string input per request', 'unsupported_input', false, undefined, undefined, 'input');
  }
  return req.dimensions ? { inputText: text, dimensions: req.dimensions } : { inputText: text };
}

/** OpenAI's base64 encoding: the float32 little-endian bytes of the vector. */
function toBase64(vector: number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function fromTitanResponse(body: unknown, req: EmbeddingsRequest): EmbeddingsResult {
  const b = body as Json;
  if (!b || !Array.isArray(b.embedding)) throw malformedUpstream('Titan embeddings response has no embedding array');
  const vector = b.embedding as number[];
  const tokens = typeof b.inputTextTokenCount === 'number' ? b.inputTextTokenCount : undefined;
  return {
    data: [{ object: 'embedding', index: 0, embedding: req.encoding_format === 'base64' ? toBase64(vector) : vector }],
    usage: tokens === undefined ? undefined : { input: tokens, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 },
  };
}
