/**
 * Analytics benchmark: seeds 1,000,000 request-log rows (30 days, 8 models on 4 providers, 50 API keys of
 * 20 users, ~5% errors) into PostgreSQL in a fresh schema, builds the rollups, starts Switchyard on that
 * schema and times every analytics endpoint over HTTP (median / p95 / max of 20 runs after 3 warm-ups).
 *
 *   DATABASE_URL=postgres://... npx tsx bench/analytics-seed.ts [--rows 1000000] [--keep]
 *
 * Default database: postgres://postgres@127.0.0.1:5432/test. The schema `bench_analytics` is dropped first
 * (and at the end unless --keep; --reuse times a kept schema without seeding). Results: bench/ANALYTICS.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/load.ts';
import { buildServer } from '../src/server.ts';
import { openDatabase } from '../src/store/db.ts';
import { rebuildAllRollups } from '../src/domain/analytics/rollups.ts';

const args = process.argv.slice(2);
const ROWS = Number(args[args.indexOf('--rows') + 1] || 0) || 1_000_000;
const KEEP = args.includes('--keep');
const URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'bench_analytics';
const ADMIN = 'sk-bench-admin-0123456789abcdef';
const RUNS = 20;

const log = (...a: unknown[]) => console.error(new Date().toISOString().slice(11, 19), ...a);

async function dropSchema() {
  const c = new pg.Client({ connectionString: URL });
  await c.connect();
  await c.query(`drop schema if exists ${SCHEMA} cascade`);
  await c.end();
}

async function seed() {
  await dropSchema();
  const handle = await openDatabase({ url: URL, dataDir: tmpdir(), schema: SCHEMA });
  await handle.migrate();
  const db = handle.db;
  const t0 = Date.now();
  const CHUNK = 100_000;
  for (let start = 0; start < ROWS; start += CHUNK) {
    const n = Math.min(CHUNK, ROWS - start);
    // Models and prices (micro-USD per million tokens); provider follows the model.
    await sql`
      with g as (
        select i, random() as r, random() as r2, (random() * 8)::int % 8 as m, i % 50 as k
        from generate_series(${start}::int, ${start + n - 1}::int) as i
      ), p as (
        select g.*,
          (array['openai/gpt-4o-mini','openai/gpt-4o','anthropic/claude-sonnet-4-5','anthropic/claude-haiku-4-5','gemini/gemini-2.5-flash','gemini/gemini-2.5-pro','groq/llama-3.3-70b','groq/llama-3.1-8b'])[m + 1] as model,
          (array['openai','openai','anthropic','anthropic','gemini','gemini','groq','groq'])[m + 1] as provider,
          (array[150000, 2500000, 3000000, 1000000, 300000, 1250000, 590000, 50000])[m + 1]::int8 as pin,
          (array[600000, 10000000, 15000000, 5000000, 2500000, 10000000, 790000, 80000])[m + 1]::int8 as pout,
          case when r < 0.95 then 200 when r < 0.97 then 400 when r < 0.975 then 404 when r < 0.98 then 429 when r < 0.995 then 502 else 504 end as status,
          (50 + r2 * 4000)::int as input_tokens,
          (10 + random() * 1500)::int as output_tokens
        from g
      )
      insert into request_logs (request_id, created_at, endpoint, requested_model, model, provider, upstream_model, stream, status,
        error_type, error_code, error_message, input_tokens, output_tokens, cost_pico, latency_ms, ttft_ms, attempts, api_key_id, user_id)
      select 'req_' || md5(i::text), now() - random() * interval '30 days', 'chat', model, model, provider, split_part(model, '/', 2), i % 3 = 0, status,
        case when status >= 500 then 'api_error' when status = 429 then 'rate_limit_error' when status >= 400 then 'invalid_request_error' end,
        case when status >= 400 then 'upstream_' || status end,
        case status
          when 400 then 'Invalid parameter "temperature": ' || round((random() * 5)::numeric, 2) || ' is greater than the maximum of 2 (request req_' || substr(md5(random()::text), 1, 12) || ')'
          when 404 then 'The model ''' || model || '-' || (i % 7) || ''' does not exist'
          when 429 then 'Rate limit reached for requests: limit ' || (500 + i % 5 * 100) || ' RPM, used ' || (i % 900) || '. Retry after ' || (i % 30) || 's'
          when 502 then 'Upstream unreachable: connect ECONNREFUSED 10.0.' || (i % 255) || '.' || (i % 13) || ':443'
          when 504 then 'Upstream timed out after ' || (30000 + i % 5000) || ' ms waiting for the first byte'
        end,
        case when status = 200 then input_tokens else 0 end,
        case when status = 200 then output_tokens else 0 end,
        case when status = 200 then input_tokens * pin + output_tokens * pout else 0 end,
        (80 + exp(random() * 8))::int, case when i % 3 = 0 then (50 + random() * 800)::int end, 1,
        'key_' || k, 'user_' || (k % 20)
      from p`.execute(db);
    log(`seeded ${start + n} rows`);
  }
  log(`seed: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = Date.now();
  await rebuildAllRollups(db);
  await sql`analyze`.execute(db);
  const counts = await sql<{ t: string; n: string }>`
    select 'request_logs' as t, count(*)::text as n from request_logs union all
    select 'request_rollups_hourly', count(*)::text from request_rollups_hourly union all
    select 'request_rollups_daily', count(*)::text from request_rollups_daily union all
    select 'request_rollups_model_hourly', count(*)::text from request_rollups_model_hourly union all
    select 'request_rollups_model_daily', count(*)::text from request_rollups_model_daily union all
    select 'request_error_rollups', count(*)::text from request_error_rollups`.execute(db);
  log(`rollups rebuilt in ${((Date.now() - t1) / 1000).toFixed(1)} s:`, counts.rows.map((r) => `${r.t}=${r.n}`).join(' '));
  await handle.close();
  return counts.rows;
}

function pct(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function timeEndpoints() {
  const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  const config = loadConfig({}, { databaseUrl: URL, adminApiKey: ADMIN, logLevel: 'silent', dataDir, port: 0, host: '127.0.0.1' });
  const server = await buildServer(config, { databaseSchema: SCHEMA });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  const day = 86_400_000;
  const iso = (ms: number) => new Date(ms).toISOString();
  const now = Date.now();
  const d7 = `from=${iso(now - 7 * day + 3_600_000)}`; // just inside the 7-day limit of hourly series
  const d30 = `from=${iso(now - 30 * day)}`;
  const paths = [
    '/api/admin/analytics/summary',
    `/api/admin/analytics/summary?${d30}`,
    `/api/admin/analytics/summary?${d30}&model=openai/gpt-4o`,
    '/api/admin/analytics/by-model',
    `/api/admin/analytics/by-model?${d30}`,
    `/api/admin/analytics/by-provider?${d30}`,
    `/api/admin/analytics/by-key?${d30}`,
    `/api/admin/analytics/by-user?${d30}`,
    '/api/admin/analytics/timeseries?metric=requests&bucket=hour',
    `/api/admin/analytics/timeseries?metric=latency_p95&bucket=hour&${d7}`,
    `/api/admin/analytics/timeseries?metric=cost&bucket=hour&${d7}&api_key_id=key_7`,
    `/api/admin/analytics/timeseries?metric=latency_p99&bucket=day&${d30}`,
    `/api/admin/analytics/timeseries?metric=tokens&bucket=day&${d30}`,
    '/api/admin/analytics/tokens-per-second',
    `/api/admin/analytics/tokens-per-second?${d30}`,
    `/api/admin/analytics/tokens-per-second?${d30}&format=prometheus`,
    '/api/admin/analytics/errors',
    `/api/admin/analytics/errors?${d30}`,
  ];
  const results: { path: string; median: number; p95: number; max: number; bytes: number }[] = [];
  for (const path of paths) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 3 + RUNS; i++) {
      const t0 = performance.now();
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = await res.text();
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
      bytes = body.length;
      if (i >= 3) times.push(ms);
    }
    times.sort((a, b) => a - b);
    results.push({ path, median: pct(times, 0.5), p95: pct(times, 0.95), max: times[times.length - 1], bytes });
    log(`${path}: median ${pct(times, 0.5).toFixed(1)} ms, p95 ${pct(times, 0.95).toFixed(1)} ms`);
  }
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  return results;
}

// --reuse: time the endpoints on the rows a previous `--keep` run left.
const counts = args.includes('--reuse') ? [{ t: 'request_logs', n: '(reused)' }] : await seed();
const results = await timeEndpoints();
console.log(`\nrows: ${counts.map((r) => `${r.t}=${r.n}`).join(', ')}\n`);
console.log('| endpoint | median ms | p95 ms | max ms | bytes |\n|---|---:|---:|---:|---:|');
for (const r of results) console.log(`| \`${r.path.replace(/from=[^&]+/, (m) => (m.includes(new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10)) ? 'from=-30d' : 'from=-7d'))}\` | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.max.toFixed(1)} | ${r.bytes} |`);
const worst = Math.max(...results.map((r) => r.p95));
console.log(`\nworst p95: ${worst.toFixed(1)} ms (target < 300 ms)`);
if (!KEEP) await dropSchema();
