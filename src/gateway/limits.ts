/**
 * Rate limits on inference: requests per minute and per day, tokens per minute and concurrent requests, per
 * user (their plan's rpm, or custom limits an admin set, which replace the plan's) and per key (a key's own
 * limits can only narrow its user's: both counters must pass). Memory on one instance, Redis for a fleet.
 * Tokens are estimated at admission and corrected with the real count afterwards.
 */
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiterRes as Res } from 'rate-limiter-flexible';
import type { RedisHandle } from '../store/redis.ts';
import type { LimitsJson } from '../store/schema.ts';
import type { Plans } from '../domain/plans/plans.ts';
import { createLimiter, retryAfterSeconds, tooManyRequests } from '../domain/limits/limiter.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { RequestContext } from './context.ts';

/** What the caller learns on every response, OpenAI style. */
export type RateHeaders = Record<string, string>;

export interface Admitted {
  headers: RateHeaders;
  /** Call once when the request ends: corrects the token count and frees the concurrency slot. */
  finish(actualTokens: number | undefined): void;
}

interface Counter {
  scope: string;
  limiter: RateLimiterAbstract;
  key: string;
  points: number;
  kind: 'requests' | 'tokens';
}

/** Go-style durations as OpenAI sends them: "20ms", "1.5s", "6m0s". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 1000) / 1000}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}

/** In-flight requests per user or key: memory, or Redis counters that expire if an instance dies. */
class InFlight {
  private readonly local = new Map<string, number>();
  constructor(private readonly redis?: RedisHandle) {}

  async acquire(key: string, max: number): Promise<boolean> {
    if (!this.redis) {
      const n = this.local.get(key) ?? 0;
      if (n >= max) return false;
      this.local.set(key, n + 1);
      return true;
    }
    const k = `sy:inflight:${key}`;
    const n = await this.redis.client.incr(k);
    await this.redis.client.pExpire(k, 600_000);
    if (n > max) {
      await this.redis.client.decr(k);
      return false;
    }
    return true;
  }

  release(key: string): void {
    if (!this.redis) {
      const n = (this.local.get(key) ?? 1) - 1;
      if (n <= 0) this.local.delete(key);
      else this.local.set(key, n);
      return;
    }
    void this.redis.client.decr(`sy:inflight:${key}`).catch(() => {});
  }
}

export class RateLimitGate {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly inflight: InFlight;

  constructor(
    private readonly plans: Plans,
    private readonly metrics: Metrics,
    private readonly redis?: RedisHandle,
  ) {
    this.inflight = new InFlight(redis);
  }

  /** One limiter per (window, size): changing a limit starts a fresh counter on the next request. */
  private limiter(window: 'minute' | 'day', points: number): RateLimiterAbstract {
    const id = `${window}:${points}`;
    let l = this.limiters.get(id);
    if (!l) {
      l = createLimiter({ keyPrefix: `rl:${id}`, points, durationSeconds: window === 'minute' ? 60 : 86_400 }, this.redis);
      this.limiters.set(id, l);
    }
    return l;
  }

  private counters(scope: 'key' | 'user', id: string, limits: LimitsJson): Counter[] {
    const out: Counter[] = [];
    if (limits.rpm) out.push({ scope: `${scope}_rpm`, limiter: this.limiter('minute', limits.rpm), key: `${scope}:${id}:rpm`, points: limits.rpm, kind: 'requests' });
    if (limits.rpd) out.push({ scope: `${scope}_rpd`, limiter: this.limiter('day', limits.rpd), key: `${scope}:${id}:rpd`, points: limits.rpd, kind: 'requests' });
    if (limits.tpm) out.push({ scope: `${scope}_tpm`, limiter: this.limiter('minute', limits.tpm), key: `${scope}:${id}:tpm`, points: limits.tpm, kind: 'tokens' });
    return out;
  }

