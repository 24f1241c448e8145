/**
 * Incremental rollups of the request log. The request-log writer calls `writeRollups` with every batch it
 * writes, inside the same transaction, so rollups always equal the rows written: per (hour|day, model,
 * provider, api key, user, status class) counts, tokens, exact cost (pico-USD), latency sum and a
 * fixed-bucket latency histogram; and per (hour, error fingerprint, provider, model, status) error counts.
 * Buckets are UTC. One INSERT ... ON CONFLICT DO UPDATE per table per batch, its rows in one JSON parameter.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../store/schema.ts';
import type { RequestLogRecord } from '../../telemetry/request-log.ts';
import { bucketOf, emptyHistogram, HIST_SIZE, LATENCY_BOUNDS_MS } from './histogram.ts';
import { errorFingerprint } from './fingerprint.ts';
import { bulkInsert, type BulkColumn, type BulkInsert } from '../../store/bulk-insert.ts';

type Db = Kysely<Database> | Transaction<Database>;

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
export const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;

interface RollupRow {
  bucket: Date;
  model: string;
  provider: string;
  api_key_id: string;
  user_id: string;
  status_class: number;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  cost_pico: bigint;
  latency_ms_sum: number;
  latency_hist: number[];
}

interface ErrorRow {
  bucket: Date;
  fingerprint: string;
  provider: string;
  model: string;
  status: number;
  error_type: string;
  error_code: string;
  pattern: string;
  count: number;
  last_seen: Date;
  example_message: string | null;
  example_request_id: string | null;
}

const timeOf = (r: RequestLogRecord): number => (r.created_at === undefined ? Date.now() : new Date(r.created_at).getTime());

export type RollupTable = 'request_rollups_hourly' | 'request_rollups_daily' | 'request_rollups_model_hourly' | 'request_rollups_model_daily';
/**
 * Two families, each hourly and daily: `keyed` rows are per (API key, user) with model and provider left
 * empty; `model` rows are per (model, provider) with key and user left empty. Each answers its own questions
 * from few rows (keys x models per bucket would make the per-key tables nearly as large as the log).
 */
export const ROLLUP_TABLES = {
  keyed: { hour: 'request_rollups_hourly', day: 'request_rollups_daily' },
  model: { hour: 'request_rollups_model_hourly', day: 'request_rollups_model_daily' },
} as const;

function addTo(map: Map<string, RollupRow>, unit: number, keyed: boolean, r: RequestLogRecord, t: number): void {
  const bucket = floorTo(t, unit);
  const model = keyed ? '' : (r.model ?? '');
  const provider = keyed ? '' : (r.provider ?? '');
  const key = keyed ? (r.api_key_id ?? '') : '';
  const user = keyed ? (r.user_id ?? '') : '';
  const cls = Math.floor(r.status / 100);
  const id = `${bucket}\u0000${model}\u0000${provider}\u0000${key}\u0000${user}\u0000${cls}`;
  let row = map.get(id);
  if (!row) {
    row = { bucket: new Date(bucket), model, provider, api_key_id: key, user_id: user, status_class: cls, requests: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, reasoning_tokens: 0, cost_pico: 0n, latency_ms_sum: 0, latency_hist: emptyHistogram() };
    map.set(id, row);
  }
  row.requests++;
  row.input_tokens += r.input_tokens ?? 0;
  row.output_tokens += r.output_tokens ?? 0;
  row.cache_read_tokens += r.cache_read_tokens ?? 0;
  row.cache_write_tokens += r.cache_write_tokens ?? 0;
  row.reasoning_tokens += r.reasoning_tokens ?? 0;
  row.cost_pico += BigInt(r.cost_pico ?? 0);
  row.latency_ms_sum += r.latency_ms;
  row.latency_hist[bucketOf(r.latency_ms)]++;
}

