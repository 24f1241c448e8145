/** The live view of a user that authentication and admission read (cached, invalidated on change). */
import type { Selectable } from 'kysely';
import type { LimitsJson, Role, Tier, UserStatus, UsersTable } from '../../store/schema.ts';

export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  tier: Tier;
  status: UserStatus;
  limits: LimitsJson | null;
  trialExpiresAt: Date | null;
  trialConvertedAt: Date | null;
  /** Access tokens issued before this are no longer accepted. */
  sessionsValidAfter: Date | null;
  createdAt: Date;
  updatedAt: Date;
  hasPassword: boolean;
}

export function userFromRow(r: Selectable<UsersTable>): UserRecord {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    tier: r.tier,
    status: r.status,
    limits: r.limits,
    trialExpiresAt: r.trial_expires_at ? new Date(r.trial_expires_at) : null,
    trialConvertedAt: r.trial_converted_at ? new Date(r.trial_converted_at) : null,
    sessionsValidAfter: r.sessions_valid_after ? new Date(r.sessions_valid_after) : null,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    hasPassword: Boolean(r.password_hash),
  };
}

/** The JSON shape of a user in API responses: never the password hash. */
export function userView(u: UserRecord) {
  return {
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    tier: u.tier,
    status: u.status,
    limits: u.limits,
    trial_expires_at: u.trialExpiresAt?.toISOString() ?? null,
    created_at: u.createdAt.toISOString(),
    updated_at: u.updatedAt.toISOString(),
  };
}
export type UserView = ReturnType<typeof userView>;
