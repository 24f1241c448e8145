/** Command-line options of `npm run bench -- [flags]`, with the defaults of a full and a quick run. */
import { parseArgs } from 'node:util';

export const SCENARIOS = ['chat', 'chat-latency', 'embeddings', 'stream-20', 'stream-200'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  /** Seconds per measured run (one target, one round). */
  durationS: number;
  /** How many times each target is measured per scenario, alternating with the others. */
  rounds: number;
  warmupS: number;
  connections: number;
  /** Request rates for the open-loop latency scenario. */
  rates: number[];
  streams: number;
  streamChunks: number;
  chunkIntervalMs: number;
  rampMs: number;
  upstreamLatencyMs: number;
  portkey: boolean;
  /** A second Switchyard with credits off in the chat scenario: what billing costs. */
  billingOverhead: boolean;
  database: 'embedded' | 'postgres';
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  profile: boolean;
  out: string;
}

export const USAGE = `npm run bench -- [flags]

  --quick                 short runs for a smoke check (about 2 minutes)
  --scenario <names>      comma-separated: ${SCENARIOS.join(', ')} (default: all)
  --duration <s>          seconds per measured run (default 10, quick 2)
  --rounds <n>            alternating rounds per scenario (default 2, quick 1)
  --connections <n>       closed-loop concurrency (default 64)
  --rates <r,...>         open-loop request rates (default 500)
  --streams <n>           concurrent streams in stream-200 (default 1000, quick 200)
  --chunk-interval <ms>   pacing of the 200-chunk streams (default 50, quick 10)
  --ramp <ms>             how long the stream scenario takes to open its streams (default 5000, quick 1000)
                          (the stress shape of earlier runs: --chunk-interval 20 --ramp 1000)
  --upstream-latency <ms> upstream delay before answering (default 0)
  --with-portkey | --no-portkey   compare with @portkey-ai/gateway (default on)
  --no-billing-overhead   skip the second Switchyard with CREDITS_MODE=off in the chat scenario
  --database postgres     PostgreSQL (DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, fresh schema)
  --redis                 shared state in Redis (REDIS_URL or redis://127.0.0.1:6379)
  --profile | --no-profile        CPU profiles of the gateway (default on, quick off)
  --out <file>            results file (default bench/RESULTS.md; quick: bench/.out/RESULTS-quick.md)
`;

function positiveInt(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got "${raw}"`);
  return n;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      quick: { type: 'boolean' },
      scenario: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      rates: { type: 'string' },
      streams: { type: 'string' },
      'chunk-interval': { type: 'string' },
      ramp: { type: 'string' },
      'upstream-latency': { type: 'string' },
      'with-portkey': { type: 'boolean' },
      'no-portkey': { type: 'boolean' },
      'no-billing-overhead': { type: 'boolean' },
      database: { type: 'string' },
      redis: { type: 'boolean' },
      profile: { type: 'boolean' },
      'no-profile': { type: 'boolean' },
      out: { type: 'string' },
    },
  });
  if (v.help) return 'help';
  const quick = v.quick === true;
  const scenarios = (v.scenario ?? SCENARIOS.join(',')).split(',').map((s) => s.trim());
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenario: unknown "${s}" (one of ${SCENARIOS.join(', ')})`);
  const database = v.database ?? 'embedded';
  if (database !== 'embedded' && database !== 'postgres') throw new Error(`--database: "embedded" or "postgres", got "${database}"`);
  const durationS = v.duration ? positiveInt('duration', v.duration) : quick ? 2 : 10;
  return {
    quick,
    scenarios: scenarios as ScenarioName[],
    durationS,
    rounds: v.rounds ? positiveInt('rounds', v.rounds) : quick ? 1 : 2,
    warmupS: quick ? 1 : 2,
    connections: v.connections ? positiveInt('connections', v.connections) : 64,
    rates: (v.rates ?? '500').split(',').map((r) => positiveInt('rates', r)),
    streams: v.streams ? positiveInt('streams', v.streams) : quick ? 200 : 1000,
    streamChunks: 200,
    // 50 ms (20 chunks a second per stream) opened over 5 s: the streams of a busy deployment, and a load that
    // this 2-core machine can carry beside its upstream and load generator. At 20 ms over 1 s the three
    // processes need 2.4-3.1 cores, so TTFT and stalls measure queueing for the CPU (bench/RESULTS.md).
    chunkIntervalMs: v['chunk-interval'] ? positiveInt('chunk-interval', v['chunk-interval']) : quick ? 10 : 50,
    rampMs: v.ramp ? positiveInt('ramp', v.ramp) : quick ? 1000 : 5000,
    upstreamLatencyMs: v['upstream-latency'] ? Number(v['upstream-latency']) : 0,
    portkey: v['no-portkey'] ? false : true,
    billingOverhead: v['no-billing-overhead'] ? false : true,
    database,
    databaseUrl: database === 'postgres' ? (env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test') : undefined,
    redisUrl: v.redis ? (env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined,
    profile: v['no-profile'] ? false : v.profile === true || !quick,
    out: v.out ?? (quick ? 'bench/.out/RESULTS-quick.md' : 'bench/RESULTS.md'),
  };
}
