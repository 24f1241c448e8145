/**
 * Fixed-bucket latency histogram kept on every rollup row, so percentiles over any range are computed from
 * rollups (summing bucket counts) instead of sorting raw rows. Bucket i counts latencies <= BOUNDS_MS[i]
 * (and > BOUNDS_MS[i-1]); the last bucket is open-ended. Changing the bounds requires rebuilding rollups.
 */
export const LATENCY_BOUNDS_MS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000, 60_000, 120_000] as const;
/** Bucket count: one per bound plus the open-ended overflow bucket. */
export const HIST_SIZE = LATENCY_BOUNDS_MS.length + 1;

/** Index of the bucket a latency falls into (binary search: 20 buckets, ~5 comparisons). */
export function bucketOf(latencyMs: number): number {
  let lo = 0;
  let hi: number = LATENCY_BOUNDS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (latencyMs <= LATENCY_BOUNDS_MS[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export const emptyHistogram = (): number[] => new Array<number>(HIST_SIZE).fill(0);

/**
 * The q-quantile (0 < q <= 1) estimated from bucket counts, interpolating linearly inside the bucket.
 * Null without data. The overflow bucket reports its lower bound (we know no more).
 */
export function quantile(hist: readonly number[], q: number): number | null {
  const total = hist.reduce((s, c) => s + c, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i];
    if (c > 0 && seen + c >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      if (i >= LATENCY_BOUNDS_MS.length) return lower;
      const upper = LATENCY_BOUNDS_MS[i];
      return Math.round(lower + ((rank - seen) / c) * (upper - lower));
    }
    seen += c;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}
