/**
 * Analytics read from the rollup tables only (never the raw request log): every query is bounded by an
 * aligned time range on the rollups' leading primary-key column and by a row limit.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../store/db.ts';
import { picoToUsd } from '../pricing.ts';
import { badRequest } from '../../errors.ts';
import { HIST_SIZE, quantile } from './histogram.ts';
import { splitByDay, type TimeRange } from './range.ts';
import { ROLLUP_TABLES, type RollupTable } from './rollups.ts';

export interface Filters {
  model?: string;
  provider?: string;
  api_key_id?: string;
  user_id?: string;
}

/** Aggregates of one group. Latency figures cover successful (2xx) requests; percentiles are estimates. */
export interface Stats {
  requests: number;
  errors: number;
  error_rate: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  total_tokens: number;
  cost_usd: number;
  /** Exact cost in pico-USD (1e-12 USD), as a decimal string. */
  cost_pico: string;
  avg_latency_ms: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  /** Output tokens per second of request time, over successful requests. */
  output_tokens_per_second: number | null;
}

type Row = Record<string, string | number | Date | null>;

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

function filterSql(f: Filters): RawBuilder<unknown> {
  const parts: RawBuilder<unknown>[] = [];
  if (f.model !== undefined) parts.push(sql`and model = ${f.model}`);
  if (f.provider !== undefined) parts.push(sql`and provider = ${f.provider}`);
  if (f.api_key_id !== undefined) parts.push(sql`and api_key_id = ${f.api_key_id}`);
  if (f.user_id !== undefined) parts.push(sql`and user_id = ${f.user_id}`);
  return parts.length ? sql.join(parts, sql` `) : sql``;
}

const rangeFrom = (table: RollupTable, r: TimeRange, f: Filters) =>
  sql`select * from ${sql.table(table)} where bucket >= ${r.from} and bucket < ${r.to} ${filterSql(f)}`;

/**
 * Key/user questions read the per-key rollups, model/provider questions the per-model ones; a query mixing
 * both (e.g. one key's spend per model) is refused with a precise 400 rather than answered wrongly.
 */
function tablesFor(f: Filters, dims: readonly Dimension[] = []) {
  const byKey = f.api_key_id !== undefined || f.user_id !== undefined || dims.some((d) => d === 'api_key_id' || d === 'user_id');
  const byModel = f.model !== undefined || f.provider !== undefined || dims.some((d) => d === 'model' || d === 'provider');
  if (byKey && byModel) {
    throw badRequest('API key / user and model / provider cannot be combined in one query (rollups are kept per key and user, and per model and provider).', 'unsupported_filter_combination');
  }
  return byKey ? ROLLUP_TABLES.keyed : ROLLUP_TABLES.model;
}

/** Whole days from the daily rollup, the hours around them from the hourly one. */
function mixedSource(r: TimeRange, f: Filters, dims: readonly Dimension[] = []): RawBuilder<unknown> {
  const tables = tablesFor(f, dims);
  const { days, hours } = splitByDay(r);
  const parts = hours.map((h) => rangeFrom(tables.hour, h, f));
  if (days) parts.unshift(rangeFrom(tables.day, days, f));
  return sql.join(parts, sql` union all `);
}

const HIST_COLUMNS = sql.raw(Array.from({ length: HIST_SIZE }, (_, i) => `, sum(latency_hist[${i + 1}]) filter (where status_class = 2) as h${i}`).join(''));

const AGGREGATES = sql`
  sum(requests) as requests,
  sum(requests) filter (where status_class >= 4) as errors,
  sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
  sum(cache_read_tokens) as cache_read_tokens, sum(cache_write_tokens) as cache_write_tokens,
  sum(reasoning_tokens) as reasoning_tokens, sum(cost_pico) as cost_pico,
  sum(requests) filter (where status_class = 2) as ok_requests,
  sum(output_tokens) filter (where status_class = 2) as ok_output_tokens,
  sum(latency_ms_sum) filter (where status_class = 2) as ok_latency_ms_sum
  ${HIST_COLUMNS}`;

export function toStats(row: Row | undefined): Stats {
  const r = row ?? {};
  const requests = num(r.requests);
  const errors = num(r.errors);
  const input = num(r.input_tokens);
  const output = num(r.output_tokens);
  const cacheRead = num(r.cache_read_tokens);
  const cacheWrite = num(r.cache_write_tokens);
  const reasoning = num(r.reasoning_tokens);
  const costPico = r.cost_pico === null || r.cost_pico === undefined ? 0n : BigInt(String(r.cost_pico));
  const okRequests = num(r.ok_requests);
  const okLatency = num(r.ok_latency_ms_sum);
  const hist = Array.from({ length: HIST_SIZE }, (_, i) => num(r[`h${i}`]));
  return {
    requests,
    errors,
    error_rate: requests ? round(errors / requests, 4) : 0,
    input_tokens: input,
    output_tokens: output,
    cache_read_tokens: cacheRead,
    cache_write_tokens: cacheWrite,
    reasoning_tokens: reasoning,
    // Reasoning tokens are part of output tokens (OpenAI's accounting), so they are not added again.
    total_tokens: input + cacheRead + cacheWrite + output,
    cost_usd: picoToUsd(costPico),
    cost_pico: costPico.toString(),
    avg_latency_ms: okRequests ? round(okLatency / okRequests, 1) : null,
    latency_p50_ms: quantile(hist, 0.5),
    latency_p95_ms: quantile(hist, 0.95),
    latency_p99_ms: quantile(hist, 0.99),
    output_tokens_per_second: okLatency > 0 ? round(num(r.ok_output_tokens) / (okLatency / 1000), 2) : null,
  };
}

