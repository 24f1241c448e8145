/**
 * Brute-force protection for sign-in (and reset requests, sign-ups and refreshes). Sign-in attempts take a
 * point per client IP and per account *before* the password is checked and give it back on success, so a
 * burst of parallel guesses cannot all slip past a read-only check while argon2 runs: past the limit the
 * caller gets 429 with Retry-After until the window passes. Memory or Redis backed (see limits/limiter.ts).
 */
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisHandle } from '../../store/redis.ts';
import type { AppError } from '../../errors.ts';
import { consumeOrThrow, createLimiter, retryAfterSeconds, tooManyRequests } from '../limits/limiter.ts';

export interface LoginLimits {
  perIp: number;
  perAccount: number;
  windowSeconds: number;
  /** Sign-ups per client IP per window (every attempt counts). */
  registerPerIp: number;
  /** Refresh-token exchanges per client IP per window (every attempt counts). */
  refreshPerIp: number;
}

/** Why a sign-in attempt was refused before its password was looked at. */
export interface Lockout {
  scope: 'ip' | 'account';
  retryAfter: number;
  /** True for the attempt that started the lock (audited once, not once per refused request). */
  started: boolean;
}

const MESSAGE = 'Too many failed sign-in attempts. Try again later.';

export const lockoutError = (l: Lockout): AppError => tooManyRequests(MESSAGE, 'too_many_login_attempts', l.retryAfter);

export class LoginGuard {
  private readonly byIp: RateLimiterAbstract;
  private readonly byAccount: RateLimiterAbstract;
  private readonly resets: RateLimiterAbstract;
  private readonly registrations: RateLimiterAbstract;
  private readonly refreshes: RateLimiterAbstract;

  constructor(limits: LoginLimits, redis?: RedisHandle) {
    const window = limits.windowSeconds;
    this.byIp = createLimiter({ keyPrefix: 'login-ip', points: limits.perIp, durationSeconds: window, blockSeconds: window }, redis);
    this.byAccount = createLimiter({ keyPrefix: 'login-acct', points: limits.perAccount, durationSeconds: window, blockSeconds: window }, redis);
    this.resets = createLimiter({ keyPrefix: 'reset-req', points: 5, durationSeconds: 3600 }, redis);
    this.registrations = createLimiter({ keyPrefix: 'register-ip', points: limits.registerPerIp, durationSeconds: window }, redis);
    this.refreshes = createLimiter({ keyPrefix: 'refresh-ip', points: limits.refreshPerIp, durationSeconds: window }, redis);
  }

  /**
   * Takes one point from the IP's and the account's budgets; returns the lockout instead when either is spent.
   * A point taken counts as a failure until `succeeded` gives it back. Store errors propagate.
   */
  async begin(ip: string, email: string): Promise<Lockout | undefined> {
    const byIp = await take(this.byIp, ip, 'ip');
    if (byIp) return byIp;
    const byAccount = await take(this.byAccount, email, 'account');
    // A locked account must not also use up its caller's IP budget.
    if (byAccount) await this.byIp.reward(ip, 1).catch(() => {});
    return byAccount;
  }

  /** The password was right: the IP gets its point back and the account's failure count starts over. */
  async succeeded(ip: string, email: string): Promise<void> {
    await Promise.allSettled([this.byIp.reward(ip, 1), this.byAccount.delete(email)]);
  }

  /** Sign-ups per client IP: throws 429 past the limit. */
  async admitRegistration(ip: string): Promise<void> {
    await consumeOrThrow(this.registrations, ip, 1, 'Too many sign-ups from this address. Try again later.', 'too_many_registrations');
  }

  /** Refresh-token exchanges per client IP: throws 429 past the limit. */
  async admitRefresh(ip: string): Promise<void> {
    await consumeOrThrow(this.refreshes, ip, 1, 'Too many token refreshes from this address. Try again later.', 'too_many_refreshes');
  }

  /**
   * Password-reset requests per email and per IP: silently dropped beyond the limit (the answer is 202 anyway).
   * A store that cannot count (Redis unreachable) is an error, not a silent drop: the caller learns to retry.
   */
  async allowResetRequest(ip: string, email: string): Promise<boolean> {
    try {
      await this.resets.consume(`ip:${ip}`);
      await this.resets.consume(`email:${email}`);
      return true;
    } catch (err) {
      if (err instanceof RateLimiterRes) return false;
      throw err;
    }
  }
}

async function take(limiter: RateLimiterAbstract, key: string, scope: Lockout['scope']): Promise<Lockout | undefined> {
  try {
    await limiter.consume(key, 1);
    return undefined;
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err;
    // Refused attempts keep counting, so only the first one past the limit sees points + 1.
    return { scope, retryAfter: retryAfterSeconds(err.msBeforeNext), started: err.consumedPoints === limiter.points + 1 };
  }
}
