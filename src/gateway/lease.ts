/**
 * What one admitted inference request holds while it runs: its rate-limit counters (and per-user/key
 * concurrency slots), a slot of the global concurrency gate, and a credit hold. Taken in that order (cheap
 * refusals first) and given back exactly once, whatever happens.
 */
import { AppError } from '../errors.ts';
import type { Hold } from '../domain/credits/book.ts';
import type { Billing } from './billing.ts';
import type { ConcurrencyGate } from './gate.ts';
import type { RateHeaders, RateLimitGate } from './limits.ts';
import type { RequestContext } from './context.ts';
import type { Candidate } from './router.ts';

export interface Lease {
  /** x-ratelimit-* headers for the response. */
  readonly headers: RateHeaders;
  /** The request ended: charge `cost` (zero: nothing), correct token counts, free every slot. */
  settle(cost: bigint, candidate: Candidate | undefined, tokens: number | undefined): void;
  /** Adds the rate-limit headers to an error on its way out. */
  decorate<E>(err: E): E;
}

export class Leases {
  constructor(
    private readonly limits: RateLimitGate,
    private readonly gate: ConcurrencyGate,
    private readonly billing: Billing,
  ) {}

  async take(ctx: RequestContext, estimatedTokens: number, hold: () => Promise<Hold | undefined> | undefined): Promise<Lease> {
    const admitted = await this.limits.admit(ctx, estimatedTokens);
    const headers = admitted?.headers ?? {};
    const decorate = <E>(err: E): E => (err instanceof AppError && Object.keys(headers).length ? err.withHeaders(headers) : err);
    let release: () => void;
    try {
      const slot = this.gate.acquire(ctx.signal);
      release = typeof slot === 'function' ? slot : await slot;
    } catch (err) {
      admitted?.finish(undefined);
      throw decorate(err);
    }
    let credit: Hold | undefined;
    try {
      credit = await hold();
    } catch (err) {
      admitted?.finish(undefined);
      release();
      throw decorate(err);
    }
    let done = false;
    return {
      headers,
      decorate,
      settle: (cost, candidate, tokens) => {
        if (done) return;
        done = true;
        this.billing.settle(credit, cost, ctx, candidate);
        admitted?.finish(tokens);
        release();
      },
    };
  }
}
