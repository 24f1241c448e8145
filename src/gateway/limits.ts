/**
 * Rate limits on inference: requests per minute and per day, tokens per minute and concurrent requests, per
 * user (their plan's rpm, with any custom limits an admin set replacing it field by field: a field the custom
 * limits leave out keeps the plan's) and per key (a key's own limits can only narrow its user's: both counters
 * must pass). Memory on one instance, Redis for a fleet. Tokens are estimated at admission and corrected with
 * the real count afterwards. Counters are keyed by owner and window, not by limit size, so changing a limit
 * keeps what was already spent in the current window.
 */
import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimiterRes as Res } from 'rate-limiter-flexible';
import { deleteKeys, type RedisHandle } from '../store/redis.ts';
import type { LimitsJson } from '../store/schema.ts';
import type { Plans } from '../domain/plans/plans.ts';
import { createLimiter, tooManyRequests } from '../domain/limits/limiter.ts';
import { AppError } from '../errors.ts';
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
  /** The limit: the window's allowance. */
  points: number;
  kind: 'requests' | 'tokens';
}

/** A counter after this request's points went in: `used` includes them. */
interface Consumed {
  c: Counter;
  points: number;
  used: number;
  msBeforeNext: number;
}

/** Counters are plain tallies (the limit is checked here, per request), so they need no ceiling of their own. */
const TALLY_POINTS = Number.MAX_SAFE_INTEGER;
const RL_PREFIX = 'rl:';

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
  private limiters = new Map<'minute' | 'day', RateLimiterAbstract>();
  private readonly inflight: InFlight;

  constructor(
    private readonly plans: Plans,
    private readonly metrics: Metrics,
    private readonly redis?: RedisHandle,
  ) {
    this.inflight = new InFlight(redis);
  }

  /** One tally per window; the limit is compared per request, so a changed limit applies to the same count. */
  private limiter(window: 'minute' | 'day'): RateLimiterAbstract {
    let l = this.limiters.get(window);
    if (!l) {
      l = createLimiter({ keyPrefix: `${RL_PREFIX}${window}`, points: TALLY_POINTS, durationSeconds: window === 'minute' ? 60 : 86_400 }, this.redis);
      this.limiters.set(window, l);
    }
    return l;
  }

  /** Forgets every request and token count (admin "clear caches"): each user and key starts a fresh window. */
  async clear(): Promise<void> {
    this.limiters = new Map();
    if (!this.redis) return;
    await deleteKeys(this.redis, `sy:${RL_PREFIX}*`);
  }

  private counters(scope: 'key' | 'user', id: string, limits: LimitsJson, out: Counter[]): void {
    if (limits.rpm) out.push({ scope: `${scope}_rpm`, limiter: this.limiter('minute'), key: `${scope}:${id}:rpm`, points: limits.rpm, kind: 'requests' });
    if (limits.rpd) out.push({ scope: `${scope}_rpd`, limiter: this.limiter('day'), key: `${scope}:${id}:rpd`, points: limits.rpd, kind: 'requests' });
    if (limits.tpm) out.push({ scope: `${scope}_tpm`, limiter: this.limiter('minute'), key: `${scope}:${id}:tpm`, points: limits.tpm, kind: 'tokens' });
  }

  /** Checks every applicable limit (key first, then user); on any refusal nothing stays consumed. */
  async admit(ctx: RequestContext, estimatedTokens: number): Promise<Admitted | undefined> {
    const p = ctx.principal;
    if (p.kind !== 'api_key' && p.kind !== 'user') return undefined;
    const user = p.user;
    const custom = user.limits;
    const planRpm = this.plans.rpm(user.tier);
    // Custom limits replace the plan's field by field: what they leave out is inherited.
    const userLimits: LimitsJson = custom ? { rpm: custom.rpm ?? planRpm, rpd: custom.rpd, tpm: custom.tpm, max_concurrency: custom.max_concurrency } : { rpm: planRpm };
    const keyLimits: LimitsJson | null = p.kind === 'api_key' ? p.key.limits : null;
    const counters: Counter[] = [];
    if (keyLimits && p.kind === 'api_key') this.counters('key', p.key.id, keyLimits, counters);
    this.counters('user', user.id, userLimits, counters);

    const tokens = Math.max(1, estimatedTokens);
    // A request larger than a tokens-per-minute limit can never pass, however long the caller waits.
    for (const c of counters) {
      if (c.kind === 'tokens' && tokens > c.points) {
        throw new AppError(
          413,
          'invalid_request_error',
          `Request too large for ${c.scope.startsWith('key') ? "this API key's" : 'your'} tokens-per-minute limit: about ${tokens} tokens (prompt estimate plus max_tokens) against a limit of ${c.points} tokens per minute. Shorten the prompt or lower max_tokens.`,
          'request_too_large',
          null,
        );
      }
    }

    const consumed: Consumed[] = [];
    const undo = () => {
      for (const x of consumed) void x.c.limiter.reward(x.c.key, x.points).catch(() => {});
    };
    for (const c of counters) {
      const points = c.kind === 'tokens' ? tokens : 1;
      let res: RateLimiterRes;
      try {
        res = await c.limiter.consume(c.key, points);
      } catch (err) {
        if (!(err instanceof Res)) throw err;
        res = err; // only at the tally's own ceiling, which no real limit reaches
      }
      const x: Consumed = { c, points, used: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      if (x.used <= c.points) {
        consumed.push(x);
        continue;
      }
      // Over the limit: this request's points come back off every counter, the refused one included.
      void c.limiter.reward(c.key, points).catch(() => {});
      undo();
      this.metrics.rateLimited.inc({ scope: c.scope });
      const retryAfter = Math.max(1, Math.ceil(x.msBeforeNext / 1000));
      const what = c.kind === 'tokens' ? 'tokens per minute' : c.scope.endsWith('rpd') ? 'requests per day' : 'requests per minute';
      const owner = c.scope.startsWith('key') ? 'this API key' : 'your account';
      throw tooManyRequests(`Rate limit reached: ${c.points} ${what} for ${owner}. Retry after ${retryAfter}s.`, 'rate_limit_exceeded', retryAfter).withHeaders(headersFor([...consumed, x], true));
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
        const err = tooManyRequests(`Too many concurrent requests: at most ${max} at a time for ${scope === 'key' ? 'this API key' : 'your account'}.`, 'concurrency_limit_exceeded', 1);
        throw consumed.length ? err.withHeaders(headersFor(consumed, true)) : err;
      }
      slots.push(`${scope}:${id}`);
    }

    let finished = false;
    return {
      headers: headersFor(consumed, false),
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

const HEADER_NAMES = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const;

/**
 * The tightest request and token limits among those consumed, in one pass. `undone`: the request was refused,
 * so its own points do not count against what remains (except on the counter that refused it, which is full).
 */
function headersFor(consumed: Consumed[], undone: boolean): RateHeaders {
  let req: Consumed | undefined;
  let reqLeft = 0;
  let tok: Consumed | undefined;
  let tokLeft = 0;
  for (const x of consumed) {
    const used = undone && x.used <= x.c.points ? x.used - x.points : x.used;
    const left = x.c.points - used;
    if (x.c.kind === 'requests') {
      if (!req || left < reqLeft) (req = x), (reqLeft = left);
    } else if (!tok || left < tokLeft) (tok = x), (tokLeft = left);
  }
  const headers: RateHeaders = {};
  if (req) {
    const [l, r, t] = HEADER_NAMES.requests;
    headers[l] = String(req.c.points);
    headers[r] = String(reqLeft > 0 ? reqLeft : 0);
    headers[t] = formatReset(req.msBeforeNext);
  }
  if (tok) {
    const [l, r, t] = HEADER_NAMES.tokens;
    headers[l] = String(tok.c.points);
    headers[r] = String(tokLeft > 0 ? tokLeft : 0);
    headers[t] = formatReset(tok.msBeforeNext);
  }
  return headers;
}
