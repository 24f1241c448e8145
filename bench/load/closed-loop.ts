/**
 * Closed-loop load with autocannon: a fixed number of connections, each sending its next request as soon as
 * the previous answer arrived. Measures throughput at that concurrency (latency here includes queueing).
 */
import autocannon from 'autocannon';

export interface ClosedLoopOptions {
  url: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationS: number;
}

export interface ClosedLoopResult {
  /** Successful (2xx) responses per second. */
  rps: number;
  ok: number;
  /** Connection errors, timeouts and non-2xx answers. */
  failed: number;
  /** ms, 1 ms resolution (autocannon's histogram). */
  latencyP50: number;
  latencyP99: number;
  durationS: number;
}

export async function runClosedLoop(opts: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const result = await autocannon({
    url: opts.url,
    method: 'POST',
    headers: opts.headers,
    body: opts.body,
    connections: opts.connections,
    duration: opts.durationS,
    timeout: 30,
  });
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    ok,
    failed: result.errors + result.timeouts + result.non2xx,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    durationS: result.duration,
  };
}