  /** Checks every applicable limit (key first, then user); on any refusal nothing stays consumed. */
  async admit(ctx: RequestContext, estimatedTokens: number): Promise<Admitted | undefined> {
    const p = ctx.principal;
    if (p.kind !== 'api_key' && p.kind !== 'user') return undefined;
    const user = p.user;
    const userLimits: LimitsJson = user.limits ?? { rpm: this.plans.rpm(user.tier) };
    const keyLimits: LimitsJson | null = p.kind === 'api_key' ? p.key.limits : null;
    const counters = [...(keyLimits && p.kind === 'api_key' ? this.counters('key', p.key.id, keyLimits) : []), ...this.counters('user', user.id, userLimits)];

    const consumed: { c: Counter; points: number; res: RateLimiterRes }[] = [];
    const undo = () => {
      for (const x of consumed) void x.c.limiter.reward(x.c.key, x.points).catch(() => {});
    };
    for (const c of counters) {
      const points = c.kind === 'tokens' ? Math.max(1, estimatedTokens) : 1;
      try {
        consumed.push({ c, points, res: await c.limiter.consume(c.key, points) });
      } catch (err) {
        if (!(err instanceof Res)) throw err;
        undo();
        this.metrics.rateLimited.inc({ scope: c.scope });
        const what = c.kind === 'tokens' ? 'tokens per minute' : c.scope.endsWith('rpd') ? 'requests per day' : 'requests per minute';
        const owner = c.scope.startsWith('key') ? 'this API key' : 'your account';
        throw tooManyRequests(`Rate limit reached: ${c.points} ${what} for ${owner}. Retry after ${retryAfterSeconds(err)}s.`, 'rate_limit_exceeded', retryAfterSeconds(err)).withHeaders(
          headersFor([...consumed, { c, points, res: err }]),
        );
      }
    }

    const slots: string[] = [];
    for (const [scope, id, max] of [
      ['key', p.kind === 'api_key' ? p.key.id : '', keyLimits?.max_concurrency],
      ['user', user.id, userLimits.max_concurrency],
    ] as const) {
      if (!max || !id) continue;
      if (!(await this.inflight.acquire(`${scope}:${id}`, max))) {
        for (const s of slots) this.inflight.release(s);
        undo();
        this.metrics.rateLimited.inc({ scope: `${scope}_concurrency` });
        throw tooManyRequests(`Too many concurrent requests: at most ${max} at a time for ${scope === 'key' ? 'this API key' : 'your account'}.`, 'concurrency_limit_exceeded', 1);
      }
      slots.push(`${scope}:${id}`);
    }

    let finished = false;
    return {
      headers: headersFor(consumed),
      finish: (actual) => {
        if (finished) return;
        finished = true;
        for (const s of slots) this.inflight.release(s);
        if (actual === undefined) return;
        for (const x of consumed) {
          if (x.c.kind !== 'tokens') continue;
          const delta = actual - x.points;
          if (delta > 0) void x.c.limiter.penalty(x.c.key, delta).catch(() => {});
          else if (delta < 0) void x.c.limiter.reward(x.c.key, -delta).catch(() => {});
        }
      },
    };
  }
}

/** The tightest request and token limits among those consumed. */
function headersFor(consumed: { c: Counter; res: RateLimiterRes }[]): RateHeaders {
  const headers: RateHeaders = {};
  for (const kind of ['requests', 'tokens'] as const) {
    let best: { c: Counter; res: RateLimiterRes } | undefined;
    for (const x of consumed) {
      if (x.c.kind !== kind) continue;
      if (!best || x.res.remainingPoints < best.res.remainingPoints) best = x;
    }
    if (!best) continue;
    headers[`x-ratelimit-limit-${kind}`] = String(best.c.points);
    headers[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, best.res.remainingPoints));
    headers[`x-ratelimit-reset-${kind}`] = formatReset(best.res.msBeforeNext);
  }
  return headers;
}
