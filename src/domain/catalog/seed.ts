/** The catalog shipped in the repo (seed-catalog.json, dated) plus the offline mock models. */
import { readFileSync } from 'node:fs';
import { SeedCatalogSchema, type ModelUpsert } from './schema.ts';

export const MOCK_CATALOG: ModelUpsert[] = [
  {
    id: 'mock/echo',
    provider: 'mock',
    name: 'Mock echo (offline)',
    context_length: 128000,
    pricing: { input: 1, output: 2, cached_input: 0.5 },
    capabilities: { tools: false, vision: true, json: true },
  },
  {
    id: 'mock/tools',
    provider: 'mock',
    name: 'Mock tool caller (offline)',
    context_length: 128000,
    pricing: { input: 1, output: 2 },
    capabilities: { tools: true, vision: false, json: true },
  },
  {
    id: 'mock/embed',
    provider: 'mock',
    name: 'Mock embeddings (offline)',
    kind: 'embedding',
    context_length: 8192,
    pricing: { input: 0.02, output: 0 },
    capabilities: {},
  },
];

export interface SeedCatalog {
  asOf: string;
  models: ModelUpsert[];
}

let cached: SeedCatalog | undefined;

export function loadSeedCatalog(): SeedCatalog {
  if (cached) return cached;
  const raw = JSON.parse(readFileSync(new URL('./seed-catalog.json', import.meta.url), 'utf8'));
  const seed = SeedCatalogSchema.parse(raw);
  cached = {
    asOf: seed.as_of,
    models: [
      ...MOCK_CATALOG,
      ...seed.models.map((m) => ({
        id: m.id,
        provider: m.provider,
        upstream_id: m.upstream_id,
        name: m.name,
        kind: m.kind,
        context_length: m.context_length,
        max_output_tokens: m.max_output_tokens,
        pricing: m.pricing,
        capabilities: m.capabilities,
      })),
    ],
  };
  return cached;
}
