/** API keys as cached for authentication, and as shown by the API (never with the secret). */
import type { BlockList } from 'node:net';
import type { Selectable } from 'kysely';
import type { ApiKeysTable, LimitsJson } from '../../store/schema.ts';
import { compileIpAllowlist, globToRegExp } from './access.ts';

export const KEY_PREFIX = 'sk-sy-';
export const SCOPES = ['inference', 'account'] as const;
export type Scope = (typeof SCOPES)[number];

export interface KeyRecord {
  id: string;
  userId: string;
  orgId: string | null;
  name: string;
  scopes: ReadonlySet<string>;
  allowedModels: RegExp[] | null;
  allowedIps: BlockList | null;
  allowedReferrers: RegExp[] | null;
  limits: LimitsJson | null;
  /** ms since epoch */
  expiresAt: number | null;
  revoked: boolean;
}

export function keyFromRow(r: Selectable<ApiKeysTable>): KeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    orgId: r.org_id,
    name: r.name,
    scopes: new Set(r.scopes ?? []),
    allowedModels: r.allowed_models?.length ? r.allowed_models.map(globToRegExp) : null,
    allowedIps: r.allowed_ips?.length ? compileIpAllowlist(r.allowed_ips) : null,
    allowedReferrers: r.allowed_referrers?.length ? r.allowed_referrers.map(globToRegExp) : null,
    limits: r.limits,
    expiresAt: r.expires_at ? new Date(r.expires_at).getTime() : null,
    revoked: r.revoked_at !== null,
  };
}

export function keyStatus(r: Pick<Selectable<ApiKeysTable>, 'revoked_at' | 'expires_at'>): 'active' | 'revoked' | 'expired' {
  if (r.revoked_at) return 'revoked';
  if (r.expires_at && new Date(r.expires_at).getTime() <= Date.now()) return 'expired';
  return 'active';
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export function keyView(r: Selectable<ApiKeysTable>) {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    last_four: r.last_four,
    org_id: r.org_id,
    user_id: r.user_id,
    scopes: r.scopes,
    allowed_models: r.allowed_models,
    allowed_ips: r.allowed_ips,
    allowed_referrers: r.allowed_referrers,
    limits: r.limits,
    status: keyStatus(r),
    created_at: iso(r.created_at)!,
    last_used_at: iso(r.last_used_at),
    expires_at: iso(r.expires_at),
    revoked_at: iso(r.revoked_at),
  };
}
export type KeyView = ReturnType<typeof keyView>;
