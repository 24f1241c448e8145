/**
 * Prepaid billing on the request path: before any upstream call, reserve the most the request can cost
 * (402 when the account or the key's budget cannot cover it); afterwards settle the exact cost, or release
 * the hold when nothing was produced. The operator key and anonymous callers draw on no account.
 */
import type { Config } from '../config/schema.ts';
import type { ChatRequest, EmbeddingsRequest } from '../providers/types.ts';
import { estimateInputTokens, promptTokenBound } from '../providers/tokens.ts';
import type { CreditBook, Hold } from '../domain/credits/book.ts';
import type { Owner } from '../domain/credits/ledger.ts';
import type { RequestContext } from './context.ts';
import type { Candidate } from './router.ts';

/** Slack for provider-side framing the local bound cannot see. */
const inputBound = (bound: number) => bound + 16;

function ownerOf(ctx: RequestContext): Owner | undefined {
  const p = ctx.principal;
  if (p.kind === 'api_key') return p.key.orgId ? { type: 'org', id: p.key.orgId } : { type: 'user', id: p.user.id };
  if (p.kind === 'user') return { type: 'user', id: p.user.id };
  return undefined;
}

/** The highest cost any candidate could charge for this many tokens (pico-USD). */
function maxCost(candidates: Candidate[], input: number, output: number): bigint {
  let max = 0n;
  const inT = BigInt(input);
  const outT = BigInt(output);
  for (const c of candidates) {
    const p = c.pricing;
    let inPrice = p.input;
    if (p.cacheWrite !== null && p.cacheWrite > inPrice) inPrice = p.cacheWrite;
    if (p.cachedInput !== null && p.cachedInput > inPrice) inPrice = p.cachedInput;
    const cost = inT * inPrice + outT * p.output;
    if (cost > max) max = cost;
  }
  return max;
}

export class Billing {
  constructor(
    private readonly book: CreditBook | undefined,
    private readonly config: Config,
  ) {}

  private billed(ctx: RequestContext): boolean {
    return Boolean(this.book) && this.config.credits.mode !== 'off' && ownerOf(ctx) !== undefined;
  }

  private async hold(ctx: RequestContext, cost: bigint): Promise<Hold | undefined> {
    const owner = ownerOf(ctx);
    if (!owner || !this.book) return undefined;
    const accountId = this.book.accountId(owner);
    const id = typeof accountId === 'string' ? accountId : await accountId;
    if (this.config.credits.mode === 'postpaid') return this.book.open(id);
    const p = ctx.principal;
    const budget = p.kind === 'api_key' && p.key.limits?.budget ? { keyId: p.key.id, limits: p.key.limits.budget } : undefined;
    return this.book.reserve(id, cost, budget);
  }

  holdChat(ctx: RequestContext, req: ChatRequest, candidates: Candidate[]): Promise<Hold | undefined> | undefined {
    if (!this.billed(ctx)) return undefined;
    const output = (req.max_completion_tokens ?? req.max_tokens ?? this.config.credits.reserveOutputTokens) * (req.n ?? 1);
    return this.hold(ctx, maxCost(candidates, inputBound(promptTokenBound(req)), output));
  }

  holdEmbeddings(ctx: RequestContext, req: EmbeddingsRequest, candidates: Candidate[]): Promise<Hold | undefined> | undefined {
    if (!this.billed(ctx)) return undefined;
    return this.hold(ctx, maxCost(candidates, inputBound(estimateInputTokens(req.input)), 0));
  }

  settle(hold: Hold | undefined, cost: bigint, ctx: RequestContext, candidate: Candidate | undefined): void {
    if (!hold || !this.book) return;
    const p = ctx.principal;
    this.book.settle(hold, cost, { apiKeyId: p.kind === 'api_key' ? p.key.id : null, model: candidate?.modelId ?? null, requestId: ctx.requestId });
  }

  release(hold: Hold | undefined): void {
    if (hold && this.book) this.book.release(hold);
  }
}
