/**
 * Starts Switchyard (bench/gateway.ts) in its own process, switches its full pipeline on through the API
 * (pipeline-setup.ts) and returns it as a load target.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { startMmapThreshold } from '../scripts/start-env.ts';
import { forkProcess, type BenchProcess } from './processes.ts';
import { GATEWAY_ENV_FOR_SETUP, setUpPipeline, type PipelineSetup } from './pipeline-setup.ts';
import { CHAT_PATH, chatBody, type Target, type TargetName } from './targets.ts';

export interface SwitchyardOptions {
  upstreamV1: string;
  /** Upstream model names to price (as bench/<model>). */
  models: string[];
  /** Model used for the set-up check request. */
  checkModel: string;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** The gateway's bundle (bench/build.ts); unset: bench/gateway.ts through tsx, which keeps src/ file names in profiles. */
  script?: string;
  logFile: string;
  /** Extra environment for the gateway (e.g. CREDITS_MODE=off). */
  env?: Record<string, string>;
  /** The target's name (default `switchyard`). */
  name?: TargetName;
}

export interface RunningSwitchyard {
  process: BenchProcess;
  setup: PipelineSetup;
  target: Target;
}

const ADMIN_KEY = `sk-bench-admin-${randomBytes(12).toString('hex')}`;

export async function startSwitchyard(o: SwitchyardOptions): Promise<RunningSwitchyard> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...GATEWAY_ENV_FOR_SETUP,
    BENCH_UPSTREAM_URL: o.upstreamV1,
    BENCH_ADMIN_KEY: ADMIN_KEY,
    BENCH_MODELS: o.models.join(','),
    BENCH_DATA_DIR: o.dataDir,
    BENCH_DATABASE_URL: o.databaseUrl ?? '',
    BENCH_DATABASE_SCHEMA: o.databaseUrl ? `bench_${randomBytes(5).toString('hex')}` : '',
    BENCH_REDIS_URL: o.redisUrl ?? '',
    // As `npm start` runs the server (package.json): glibc's mmap threshold pinned at its default.
    MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? startMmapThreshold(),
    ...o.env,
  };
  // The gateway's own settings must come from the harness, not from the shell that started it.
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'SWITCHYARD_CONFIG', 'ADMIN_API_KEY', 'LOG_LEVEL', 'PORT', 'HOST']) delete env[name];
  const proc = await forkProcess({ name: 'switchyard', script: o.script ?? resolve('bench/gateway.ts'), env, nodeFlags: o.nodeFlags, logFile: o.logFile });
  try {
    const origin = `http://127.0.0.1:${proc.port}`;
    const target = (apiKey: string, usage?: PipelineSetup['usage']): Target => ({
      name: o.name ?? 'switchyard',
      origin,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      modelId: (m) => `bench/${m}`,
      process: proc,
      backlog: async () => {
        const res = await fetch(origin + '/health', { signal: AbortSignal.timeout(15_000) });
        const h = (await res.json()) as { request_log?: { queue_depth?: number }; charges?: { queue_depth?: number } };
        return (h.request_log?.queue_depth ?? 0) + (h.charges?.queue_depth ?? 0);
      },
      ownTtftMs: usage
        ? async (m, count) => (await usage(`bench/${m}`, count)).flatMap((r) => (r.stream && r.ttft_ms !== null ? [r.ttft_ms] : []))
        : undefined,
    });
    const check = async (apiKey: string) => {
      const t = target(apiKey);
      const res = await fetch(origin + CHAT_PATH, { method: 'POST', headers: t.headers, body: chatBody(t, o.checkModel, false), signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = { raw: text.slice(0, 200) };
      }
      return { status: res.status, json, headers: res.headers };
    };
    const setup = await setUpPipeline(origin, ADMIN_KEY, check);
    return { process: proc, setup, target: target(setup.apiKey, setup.usage) };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
