/**
 * Per-deployment performance, in memory, from every attempt: EWMA latency (time to the answer, or to the first
 * streamed token), EWMA throughput (output tokens per second of generation) and an EWMA error rate. Used by
 * least-latency routing and by `sort: latency | throughput` (`:nitro`). O(1) per update, no I/O.
 */

export interface DeploymentPerf {
  deployment: string;
  latency_ms: number | null;
  ttft_ms: number | null;
  tokens_per_second: number | null;
  error_rate: number;
  samples: number;
  updated_at: string | null;
}

interface Perf {
  latency: number | undefined;
  ttft: number | undefined;
  tps: number | undefined;
  errorRate: number;
  samples: number;
  updatedAt: number | undefined;
}

/** Weight of the newest observation: recent behaviour dominates within ~10 requests. */
const ALPHA = 0.2;
const ewma = (prev: number | undefined, x: number) => (prev === undefined ? x : prev + ALPHA * (x - prev));

export class DeploymentStats {
  private readonly perf = new Map<string, Perf>();

  private get(id: string): Perf {
    let p = this.perf.get(id);
    if (!p) {
      if (this.perf.size >= 10_000) this.perf.delete(this.perf.keys().next().value!);
      p = { latency: undefined, ttft: undefined, tps: undefined, errorRate: 0, samples: 0, updatedAt: undefined };
      this.perf.set(id, p);
    }
    return p;
  }

  success(id: string, latencyMs: number): void {
    const p = this.get(id);
    p.latency = ewma(p.latency, latencyMs);
    p.errorRate = ewma(p.errorRate, 0);
    p.samples++;
    p.updatedAt = Date.now();
  }

  failure(id: string): void {
    const p = this.get(id);
    p.errorRate = ewma(p.errorRate, 1);
    p.samples++;
    p.updatedAt = Date.now();
  }

  /** A finished stream: time to first token and generation speed after it. */
  stream(id: string, ttftMs: number | undefined, outputTokens: number, totalMs: number): void {
    const p = this.get(id);
    if (ttftMs !== undefined) p.ttft = ewma(p.ttft, ttftMs);
    const genMs = totalMs - (ttftMs ?? 0);
    if (outputTokens > 1 && genMs > 0) p.tps = ewma(p.tps, (outputTokens * 1000) / genMs);
    p.updatedAt = Date.now();
  }

  /** A finished non-streamed answer: throughput over the whole call. */
  throughput(id: string, outputTokens: number, totalMs: number): void {
    if (outputTokens <= 0 || totalMs <= 0) return;
    const p = this.get(id);
    p.tps = ewma(p.tps, (outputTokens * 1000) / totalMs);
  }

  /** Expected latency for routing: unknown deployments rank first so they get measured. */
  latencyOf(id: string): number {
    const p = this.perf.get(id);
    return p?.ttft ?? p?.latency ?? 0;
  }

  throughputOf(id: string): number {
    return this.perf.get(id)?.tps ?? Number.POSITIVE_INFINITY;
  }

  view(id: string): DeploymentPerf {
    const p = this.perf.get(id);
    const round = (x: number | undefined) => (x === undefined ? null : Math.round(x * 10) / 10);
    return {
      deployment: id,
      latency_ms: round(p?.latency),
      ttft_ms: round(p?.ttft),
      tokens_per_second: round(p?.tps),
      error_rate: Math.round((p?.errorRate ?? 0) * 1000) / 1000,
      samples: p?.samples ?? 0,
      updated_at: p?.updatedAt ? new Date(p.updatedAt).toISOString() : null,
    };
  }

  all(): DeploymentPerf[] {
    return [...this.perf.keys()].sort().map((id) => this.view(id));
  }

  clear(): void {
    this.perf.clear();
  }
}
