/**
 * Rate limits on inference: requests per minute and per day, tokens per minute and concurrent requests, per
 * user (their plan's rpm, with any custom limits an admin set replacing it field by field: a field the custom
 * limits leave out keeps the plan's) and per key (a key's own limits can only narrow its user's: both counters
 * must pass). Memory on one instance, Redis for a fleet. Tokens are estimated at admission and corrected with
 * the real count afterwards. Counters are keyed by owner and window, not by limit size, so changing a limit
 * keeps what was already spent in the current window.
 */
import type { LimitsJson } from '../store/schema.ts';
import type { Plans } from '../domain/plans/plans.ts';
import { retryAfterSeconds, tooManyRequests } from '../domain/limits/limiter.ts';
import type { ConcurrencySlot, Tally, WindowCounter } from '../domain/limits/tally.ts';
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
  /** Per owner and window, not per limit size: a changed limit applies to the same count. */
  key: string;
  /** The limit: the window's allowance. */
  points: number;
  kind: 'requests' | 'tokens';
  windowSeconds: number;
}

/** A counter after this request's points went in: `used` includes them. */
interface Consumed {
  c: Counter;
  points: number;
  used: number;
  msBeforeNext: number;
}

const MINUTE = 60;
const DAY = 86_400;

/** Go-style durations as OpenAI sends them: "20ms", "1.5s", "6m0s". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s * 1000) / 1000}s`;
  const m = Math.floor(s / 60);
  return `${m}m${Math.round(s - m * 60)}s`;
}

export class RateLimitGate {
  constructor(
    private readonly plans: Plans,
    private readonly metrics: Metrics,
    private readonly tally: Tally,
  ) {}

  /** Forgets every request and token count, the anonymous per-IP ones too (admin "clear caches"): each starts a fresh window. */
  async clear(): Promise<void> {
    await this.tally.clear();
  }

  private counters(scope: 'key' | 'user', id: string, limits: LimitsJson, out: Counter[]): void {
    if (limits.rpm) out.push({ scope: `${scope}_rpm`, key: `minute:${scope}:${id}:rpm`, points: limits.rpm, kind: 'requests', windowSeconds: MINUTE });
    if (limits.rpd) out.push({ scope: `${scope}_rpd`, key: `day:${scope}:${id}:rpd`, points: limits.rpd, kind: 'requests', windowSeconds: DAY });
    if (limits.tpm) out.push({ scope: `${scope}_tpm`, key: `minute:${scope}:${id}:tpm`, points: limits.tpm, kind: 'tokens', windowSeconds: MINUTE });
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

    const take: WindowCounter[] = counters.map((c) => ({ key: c.key, points: c.kind === 'tokens' ? tokens : 1, limit: c.points, windowSeconds: c.windowSeconds }));
    const slots: ConcurrencySlot[] = [];
    if (p.kind === 'api_key' && keyLimits?.max_concurrency) slots.push({ key: `key:${p.key.id}`, max: keyLimits.max_concurrency });
    if (userLimits.max_concurrency) slots.push({ key: `user:${user.id}`, max: userLimits.max_concurrency });
    // All counters and slots in one step, all or nothing: on a refusal no count or slot stays taken.
    const taken = await this.tally.take(take, slots);
    const consumed: Consumed[] = [];
    for (let i = 0; i < taken.used.length; i++) consumed.push({ c: counters[i], points: take[i].points, used: taken.used[i], msBeforeNext: taken.msBeforeNext[i] });

    if (taken.refusedCounter !== undefined) {
      const x = consumed[taken.refusedCounter];
      const c = x.c;
      this.metrics.rateLimited.inc({ scope: c.scope });
      const retryAfter = retryAfterSeconds(x.msBeforeNext);
      const what = c.kind === 'tokens' ? 'tokens per minute' : c.scope.endsWith('rpd') ? 'requests per day' : 'requests per minute';
      const owner = c.scope.startsWith('key') ? 'this API key' : 'your account';
      throw tooManyRequests(`Rate limit reached: ${c.points} ${what} for ${owner}. Retry after ${retryAfter}s.`, 'rate_limit_exceeded', retryAfter).withHeaders(headersFor(consumed, true));
    }
    if (taken.refusedSlot !== undefined) {
      const scope = slots[taken.refusedSlot].key.startsWith('key:') ? 'key' : 'user';
      const max = slots[taken.refusedSlot].max;
      this.metrics.rateLimited.inc({ scope: `${scope}_concurrency` });
      const err = tooManyRequests(`Too many concurrent requests: at most ${max} at a time for ${scope === 'key' ? 'this API key' : 'your account'}.`, 'concurrency_limit_exceeded', 1);
      throw consumed.length ? err.withHeaders(headersFor(consumed, true)) : err;
    }

    let finished = false;
    return {
      headers: headersFor(consumed, false),
      finish: (actual) => {
        if (finished) return;
        finished = true;
        for (const s of slots) this.tally.release(s.key);
        if (actual === undefined) return;
        for (const x of consumed) {
          if (x.c.kind !== 'tokens') continue;
          const delta = actual - x.points;
          if (delta !== 0) this.tally.adjust(x.c.key, delta);
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
