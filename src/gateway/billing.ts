/**
 * Prepaid billing on the request path: before any upstream call, reserve the most the request can cost
 * (402 when the account or the key's budget cannot cover it); afterwards settle the exact cost, or release
 * the hold when nothing was produced. The operator key and anonymous callers draw on no account.
 */
import type { Config } from '../config/schema.ts';
import type { ChatRequest, EmbeddingsRequest } from '../providers/types.ts';
import { inputTokenBound, promptTokenBound } from '../providers/tokens.ts';
import { requestedMaxTokens, upstreamMaxTokens } from '../providers/max-tokens.ts';
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

/** The highest price of an input token for a candidate (cache writes and reads may cost more than plain input). */
function inputPrice(c: Candidate): bigint {
  const p = c.pricing;
  let inPrice = p.input;
  if (p.cacheWrite !== null && p.cacheWrite > inPrice) inPrice = p.cacheWrite;
  if (p.cachedInput !== null && p.cachedInput > inPrice) inPrice = p.cachedInput;
  return inPrice;
}

/** The highest cost any candidate could charge (pico-USD): `input` tokens, and `output(c)` tokens per choice. */
function maxCost(candidates: Candidate[], input: number, output: (c: Candidate) => number, choices = 1): bigint {
  let max = 0n;
  const inT = BigInt(input);
  for (const c of candidates) {
    const cost = inT * inputPrice(c) + BigInt(output(c) * choices) * c.pricing.output;
    if (cost > max) max = cost;
  }
  return max;
}

/** Below this many output tokens a request is not worth sending: 402 instead of a uselessly short answer. */
export const MIN_OUTPUT_TOKENS = 16;

/** What the adapter of `c` sends upstream as max tokens for `req` (thinking budgets included); undefined: none. */
const sentMaxTokens = (c: Candidate, req: ChatRequest) => upstreamMaxTokens(c.entry.provider.type, c.target.model, req);

/**
 * The output cap to send when a request sets none and the balance cannot cover the models' full output: the
 * largest X in [MIN_OUTPUT_TOKENS, limit] whose worst case over the candidates (`max_tokens: X` as each adapter
 * sends it, thinking budget included) costs at most `available` pico-USD; undefined when none does.
 *
 * A candidate whose adapter adds a thinking budget B to a max_tokens X <= B costs X + B tokens, X beyond it:
 * its affordable X form at most two intervals, ending at T - B and at T (T: the tokens it can afford). The
 * largest feasible X is therefore one of those ends (or `limit`): each is checked against every candidate.
 */
function fitOutputCap(req: ChatRequest, candidates: Candidate[], input: number, choices: number, limit: number, available: bigint): number | undefined {
  const costAt = (x: number) => maxCost(candidates, input, (c) => sentMaxTokens(c, { ...req, max_tokens: x }) ?? x, choices);
  const points = new Set<number>([limit]);
  for (const c of candidates) {
    const perToken = c.pricing.output * BigInt(choices);
    const left = available - BigInt(input) * inputPrice(c);
    if (left < 0n) return undefined;
    if (perToken === 0n) continue;
    const affordable = left / perToken;
    const t = affordable > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(affordable);
    // The budget the adapter adds at the smallest cap (0 when it adds none).
    const budget = (sentMaxTokens(c, { ...req, max_tokens: 1 }) ?? 1) - 1;
    points.add(Math.min(t, limit));
    if (budget > 0) points.add(Math.min(t - budget, limit));
  }
  let best: number | undefined;
  for (const x of points) {
    if (x < MIN_OUTPUT_TOKENS || x > limit || (best !== undefined && x <= best)) continue;
    if (costAt(x) <= available) best = x;
  }
  return best;
}

export class Billing {
  constructor(
    private readonly book: CreditBook | undefined,
    private readonly config: Config,
  ) {}

  private billed(ctx: RequestContext): boolean {
    return Boolean(this.book) && this.config.credits.mode !== 'off' && ownerOf(ctx) !== undefined;
  }

