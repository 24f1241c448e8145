/**
 * The model catalog: stored in the database, served from memory. Reads (model listing, resolution, prices)
 * never touch the database; writes go to the database first, then update memory.
 */
import type { Selectable } from 'kysely';
import type { Db } from '../../store/db.ts';
import type { ModelsTable } from '../../store/schema.ts';
import { pricingFromJson, pricingToJson, type Pricing } from '../pricing.ts';
import type { ModelUpsert, ModelView } from './schema.ts';

export interface CatalogModel {
  id: string;
  provider: string;
  upstreamId: string;
  name: string;
  kind: 'chat' | 'embedding';
  contextLength: number | null;
  maxOutputTokens: number | null;
  pricing: Pricing;
  capabilities: Record<string, boolean>;
  enabled: boolean;
  source: string;
  createdAt: Date;
  updatedAt: Date;
}

export type CatalogSource = 'seed' | 'admin' | 'sync';

function fromRow(r: Selectable<ModelsTable>): CatalogModel {
  return {
    id: r.id,
    provider: r.provider,
    upstreamId: r.upstream_id,
    name: r.name,
    kind: r.kind,
    contextLength: r.context_length,
    maxOutputTokens: r.max_output_tokens,
    pricing: {
      input: BigInt(r.price_input),
      output: BigInt(r.price_output),
      cachedInput: r.price_cached_input === null ? null : BigInt(r.price_cached_input),
      cacheWrite: r.price_cache_write === null ? null : BigInt(r.price_cache_write),
    },
    capabilities: r.capabilities ?? {},
    enabled: r.enabled,
    source: r.source,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export function toModelView(m: CatalogModel): ModelView {
  return {
    id: m.id,
    provider: m.provider,
    upstream_id: m.upstreamId,
    name: m.name,
    kind: m.kind,
    context_length: m.contextLength,
    max_output_tokens: m.maxOutputTokens,
    pricing: pricingToJson(m.pricing),
    capabilities: m.capabilities,
    enabled: m.enabled,
    source: m.source,
    created_at: m.createdAt.toISOString(),
    updated_at: m.updatedAt.toISOString(),
  };
}

/** The part after `provider/`, the name users may type bare. */
const bareName = (id: string) => id.slice(id.indexOf('/') + 1);

function toRow(input: ModelUpsert, source: CatalogSource) {
  const pricing = pricingFromJson(input.pricing);
  return {
    id: input.id,
    provider: input.provider,
    upstream_id: input.upstream_id ?? bareName(input.id),
    name: input.name ?? bareName(input.id),
    kind: input.kind ?? 'chat',
    context_length: input.context_length ?? null,
    max_output_tokens: input.max_output_tokens ?? null,
    price_input: pricing.input,
    price_output: pricing.output,
    price_cached_input: pricing.cachedInput,
    price_cache_write: pricing.cacheWrite,
    capabilities: JSON.stringify(input.capabilities ?? {}),
    enabled: input.enabled ?? true,
    source,
  };
}

export class Catalog {
  private byId = new Map<string, CatalogModel>();
  private byBare = new Map<string, CatalogModel[]>();
  private listCache: CatalogModel[] | undefined;
  /** Bumped on every change, so derived views (e.g. /v1/models) know when to rebuild. */
  version = 0;

  constructor(private readonly db: Db) {}

  async load(): Promise<void> {
    const rows = await this.db.selectFrom('models').selectAll().orderBy('id').execute();
    this.byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    this.reindex();
  }

  private reindex(): void {
    this.byBare = new Map();
    for (const m of this.byId.values()) {
      for (const name of new Set([bareName(m.id), m.upstreamId])) {
        const list = this.byBare.get(name);
        if (list) list.push(m);
        else this.byBare.set(name, [m]);
      }
    }
    this.listCache = undefined;
    this.version++;
  }

  get(id: string): CatalogModel | undefined {
    return this.byId.get(id);
  }

  /** Every model, sorted by id (cached until the next change). */
  list(): CatalogModel[] {
    this.listCache ??= [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    return this.listCache;
  }

  /** Models whose id without the provider prefix, or whose upstream id, equals `name`. */
  byBareName(name: string): CatalogModel[] {
    return this.byBare.get(name) ?? [];
  }

  async upsert(input: ModelUpsert, source: CatalogSource = 'admin'): Promise<CatalogModel> {
    const row = toRow(input, source);
    const saved = await this.db
      .insertInto('models')
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...row, updated_at: new Date() }))
      .returningAll()
      .executeTakeFirstOrThrow();
    const model = fromRow(saved);
    this.byId.set(model.id, model);
    this.reindex();
    return model;
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom('models').where('id', '=', id).executeTakeFirst();
    const removed = this.byId.delete(id);
    this.reindex();
    return removed || Number(res.numDeletedRows) > 0;
  }

  /**
   * Writes entries from the seed or a sync. Rows an admin edited (source `admin`) are left alone; rows
   * from the same or a lower source are refreshed. Returns how many rows were written.
   */
  async importModels(models: ModelUpsert[], source: Exclude<CatalogSource, 'admin'>): Promise<number> {
    if (!models.length) return 0;
    let written = 0;
    for (let i = 0; i < models.length; i += 200) {
      const rows = models.slice(i, i + 200).map((m) => toRow(m, source));
      const res = await this.db
        .insertInto('models')
        .values(rows)
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({
              provider: eb.ref('excluded.provider'),
              upstream_id: eb.ref('excluded.upstream_id'),
              name: eb.ref('excluded.name'),
              kind: eb.ref('excluded.kind'),
              context_length: eb.ref('excluded.context_length'),
              max_output_tokens: eb.ref('excluded.max_output_tokens'),
              price_input: eb.ref('excluded.price_input'),
              price_output: eb.ref('excluded.price_output'),
              price_cached_input: eb.ref('excluded.price_cached_input'),
              price_cache_write: eb.ref('excluded.price_cache_write'),
              capabilities: eb.ref('excluded.capabilities'),
              source: eb.ref('excluded.source'),
              updated_at: new Date(),
            }))
            .where('models.source', '<>', 'admin'),
        )
        .executeTakeFirst();
      written += Number(res.numInsertedOrUpdatedRows ?? 0);
    }
    await this.load();
    return written;
  }
}
