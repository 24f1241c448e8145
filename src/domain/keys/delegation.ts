/**
 * When an API key manages keys (an `account`-scoped key on /api/keys), it hands out no more than it holds:
 * a key it creates, changes or rotates must be at least as restricted as the calling key on every axis
 * (scopes, expiry, model / IP / referrer allowlists, limits, owner). Otherwise a key limited to one model or
 * one IP could mint an unrestricted one. Where the caller is restricted and a new key's request says nothing,
 * the new key inherits the caller's restriction. A signed-in user (a session) is not bounded by this.
 */
import type { Selectable } from 'kysely';
import type { ApiKeysTable, LimitsJson } from '../../store/schema.ts';
import { AppError } from '../../errors.ts';
import type { KeyCreate } from './schema.ts';
import { globToRegExp } from './access.ts';

type KeyRow = Selectable<ApiKeysTable>;

/** The restrictions of a key, as stored or as requested. */
export interface KeyBounds {
  org_id: string | null;
  scopes: readonly string[];
  expires_at: Date | string | null;
  allowed_models: readonly string[] | null;
  allowed_ips: readonly string[] | null;
  allowed_referrers: readonly string[] | null;
  limits: LimitsJson | null;
}

const LISTS = ['allowed_models', 'allowed_ips', 'allowed_referrers'] as const;
const COUNTS = ['rpm', 'tpm', 'rpd', 'max_concurrency'] as const;

const restricted = (list: readonly string[] | null) => (list?.length ? list : null);

const WILDCARD = /[*?]/;

/**
 * Whether an allowlist entry is within the caller's list: the same entry, or (models and referrers) a
 * concrete value, without wildcards, that one of the caller's globs matches. A pattern inside another
 * pattern (`openai/gpt-4*` in `openai/*`) is not worked out; such an entry must be in the caller's list as is.
 */
function entryWithin(field: (typeof LISTS)[number], entry: string, allowed: readonly string[]): boolean {
  if (allowed.includes(entry)) return true;
  if (field === 'allowed_ips' || WILDCARD.test(entry)) return false;
  return allowed.some((glob) => globToRegExp(glob).test(entry));
}

/** The request's key with the caller's restrictions filled in where the request leaves a field out. */
export function inheritBounds(caller: KeyRow, input: KeyCreate): KeyCreate {
  const out: KeyCreate = { ...input };
  if (out.org_id === undefined && caller.org_id) out.org_id = caller.org_id;
  if (out.expires_at === undefined && caller.expires_at) out.expires_at = new Date(caller.expires_at).toISOString();
  for (const f of LISTS) if (out[f] === undefined && restricted(caller[f])) out[f] = [...caller[f]!];
  if (caller.limits) out.limits = { ...caller.limits, ...out.limits };
  return out;
}

/** The first way `target` is less restricted than `caller`, or undefined when it is within the caller's bounds. */
export function exceededBound(caller: KeyBounds, target: KeyBounds): { field: string; why: string } | undefined {
  if ((target.org_id ?? null) !== (caller.org_id ?? null)) return { field: 'org_id', why: 'belongs to another owner than the calling key' };
  const extraScope = target.scopes.find((s) => !caller.scopes.includes(s));
  if (extraScope) return { field: 'scopes', why: `has the "${extraScope}" scope, which the calling key lacks` };
  if (caller.expires_at) {
    const limit = new Date(caller.expires_at).getTime();
    if (!target.expires_at || new Date(target.expires_at).getTime() > limit) return { field: 'expires_at', why: 'would outlive the calling key' };
  }
  for (const f of LISTS) {
    const allowed = restricted(caller[f]);
    if (!allowed) continue;
    const wanted = restricted(target[f]);
    if (!wanted) return { field: f, why: 'would be unrestricted where the calling key is restricted' };
    const extra = wanted.find((entry) => !entryWithin(f, entry, allowed));
    if (extra !== undefined) return { field: f, why: `allows "${extra}", which the calling key's list does not contain` };
  }
  const mine = caller.limits ?? {};
  const theirs = target.limits ?? {};
  for (const f of COUNTS) {
    const cap = mine[f];
    if (cap !== undefined && (theirs[f] === undefined || theirs[f]! > cap)) return { field: `limits.${f}`, why: `must be at most the calling key's ${cap}` };
  }
  if (mine.budget) {
    const b = theirs.budget;
    if (!b || b.period !== mine.budget.period || b.amount_usd > mine.budget.amount_usd) {
      return { field: 'limits.budget', why: `must be at most the calling key's ${mine.budget.amount_usd} USD per ${mine.budget.period}` };
    }
  }
  return undefined;
}

/** 403 unless `target` stays within the calling key's bounds; `what` names the action for the message. */
export function requireWithinCaller(caller: KeyBounds, target: KeyBounds, what: string): void {
  const over = exceededBound(caller, target);
  if (!over) return;
  throw new AppError(403, 'permission_error', `An API key cannot ${what} a key less restricted than itself: ${over.field} ${over.why}.`, 'key_exceeds_caller', over.field);
}

export function boundsOfRequest(input: KeyCreate): KeyBounds {
  return {
    org_id: input.org_id ?? null,
    scopes: input.scopes ?? ['inference'],
    expires_at: input.expires_at ?? null,
    allowed_models: input.allowed_models ?? null,
    allowed_ips: input.allowed_ips ?? null,
    allowed_referrers: input.allowed_referrers ?? null,
    limits: input.limits ?? null,
  };
}