  /** Reserves `cost`; when it does not fit and `fit` is given, the smaller cost `fit` picks within what is available. */
  private async hold(ctx: RequestContext, cost: bigint, fit?: (available: bigint) => bigint | undefined): Promise<Hold | undefined> {
    const owner = ownerOf(ctx);
    if (!owner || !this.book) return undefined;
    const accountId = this.book.accountId(owner);
    const id = typeof accountId === 'string' ? accountId : await accountId;
    if (this.config.credits.mode === 'postpaid') return this.book.open(id);
    const p = ctx.principal;
    const budget = p.kind === 'api_key' && p.key.limits?.budget ? { keyId: p.key.id, limits: p.key.limits.budget } : undefined;
    return fit ? this.book.reserveFitting(id, cost, budget, fit) : this.book.reserve(id, cost, budget);
  }

  /**
   * Reserves the worst case of what will be sent upstream, so that the exact cost can never exceed the hold:
   * the input bound, and per choice the max tokens each candidate's adapter sends (thinking budgets included).
   *
   * A prepaid request without max_tokens / max_completion_tokens reserves the models' full output limit (the
   * catalog's max output, or what the adapter sends anyway, e.g. Anthropic's default). When that limit is
   * unknown for some candidate (no catalog figure), or the balance cannot cover it, the request is capped: it
   * reserves the largest output cap the balance affords, up to the catalog's max output (RESERVE_OUTPUT_TOKENS
   * when unknown), and that cap is SET on `req` as `max_tokens`, which every attempt then sends upstream. Fewer
   * than MIN_OUTPUT_TOKENS affordable: 402, before any upstream call.
   */
  holdChat(ctx: RequestContext, req: ChatRequest, candidates: Candidate[]): Promise<Hold | undefined> | undefined {
    if (!this.billed(ctx)) return undefined;
    const input = inputBound(promptTokenBound(req));
    const choices = req.n ?? 1;
    const fallback = this.config.credits.reserveOutputTokens;
    if (requestedMaxTokens(req) !== undefined || this.config.credits.mode !== 'prepaid') {
      return this.hold(ctx, maxCost(candidates, input, (c) => sentMaxTokens(c, req) ?? fallback, choices));
    }
    return this.holdUncapped(ctx, req, candidates, input, choices, fallback);
  }

  private async holdUncapped(ctx: RequestContext, req: ChatRequest, candidates: Candidate[], input: number, choices: number, fallback: number): Promise<Hold | undefined> {
    // The most each candidate can produce as the request stands: its adapter's own limit, else the model's.
    const own = (c: Candidate) => sentMaxTokens(c, req) ?? c.maxOutputTokens;
    const bounded = candidates.every((c) => own(c) !== undefined);
    // A cap sent upstream must be one every candidate accepts.
    let limit = Infinity;
    for (const c of candidates) limit = Math.min(limit, c.maxOutputTokens ?? fallback);
    const capCost = (x: number) => maxCost(candidates, input, (c) => sentMaxTokens(c, { ...req, max_tokens: x }) ?? x, choices);
    let cap: number | undefined = bounded ? undefined : limit;
    const full = bounded ? maxCost(candidates, input, (c) => own(c)!, choices) : capCost(limit);
    const hold = await this.hold(ctx, full, (available) => {
      const x = fitOutputCap(req, candidates, input, choices, limit, available);
      if (x === undefined) return undefined;
      cap = x;
      return capCost(x);
    });
    if (cap !== undefined) req.max_tokens = cap;
    return hold;
  }

  holdEmbeddings(ctx: RequestContext, req: EmbeddingsRequest, candidates: Candidate[]): Promise<Hold | undefined> | undefined {
    if (!this.billed(ctx)) return undefined;
    return this.hold(ctx, maxCost(candidates, inputBound(inputTokenBound(req.input)), () => 0));
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
