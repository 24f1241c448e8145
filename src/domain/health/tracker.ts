/**
 * Deployment health from request outcomes, in memory. `observe` is O(1) and does no I/O (it runs on the
 * request path via the request-log listener); statuses are computed when read. Per (provider, model): a ring
 * of time slots covering the window counts successes and upstream failures.
 *
 * Known limit: only each request's final outcome is seen, so a deployment whose failures were hidden by a
 * successful failover looks healthier than it is; circuit breakers see every attempt.
 */
import type { RequestLogRecord } from '../../telemetry/request-log.ts';

export type HealthStatus = 'healthy' | 'degraded' | 'down' | 'unknown';

export interface HealthOptions {
  windowMs: number;
  minRequests: number;
}

/** Failure rates at or above these mark a deployment degraded / down. */
export const DEGRADED_RATE = 0.1;
export const DOWN_RATE = 0.5;
const SLOTS = 20;
/** Bound on tracked deployments (local providers accept any model name). */
const MAX_DEPLOYMENTS = 5000;

interface Deployment {
  provider: string;
  model: string;
  epochs: Float64Array;
  ok: Uint32Array;
  failed: Uint32Array;
  lastSuccessAt: number | undefined;
  lastFailureAt: number | undefined;
  lastStatus: number | undefined;
  lastErrorCode: string | undefined;
}

export interface DeploymentHealth {
  provider: string;
  model: string;
  status: HealthStatus;
  requests: number;
  failures: number;
  error_rate: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_status: number | null;
  last_error_code: string | null;
}

export interface ProviderHealth {
  provider: string;
  status: HealthStatus;
  deployments: number;
  last_success_at: string | null;
  last_failure_at: string | null;
}

/** Upstream failures count against a deployment; client errors (4xx other than 429) and hang-ups say nothing. */
export function classify(status: number, clientAborted = false): 'ok' | 'failed' | 'ignore' {
  if (clientAborted) return 'ignore';
  if (status < 400) return 'ok';
  if (status >= 500 || status === 429) return 'failed';
  return 'ignore';
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const RANK: Record<HealthStatus, number> = { unknown: 0, healthy: 1, degraded: 2, down: 3 };

export class HealthTracker {
  private readonly deployments = new Map<string, Deployment>();
  private readonly slotMs: number;

  constructor(private readonly opts: HealthOptions) {
    this.slotMs = Math.max(1, Math.ceil(opts.windowMs / SLOTS));
  }

  /** Request-log listener: O(1), no I/O. */
  readonly listener = (rec: RequestLogRecord): void => {
    if (!rec.provider || !rec.model) return;
    this.observe(rec.provider, rec.model, rec.status, rec.error_code ?? undefined, Boolean(rec.client_aborted));
  };

  observe(provider: string, model: string, status: number, errorCode?: string, clientAborted = false, now = Date.now()): void {
    const kind = classify(status, clientAborted);
    if (kind === 'ignore') return;
    const key = `${provider}\u0000${model}`;
    let d = this.deployments.get(key);
    if (!d) {
      if (this.deployments.size >= MAX_DEPLOYMENTS) this.deployments.delete(this.deployments.keys().next().value!);
      d = { provider, model, epochs: new Float64Array(SLOTS).fill(-1), ok: new Uint32Array(SLOTS), failed: new Uint32Array(SLOTS), lastSuccessAt: undefined, lastFailureAt: undefined, lastStatus: undefined, lastErrorCode: undefined };
    } else {
      // Re-inserted so Map order is least-recently-updated first, for the eviction above.
      this.deployments.delete(key);
    }
    this.deployments.set(key, d);
    const epoch = Math.floor(now / this.slotMs);
    const i = epoch % SLOTS;
    if (d.epochs[i] !== epoch) {
      d.epochs[i] = epoch;
      d.ok[i] = 0;
      d.failed[i] = 0;
    }
    if (kind === 'ok') {
      d.ok[i]++;
      d.lastSuccessAt = now;
    } else {
      d.failed[i]++;
      d.lastFailureAt = now;
      d.lastErrorCode = errorCode;
    }
    d.lastStatus = status;
  }

  private evaluate(d: Deployment, now: number): DeploymentHealth {
    const current = Math.floor(now / this.slotMs);
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < SLOTS; i++) {
      if (d.epochs[i] > current - SLOTS && d.epochs[i] <= current) {
        ok += d.ok[i];
        failed += d.failed[i];
      }
    }
    const total = ok + failed;
    const rate = total ? failed / total : 0;
    let status: HealthStatus;
    if (total === 0) status = 'unknown';
    else if (total < this.opts.minRequests) status = failed === 0 ? 'healthy' : 'unknown';
    else status = rate >= DOWN_RATE ? 'down' : rate >= DEGRADED_RATE ? 'degraded' : 'healthy';
    return {
      provider: d.provider,
      model: d.model,
      status,
      requests: total,
      failures: failed,
      error_rate: Math.round(rate * 10_000) / 10_000,
      last_success_at: iso(d.lastSuccessAt),
      last_failure_at: iso(d.lastFailureAt),
      last_status: d.lastStatus ?? null,
      last_error_code: d.lastErrorCode ?? null,
    };
  }

  /** Every tracked deployment, sorted by provider then model. */
  snapshot(now = Date.now()): DeploymentHealth[] {
    return [...this.deployments.values()].map((d) => this.evaluate(d, now)).sort((a, b) => (a.provider + '\u0000' + a.model < b.provider + '\u0000' + b.model ? -1 : 1));
  }

  get(provider: string, model: string, now = Date.now()): DeploymentHealth | undefined {
    const d = this.deployments.get(`${provider}\u0000${model}`);
    return d && this.evaluate(d, now);
  }

  /**
   * Per provider: down when every deployment with recent traffic is down, degraded when some are down or
   * degraded, healthy when all answering ones are healthy, unknown without recent traffic.
   */
  providers(now = Date.now()): Map<string, ProviderHealth> {
    const out = new Map<string, ProviderHealth & { known: number; down: number; worst: HealthStatus }>();
    for (const h of this.snapshot(now)) {
      let p = out.get(h.provider);
      if (!p) out.set(h.provider, (p = { provider: h.provider, status: 'unknown', deployments: 0, last_success_at: null, last_failure_at: null, known: 0, down: 0, worst: 'unknown' }));
      p.deployments++;
      if (h.last_success_at && (!p.last_success_at || h.last_success_at > p.last_success_at)) p.last_success_at = h.last_success_at;
      if (h.last_failure_at && (!p.last_failure_at || h.last_failure_at > p.last_failure_at)) p.last_failure_at = h.last_failure_at;
      if (h.status === 'unknown') continue;
      p.known++;
      if (h.status === 'down') p.down++;
      if (RANK[h.status] > RANK[p.worst]) p.worst = h.status;
    }
    const result = new Map<string, ProviderHealth>();
    for (const [id, p] of out) {
      const status: HealthStatus = p.known === 0 ? 'unknown' : p.down === p.known ? 'down' : p.worst === 'healthy' ? 'healthy' : 'degraded';
      result.set(id, { provider: id, status, deployments: p.deployments, last_success_at: p.last_success_at, last_failure_at: p.last_failure_at });
    }
    return result;
  }

  /** Forgets everything (ops "clear caches"). */
  clear(): void {
    this.deployments.clear();
  }
}