function addError(map: Map<string, ErrorRow>, r: RequestLogRecord, t: number): void {
  // Client hang-ups are not error patterns worth grouping; they are still counted (class 4) in the rollups.
  if (r.status < 400 || r.client_aborted) return;
  const type = r.error_type ?? 'api_error';
  const code = r.error_code ?? '';
  const { fingerprint, pattern } = errorFingerprint(type, code, r.error_message);
  const bucket = floorTo(t, HOUR_MS);
  const provider = r.provider ?? '';
  const model = r.model ?? '';
  const id = `${bucket}\u0000${fingerprint}\u0000${provider}\u0000${model}\u0000${r.status}`;
  const row = map.get(id);
  if (!row) {
    map.set(id, { bucket: new Date(bucket), fingerprint, provider, model, status: r.status, error_type: type, error_code: code, pattern, count: 1, last_seen: new Date(t), example_message: r.error_message ?? null, example_request_id: r.request_id });
  } else {
    row.count++;
    if (t >= row.last_seen.getTime()) {
      row.last_seen = new Date(t);
      row.example_message = r.error_message ?? null;
      row.example_request_id = r.request_id;
    }
  }
}

const ROLLUP_KEY = ['bucket', 'model', 'provider', 'api_key_id', 'user_id', 'status_class'] as const;
const SUMMED = ['requests', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'reasoning_tokens', 'cost_pico', 'latency_ms_sum'] as const;
const ROLLUP_COLUMNS: BulkColumn[] = [
  ['bucket', 'timestamptz'],
  ['model', 'text'],
  ['provider', 'text'],
  ['api_key_id', 'text'],
  ['user_id', 'text'],
  ['status_class', 'int2'],
  ...SUMMED.map((c): BulkColumn => [c, c === 'cost_pico' ? 'numeric' : 'int8']),
  ['latency_hist', 'int8[]'],
];

/** `ON CONFLICT` adding every counter to the stored row, and the histogram element-wise. */
function upsertClause(table: string): string {
  const sums = SUMMED.map((c) => `${c} = ${table}.${c} + excluded.${c}`);
  const hist = Array.from({ length: HIST_SIZE }, (_, i) => `${table}.latency_hist[${i + 1}] + excluded.latency_hist[${i + 1}]`);
  return `on conflict (${ROLLUP_KEY.join(', ')}) do update set ${sums.join(', ')}, latency_hist = array[${hist.join(', ')}]`;
}

/** One statement per table whatever the batch holds (so it is prepared once): the rows travel as one JSON parameter. */
const UPSERTS = Object.fromEntries(
  Object.values(ROLLUP_TABLES)
    .flatMap((units) => Object.values(units))
    .map((table) => [table, bulkInsert(table, ROLLUP_COLUMNS, upsertClause(table))]),
) as Record<RollupTable, BulkInsert>;

/** Error rows per statement (a multi-row VALUES): PostgreSQL takes at most 65535 bind parameters. */
const CHUNK = 2000;
const chunks = <T>(rows: T[]) => Array.from({ length: Math.ceil(rows.length / CHUNK) }, (_, i) => rows.slice(i * CHUNK, (i + 1) * CHUNK));

function upsertRollups(db: Db, table: RollupTable, rows: RollupRow[]): Promise<void> {
  return UPSERTS[table](
    db,
    rows.map((r) => [r.bucket, r.model, r.provider, r.api_key_id, r.user_id, r.status_class, r.requests, r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens, r.cost_pico.toString(), r.latency_ms_sum, `{${r.latency_hist.join(',')}}`]),
  );
}

async function upsertErrors(db: Db, all: ErrorRow[]): Promise<void> {
  const t = 'request_error_rollups';
  for (const rows of chunks(all)) {
    await db
      .insertInto(t)
      .values(rows)
      .onConflict((oc) =>
        oc.columns(['bucket', 'fingerprint', 'provider', 'model', 'status']).doUpdateSet({
          count: sql`${sql.raw(t)}.count + excluded.count`,
          last_seen: sql`greatest(${sql.raw(t)}.last_seen, excluded.last_seen)`,
          example_message: sql`case when excluded.last_seen >= ${sql.raw(t)}.last_seen then excluded.example_message else ${sql.raw(t)}.example_message end`,
          example_request_id: sql`case when excluded.last_seen >= ${sql.raw(t)}.last_seen then excluded.example_request_id else ${sql.raw(t)}.example_request_id end`,
        }),
      )
      .execute();
  }
}

