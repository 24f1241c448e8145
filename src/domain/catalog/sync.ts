/**
 * Imports an OpenRouter-format model listing (`GET /api/v1/models`: per-token prices as decimal strings)
 * as `openrouter/<slug>` catalog entries.
 */
import { z } from 'zod';
import { request } from 'undici';
import { AppError, badRequest } from '../../errors.ts';
import { decimalToInteger } from '../pricing.ts';
import type { ModelUpsert } from './schema.ts';

const priceString = z.union([z.string(), z.number()]).transform(String).optional();

const ListingSchema = z.object({
  data: z.array(
    z
      .object({
        id: z.string().min(1),
        name: z.string().optional(),
        context_length: z.number().int().positive().nullable().optional(),
        pricing: z
          .object({ prompt: priceString, completion: priceString, input_cache_read: priceString, input_cache_write: priceString })
          .loose()
          .optional(),
        architecture: z.object({ input_modalities: z.array(z.string()).optional() }).loose().optional(),
        supported_parameters: z.array(z.string()).optional(),
        top_provider: z.object({ max_completion_tokens: z.number().int().positive().nullable().optional() }).loose().optional(),
      })
      .loose(),
  ),
});

/** Per-token USD decimal string -> USD per million tokens as a number with at most 6 decimals. */
function perMillion(perToken: string | undefined): number | undefined {
  if (perToken === undefined || perToken === '' || perToken.startsWith('-')) return undefined;
  // Scale by 1e12 (per million, in micro-USD), keeping the exact digits, then back to USD.
  return Number(decimalToInteger(perToken, 12)) / 1e6;
}

export function fromOpenRouterListing(body: unknown): ModelUpsert[] {
  const parsed = ListingSchema.safeParse(body);
  if (!parsed.success) throw badRequest(`catalog listing is not in OpenRouter format: ${parsed.error.issues[0]?.message}`, 'invalid_listing');
  const out: ModelUpsert[] = [];
  for (const m of parsed.data.data) {
    const input = perMillion(m.pricing?.prompt);
    const output = perMillion(m.pricing?.completion);
    if (input === undefined || output === undefined) continue; // variable-priced routes (e.g. auto routers)
    const params = m.supported_parameters ?? [];
    out.push({
      id: `openrouter/${m.id}`,
      provider: 'openrouter',
      upstream_id: m.id,
      name: m.name ?? m.id,
      kind: 'chat',
      context_length: m.context_length ?? null,
      max_output_tokens: m.top_provider?.max_completion_tokens ?? null,
      pricing: {
        input,
        output,
        cached_input: perMillion(m.pricing?.input_cache_read) ?? null,
        cache_write: perMillion(m.pricing?.input_cache_write) ?? null,
      },
      capabilities: {
        tools: params.includes('tools'),
        json: params.includes('response_format') || params.includes('structured_outputs'),
        vision: (m.architecture?.input_modalities ?? []).includes('image'),
        reasoning: params.includes('reasoning'),
      },
    });
  }
  return out;
}

export async function fetchOpenRouterListing(url: string, signal?: AbortSignal): Promise<ModelUpsert[]> {
  let res;
  try {
    res = await request(url, { method: 'GET', headers: { accept: 'application/json' }, signal, headersTimeout: 30_000, bodyTimeout: 30_000 });
  } catch (err) {
    throw new AppError(502, 'api_error', `catalog sync: cannot reach ${url}: ${(err as Error).message}`, 'catalog_sync_failed');
  }
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new AppError(502, 'api_error', `catalog sync: ${url} answered ${res.statusCode}`, 'catalog_sync_failed');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new AppError(502, 'api_error', `catalog sync: ${url} did not return JSON`, 'catalog_sync_failed');
  }
  return fromOpenRouterListing(body);
}
