/**
 * Open-loop load: requests leave on a fixed schedule (rate per second) whether or not earlier ones have
 * answered, and each latency is measured from its scheduled send time, so a slow server cannot hide its
 * queueing (no coordinated omission). A warm-up at the same rate precedes the measured window.
 */
import { Pool } from 'undici';
import { Samples } from '../stats.ts';

export interface OpenLoopOptions {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  rate: number;
  durationS: number;
  warmupS: number;
  /** Most connections the driver opens (requests beyond wait in its queue, and that wait is counted). */
  maxConnections?: number;
}

export interface OpenLoopResult {
  /** ms from scheduled send to the last byte of the answer, successful requests of the measured window. */
  latencies: Samples;
  sent: number;
  ok: number;
  failed: number;
  /** Requests per second actually completed in the measured window. */
  achievedRate: number;
}

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new Pool(opts.origin, { connections: opts.maxConnections ?? 256, pipelining: 1, keepAliveTimeout: 60_000 });
  const intervalMs = 1000 / opts.rate;
  const warmup = Math.round(opts.rate * opts.warmupS);
  const total = warmup + Math.round(opts.rate * opts.durationS);
  const latencies = new Samples();
  let ok = 0;
  let failed = 0;
  const inflight = new Set<Promise<void>>();

  const fire = (index: number, scheduledAt: number) => {
    const measured = index >= warmup;
    const p = pool
      .request({ path: opts.path, method: 'POST', headers: opts.headers, body: opts.body })
      .then(async (res) => {
        await res.body.arrayBuffer();
        if (!measured) return;
        if (res.statusCode === 200) {
          ok++;
          latencies.push(performance.now() - scheduledAt);
        } else failed++;
      })
      .catch(() => {
        if (measured) failed++;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  };

  const start = performance.now() + 20;
  let next = 0;
  let measuredFrom = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        if (next === warmup) measuredFrom = start + next * intervalMs;
        fire(next, start + next * intervalMs);
        next++;
      }
      if (next >= total) return done();
      // Timers fire at ~1 ms granularity; every due request is sent on each tick.
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });
  await Promise.all(inflight);
  const windowMs = performance.now() - measuredFrom;
  await pool.close();
  return { latencies, sent: total - warmup, ok, failed, achievedRate: ok / (windowMs / 1000) };
}