/** Adds one written batch to the rollups. Called inside the batch's transaction. */
export async function writeRollups(db: Db, batch: readonly RequestLogRecord[]): Promise<void> {
  const maps = new Map<RollupTable, Map<string, RollupRow>>();
  const errors = new Map<string, ErrorRow>();
  for (const [kind, tables] of Object.entries(ROLLUP_TABLES)) {
    for (const [unit, table] of Object.entries(tables)) {
      const map = new Map<string, RollupRow>();
      for (const r of batch) addTo(map, unit === 'hour' ? HOUR_MS : DAY_MS, kind === 'keyed', r, timeOf(r));
      maps.set(table, map);
    }
  }
  for (const r of batch) addError(errors, r, timeOf(r));
  // Sorted keys: concurrent writers (several instances) lock rollup rows in the same order, so no deadlock.
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
  for (const [table, map] of maps) await upsertRollups(db, table, sorted(map));
  await upsertErrors(db, sorted(errors));
}

/** SQL for the histogram of `latency_ms` over a group (same buckets as `bucketOf`). */
function histogramSql(): string {
  const parts: string[] = [];
  for (let i = 0; i < HIST_SIZE; i++) {
    const lo = i === 0 ? undefined : LATENCY_BOUNDS_MS[i - 1];
    const hi = i < LATENCY_BOUNDS_MS.length ? LATENCY_BOUNDS_MS[i] : undefined;
    const cond = [lo !== undefined ? `latency_ms > ${lo}` : '', hi !== undefined ? `latency_ms <= ${hi}` : ''].filter(Boolean).join(' and ');
    parts.push(`count(*) filter (where ${cond})`);
  }
  return `array[${parts.join(', ')}]::int8[]`;
}

/**
 * Rebuilds every rollup from the raw request log (in SQL for the counters; error patterns through the
 * same fingerprint function as the incremental path). For imports and benchmarks: it scans the whole log.
 */
export async function rebuildAllRollups(db: Kysely<Database>): Promise<void> {
  for (const [kind, tables] of Object.entries(ROLLUP_TABLES)) {
    for (const [unit, table] of Object.entries(tables)) await rebuildTable(db, table, unit as 'hour' | 'day', kind === 'keyed');
  }
  await rebuildErrors(db);
}

async function rebuildTable(db: Kysely<Database>, table: RollupTable, unit: 'hour' | 'day', keyed: boolean): Promise<void> {
  {
    const key = keyed ? sql`coalesce(api_key_id, '')` : sql`''`;
    const user = keyed ? sql`coalesce(user_id, '')` : sql`''`;
    const model = keyed ? sql`''` : sql`coalesce(model, '')`;
    const provider = keyed ? sql`''` : sql`coalesce(provider, '')`;
    await sql`delete from ${sql.table(table)}`.execute(db);
    await sql`
      insert into ${sql.table(table)} (bucket, model, provider, api_key_id, user_id, status_class, requests, input_tokens, output_tokens,
        cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_pico, latency_ms_sum, latency_hist)
      select date_trunc(${unit}, created_at, 'UTC'), ${model}, ${provider}, ${key}, ${user},
        (status / 100)::smallint, count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
        sum(reasoning_tokens), sum(cost_pico), sum(latency_ms), ${sql.raw(histogramSql())}
      from request_logs
      group by 1, 2, 3, 4, 5, 6`.execute(db);
  }
}

async function rebuildErrors(db: Kysely<Database>): Promise<void> {
  await sql`delete from request_error_rollups`.execute(db);
  let after = '0';
  for (;;) {
    const rows = await db
      .selectFrom('request_logs')
      .select(['id', 'request_id', 'created_at', 'status', 'provider', 'model', 'error_type', 'error_code', 'error_message', 'client_aborted', 'latency_ms'])
      .where('status', '>=', 400)
      .where(sql<boolean>`id > ${after}::int8`)
      .orderBy('id')
      .limit(20_000)
      .execute();
    if (!rows.length) break;
    const errors = new Map<string, ErrorRow>();
    for (const r of rows) addError(errors, r as unknown as RequestLogRecord, new Date(r.created_at).getTime());
    await upsertErrors(db, [...errors.values()]);
    after = String(rows[rows.length - 1].id);
  }
}
