/**
 * The benchmark runs every process it starts as bundled JavaScript (scripts/build.ts, into dist-bench/), as
 * production runs `npm start`: Switchyard's server, the fake upstream and the probe that Portkey's process
 * imports. Without it each process would carry tsx's loader thread and transpiler, which added ~90 MB to every
 * RSS figure.
 */
import { BENCH_DIST, buildDist, SERVER, type Entry } from '../scripts/build.ts';

export const BENCH_ENTRIES: Entry[] = [
  { in: 'bench/gateway.ts', out: 'bench-gateway' },
  { in: 'bench/upstream.ts', out: 'bench-upstream' },
  { in: 'bench/probe.ts', out: 'bench-probe' },
];

export interface BenchScripts {
  gateway: string;
  upstream: string;
  probe: string;
}

export async function buildBenchScripts(): Promise<BenchScripts> {
  const out = await buildDist([SERVER, ...BENCH_ENTRIES], BENCH_DIST);
  return { gateway: out['bench-gateway'], upstream: out['bench-upstream'], probe: out['bench-probe'] };
}
