/**
 * Switchyard under test, in its own process: `loadConfig` + `buildServer` from src, exactly as `serve` does,
 * with a config that declares the fake upstream as provider `bench` and prices for its models. The probe
 * (event-loop delay, RSS, CPU) answers the harness over IPC; `{ stop: true }` closes the server gracefully
 * and exits, so that `--cpu-prof` writes its profile.
 *
 * Settings come from the harness in the environment:
 *   BENCH_UPSTREAM_URL   base URL of the fake upstream, with /v1
 *   BENCH_ADMIN_KEY      the operator key (ADMIN_API_KEY)
 *   BENCH_MODELS         comma-separated upstream model names to price as bench/<model>
 *   BENCH_DATA_DIR       data directory (embedded database)
 *   BENCH_DATABASE_URL   PostgreSQL URL (unset: embedded PGlite), BENCH_DATABASE_SCHEMA its fresh schema
 *   BENCH_REDIS_URL      Redis URL (unset: none)
 */
import pg from 'pg';
import './probe.ts';
import { loadConfig } from '../src/config/load.ts';
import { buildServer, type Server } from '../src/server.ts';

const CHAT_PRICE = { input: 0.15, output: 0.6 };
const EMBEDDING_PRICE = { input: 0.02, output: 0 };

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function prices(models: string[]): Record<string, { input: number; output: number }> {
  return Object.fromEntries(models.map((m) => [`bench/${m}`, m.startsWith('embed') ? EMBEDDING_PRICE : CHAT_PRICE]));
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

async function start(): Promise<Server> {
  const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
  const schema = process.env.BENCH_DATABASE_SCHEMA || undefined;
  const config = loadConfig(process.env, {
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    adminApiKey: required('BENCH_ADMIN_KEY'),
    dataDir: required('BENCH_DATA_DIR'),
    databaseUrl,
    redisUrl: process.env.BENCH_REDIS_URL || undefined,
    providers: [{ id: 'bench', type: 'openai', base_url: required('BENCH_UPSTREAM_URL'), api_key: 'x', headers: {} }],
    prices: prices(required('BENCH_MODELS').split(',')),
  });
  const server = await buildServer(config, { databaseSchema: databaseUrl ? schema : undefined });
  await server.listen({ port: 0, host: '127.0.0.1' });
  return server;
}

let server: Server | undefined;
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  try {
    await server?.close();
    const url = process.env.BENCH_DATABASE_URL;
    const schema = process.env.BENCH_DATABASE_SCHEMA;
    if (url && schema) await dropSchema(url, schema);
  } finally {
    process.exit(0);
  }
}

process.on('message', (msg: { stop?: boolean }) => {
  if (msg?.stop) void stop();
});
process.on('SIGTERM', () => void stop());

try {
  server = await start();
  const address = server.app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ ready: true, port });
} catch (err) {
  process.send?.({ error: `switchyard failed to start: ${(err as Error).stack ?? err}` });
  process.exit(1);
}