export async function summary(db: Db, range: TimeRange, f: Filters): Promise<Stats> {
  const { rows } = await sql<Row>`select ${AGGREGATES} from (${mixedSource(range, f)}) r`.execute(db);
  return toStats(rows[0]);
}

export type Dimension = 'model' | 'provider' | 'api_key_id' | 'user_id';

/** Totals grouped by dimensions, most expensive first (then most requests). '' (none) comes back as null. */
export async function breakdown<D extends Dimension>(db: Db, range: TimeRange, f: Filters, dims: readonly D[], limit: number): Promise<(Record<D, string | null> & Stats)[]> {
  const cols = sql.join(dims.map((d) => sql.ref(d)));
  const { rows } = await sql<Row>`
    select ${cols}, ${AGGREGATES}
    from (${mixedSource(range, f, dims)}) r
    group by ${cols}
    order by sum(cost_pico) desc, sum(requests) desc, ${cols}
    limit ${limit}`.execute(db);
  return rows.map((row) => {
    const keys = Object.fromEntries(dims.map((d) => [d, row[d] === '' || row[d] === null ? null : String(row[d])])) as Record<D, string | null>;
    return { ...keys, ...toStats(row) };
  });
}

/** Per-bucket stats for a series; buckets without traffic are absent (the caller fills them). */
export async function series(db: Db, unit: 'hour' | 'day', range: TimeRange, f: Filters): Promise<Map<number, Stats>> {
  const { rows } = await sql<Row>`
    select bucket, ${AGGREGATES} from (${rangeFrom(tablesFor(f)[unit], range, f)}) r group by bucket order by bucket`.execute(db);
  return new Map(rows.map((row) => [new Date(row.bucket as Date).getTime(), toStats(row)]));
}

export interface ErrorPatternView {
  fingerprint: string;
  error_type: string;
  error_code: string | null;
  pattern: string;
  count: number;
  first_bucket: string;
  last_seen: string;
  statuses: number[];
  providers: string[];
  models: string[];
  examples: { message: string | null; request_id: string | null }[];
}

/**
 * Top error patterns by count in the range. In three cheap steps rather than one query with ordered
 * aggregates (which sorts every row of the range): top fingerprints by hash aggregation; their statuses,
 * providers and models (hash aggregation again); examples from the bucket of each one's latest occurrence
 * (primary-key lookups).
 */
export async function errorPatterns(db: Db, range: TimeRange, f: Pick<Filters, 'model' | 'provider'>, limit: number): Promise<{ total: number; patterns: ErrorPatternView[] }> {
  const where = sql`bucket >= ${range.from} and bucket < ${range.to} ${filterSql(f)}`;
  const { rows: top } = await sql<Row & { total: string }>`
    select fingerprint, min(error_type) as error_type, min(error_code) as error_code, min(pattern) as pattern,
      sum(count) as count, min(bucket) as first_bucket, max(last_seen) as last_seen, sum(sum(count)) over () as total
    from request_error_rollups where ${where}
    group by fingerprint
    order by sum(count) desc, max(last_seen) desc
    limit ${limit}`.execute(db);
  if (!top.length) return { total: 0, patterns: [] };
  const fps = top.map((r) => String(r.fingerprint));
  const { rows: combos } = await sql<{ fingerprint: string; status: number; provider: string; model: string }>`
    select fingerprint, status, provider, model from request_error_rollups
    where ${where} and fingerprint = any(${fps}) group by fingerprint, status, provider, model limit 10000`.execute(db);
  const latestBuckets = top.map((r) => new Date(Math.floor(new Date(r.last_seen as Date).getTime() / 3_600_000) * 3_600_000));
  const { rows: examples } = await sql<{ fingerprint: string; example_message: string | null; example_request_id: string | null; last_seen: Date }>`
    select e.fingerprint, e.example_message, e.example_request_id, e.last_seen
    from unnest(${latestBuckets}::timestamptz[], ${fps}::text[]) as k(bucket, fingerprint)
    join request_error_rollups e on e.bucket = k.bucket and e.fingerprint = k.fingerprint
    where true ${filterSql(f)}
    limit 10000`.execute(db);
  const sets = new Map(fps.map((fp) => [fp, { statuses: new Set<number>(), providers: new Set<string>(), models: new Set<string>() }]));
  for (const c of combos) {
    const set = sets.get(c.fingerprint)!;
    set.statuses.add(c.status);
    if (c.provider) set.providers.add(c.provider);
    if (c.model) set.models.add(c.model);
  }
  const sortStr = (xs: Iterable<string>) => [...xs].sort();
  return {
    total: num(top[0].total),
    patterns: top.map((r) => {
      const fp = String(r.fingerprint);
      const set = sets.get(fp)!;
      const ex = examples
        .filter((e) => e.fingerprint === fp)
        .sort((a, b) => new Date(b.last_seen).getTime() - new Date(a.last_seen).getTime())
        .slice(0, 3);
      return {
        fingerprint: fp,
        error_type: String(r.error_type),
        error_code: r.error_code ? String(r.error_code) : null,
        pattern: String(r.pattern),
        count: num(r.count),
        first_bucket: new Date(r.first_bucket as Date).toISOString(),
        last_seen: new Date(r.last_seen as Date).toISOString(),
        statuses: [...set.statuses].sort((a, b) => a - b),
        providers: sortStr(set.providers),
        models: sortStr(set.models),
        examples: ex.map((e) => ({ message: e.example_message, request_id: e.example_request_id })),
      };
    }),
  };
}
