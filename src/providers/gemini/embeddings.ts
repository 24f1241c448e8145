/**
 * OpenAI embeddings <-> Gemini `batchEmbedContents` (one request per input text, answers in the same order).
 */
import type { EmbeddingsRequest, EmbeddingsResult, UpstreamRequest, UpstreamTarget } from '../types.ts';
import { malformedUpstream } from '../errors.ts';
import { invalidRequest } from './errors.ts';
import { endpoint, headers, modelName } from './request.ts';

export function toEmbeddingsRequest(target: UpstreamTarget, req: EmbeddingsRequest): UpstreamRequest {
  const inputs: unknown[] = typeof req.input === 'string' ? [req.input] : req.input;
  if (!inputs.every((x): x is string => typeof x === 'string')) {
    throw invalidRequest('Gemini embeddings take text input; token arrays are not supported', 'input');
  }
  const model = modelName(target.model);
  const requests = inputs.map((text) => ({
    model,
    content: { parts: [{ text }] },
    ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
  }));
  return { method: 'POST', url: endpoint(target, 'batchEmbedContents'), headers: headers(target), body: JSON.stringify({ requests }) };
}

/** OpenAI's base64 encoding: the little-endian float32 bytes of the vector. */
function toBase64(values: number[]): string {
  const buf = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function fromEmbeddingsResponse(body: unknown, _target: UpstreamTarget, req: EmbeddingsRequest): EmbeddingsResult {
  const embeddings = (body as { embeddings?: unknown } | null)?.embeddings;
  if (!Array.isArray(embeddings)) throw malformedUpstream('embeddings response has no embeddings array');
  const data = embeddings.map((e, index) => {
    const values = (e as { values?: unknown } | null)?.values;
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'number')) throw malformedUpstream(`embedding ${index} has no values`);
    return { object: 'embedding' as const, index, embedding: req.encoding_format === 'base64' ? toBase64(values) : values };
  });
  // Gemini reports no token usage for embeddings; the gateway estimates it.
  return { data, usage: undefined };
}
