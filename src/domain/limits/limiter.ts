/**
 * Fixed-window counters from rate-limiter-flexible, one limit at a time, with blocking (sign-in protection): in
 * memory on one instance, in Redis (shared by the fleet) when REDIS_URL is set. Rejections become 429 errors with
 * an exact Retry-After. Inference limits (per user, per key, anonymous per IP) are in tally.ts.
 */
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisHandle } from '../../store/redis.ts';
import { AppError } from '../../errors.ts';

export interface LimiterSpec {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  /** Once exhausted, stay blocked this long (0: until the window ends). */
  blockSeconds?: number;
}

export function createLimiter(spec: LimiterSpec, redis?: RedisHandle): RateLimiterAbstract {
  const opts = { keyPrefix: `sy:${spec.keyPrefix}`, points: spec.points, duration: spec.durationSeconds, blockDuration: spec.blockSeconds ?? 0 };
  return redis ? new RateLimiterRedis({ ...opts, storeClient: redis.client, useRedisPackage: true }) : new RateLimiterMemory(opts);
}

/** Whole seconds until a window resets, at least 1: the Retry-After of a refusal. */
export const retryAfterSeconds = (msBeforeNext: number) => Math.max(1, Math.ceil(msBeforeNext / 1000));

export function tooManyRequests(message: string, code: string, retryAfter: number): AppError {
  return new AppError(429, 'rate_limit_error', message, code, null, retryAfter);
}

/** Consumes points; throws a 429 when the limit is exhausted. Store errors propagate (an unreachable Redis answers 503). */
export async function consumeOrThrow(limiter: RateLimiterAbstract, key: string, points: number, message: string, code: string): Promise<RateLimiterRes> {
  try {
    return await limiter.consume(key, points);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw tooManyRequests(message, code, retryAfterSeconds(err.msBeforeNext));
    throw err;
  }
}

/** Throws a 429 if the key is already over its limit, without consuming. */
export async function assertNotLimited(limiter: RateLimiterAbstract, key: string, message: string, code: string): Promise<void> {
  const res = await limiter.get(key);
  if (res && res.consumedPoints > limiter.points) throw tooManyRequests(message, code, retryAfterSeconds(res.msBeforeNext));
  if (res && res.consumedPoints >= limiter.points && limiter.blockDuration > 0) throw tooManyRequests(message, code, retryAfterSeconds(res.msBeforeNext));
}
