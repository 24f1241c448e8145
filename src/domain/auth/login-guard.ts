/**
 * Brute-force protection for sign-in (and reset requests): failures are counted per client IP and per
 * account; past the limit the caller gets 429 with Retry-After until the window passes.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RedisHandle } from '../../store/redis.ts';
import { assertNotLimited, createLimiter } from '../limits/limiter.ts';

export interface LoginLimits {
  perIp: number;
  perAccount: number;
  windowSeconds: number;
}

const MESSAGE = 'Too many failed sign-in attempts. Try again later.';

export class LoginGuard {
  private readonly byIp: RateLimiterAbstract;
  private readonly byAccount: RateLimiterAbstract;
  private readonly resets: RateLimiterAbstract;

  constructor(limits: LoginLimits, redis?: RedisHandle) {
    const window = limits.windowSeconds;
    this.byIp = createLimiter({ keyPrefix: 'login-ip', points: limits.perIp, durationSeconds: window, blockSeconds: window }, redis);
    this.byAccount = createLimiter({ keyPrefix: 'login-acct', points: limits.perAccount, durationSeconds: window, blockSeconds: window }, redis);
    this.resets = createLimiter({ keyPrefix: 'reset-req', points: 5, durationSeconds: 3600 }, redis);
  }

  /** Throws 429 if this IP or account is currently locked out. */
  async check(ip: string, email: string): Promise<void> {
    await assertNotLimited(this.byIp, ip, MESSAGE, 'too_many_login_attempts');
    await assertNotLimited(this.byAccount, email, MESSAGE, 'too_many_login_attempts');
  }

  async failed(ip: string, email: string): Promise<void> {
    await Promise.allSettled([this.byIp.penalty(ip, 1), this.byAccount.penalty(email, 1)]);
    // Reaching the limit starts the block.
    const [ipRes, acctRes] = await Promise.all([this.byIp.get(ip), this.byAccount.get(email)]);
    if (ipRes && ipRes.consumedPoints >= this.byIp.points) await this.byIp.block(ip, this.byIp.blockDuration);
    if (acctRes && acctRes.consumedPoints >= this.byAccount.points) await this.byAccount.block(email, this.byAccount.blockDuration);
  }

  async succeeded(email: string): Promise<void> {
    await this.byAccount.delete(email).catch(() => {});
  }

  /** Password-reset requests per email and per IP: silently dropped beyond the limit (the answer is 202 anyway). */
  async allowResetRequest(ip: string, email: string): Promise<boolean> {
    try {
      await this.resets.consume(`ip:${ip}`);
      await this.resets.consume(`email:${email}`);
      return true;
    } catch {
      return false;
    }
  }
}
