/** Table types for kysely. One interface per table; columns as the database returns them through `pg`. */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** int8 columns come back from `pg` as strings; we write bigint or numeric strings. */
type Int8 = ColumnType<string, bigint | string | number, bigint | string | number>;
/** numeric columns (exact, wider than int8) come back from `pg` as decimal strings; we write bigint or decimal strings. */
type Numeric = ColumnType<string, bigint | string | number, bigint | string | number>;
type Json<T = unknown> = ColumnType<T, string, string>;
/** A column with a database default: optional on insert. */
type Defaulted<T> = ColumnType<T, T | undefined, T>;

export interface ModelsTable {
  id: string;
  provider: string;
  upstream_id: string;
  name: string;
  kind: 'chat' | 'embedding';
  context_length: number | null;
  max_output_tokens: number | null;
  /** Prices in micro-USD per million tokens (exact for prices with up to 6 decimals). */
  price_input: Int8;
  price_output: Int8;
  price_cached_input: Int8 | null;
  price_cache_write: Int8 | null;
  capabilities: ColumnType<Record<string, boolean>, string | undefined, string>;
  enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** Where the row came from: seed | admin | sync. Seed refreshes never overwrite admin or sync rows. */
  source: ColumnType<string, string | undefined, string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RequestLogsTable {
  id: Generated<Int8>;
  request_id: string;
  created_at: Timestamp;
  endpoint: string;
  requested_model: string;
  model: string | null;
  provider: string | null;
  upstream_model: string | null;
  stream: boolean;
  status: number;
  error_type: string | null;
  error_code: string | null;
  error_message: string | null;
  finish_reason: string | null;
  input_tokens: Defaulted<number>;
  cache_read_tokens: Defaulted<number>;
  cache_write_tokens: Defaulted<number>;
  output_tokens: Defaulted<number>;
  reasoning_tokens: Defaulted<number>;
  usage_estimated: Defaulted<boolean>;
  /** Cost in pico-USD (1e-12 USD), numeric(38,0): exact for any price with 6 decimals per million tokens. */
  cost_pico: ColumnType<string, bigint | string | number | undefined, bigint | string | number>;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: Defaulted<number>;
  api_key_id: string | null;
  user_id: string | null;
  client_aborted: Defaulted<boolean>;
  org_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export type Role = 'user' | 'admin';
export type Tier = 'free' | 'pro' | 'power' | 'team';
export type UserStatus = 'active' | 'suspended' | 'deleted';
export type OrgRole = 'owner' | 'admin' | 'member';

/** Per-user or per-key limits; absent fields mean "inherit". */
export interface LimitsJson {
  rpm?: number;
  tpm?: number;
  rpd?: number;
  max_concurrency?: number;
  /** Spend limit in USD per period (keys). */
  budget?: { amount_usd: number; period: 'day' | 'week' | 'month' | 'total' };
}

type Created = ColumnType<Date, Date | string | undefined, never>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: string;
  /** Stored lower-cased: addresses are case-insensitive. */
  email: string;
  password_hash: string | null;
  name: string | null;
  role: Defaulted<Role>;
  tier: Defaulted<Tier>;
  status: Defaulted<UserStatus>;
  limits: ColumnType<LimitsJson | null, string | null | undefined, string | null>;
  trial_expires_at: NullableTimestamp;
  trial_converted_at: NullableTimestamp;
  sessions_valid_after: NullableTimestamp;
  created_at: Created;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
}

export interface RefreshTokensTable {
  id: string;
  user_id: string;
  family_id: string;
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Created;
  ip: string | null;
  user_agent: string | null;
}

export interface PasswordResetsTable {
  id: string;
  user_id: string;
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Created;
}

export interface OrganizationsTable {
  id: string;
  name: string;
  created_by: string;
  created_at: Created;
  updated_at: Timestamp;
}

export interface OrgMembersTable {
  org_id: string;
  user_id: string;
  role: OrgRole;
  created_at: Created;
}

export interface OrgInvitesTable {
  id: string;
  org_id: string;
  email: string;
  role: 'admin' | 'member';
  invited_by: string;
  status: Defaulted<'pending' | 'accepted' | 'declined' | 'revoked'>;
  expires_at: Timestamp;
  created_at: Created;
  responded_at: NullableTimestamp;
}

type JsonList = ColumnType<string[] | null, string | null | undefined, string | null>;

export interface ApiKeysTable {
  id: string;
  user_id: string;
  org_id: string | null;
  name: string;
  /** SHA-256 (hex) of the secret; the secret itself is never stored. */
  secret_hash: string;
  prefix: string;
  last_four: string;
  scopes: ColumnType<string[], string | undefined, string>;
  allowed_models: JsonList;
  allowed_ips: JsonList;
  allowed_referrers: JsonList;
  limits: ColumnType<LimitsJson | null, string | null | undefined, string | null>;
  expires_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_by: string | null;
  created_at: Created;
  updated_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<Int8>;
  created_at: Created;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  changes: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
  ip: string | null;
  request_id: string | null;
}

export interface SettingsTable {
  key: string;
  value: string;
  updated_at: Timestamp;
}

/** Hourly and daily request rollups ('' in a key column means none). Maintained by src/domain/analytics/rollups.ts. */
export interface RequestRollupsTable {
  bucket: Timestamp;
  model: string;
  provider: string;
  api_key_id: string;
  user_id: string;
  status_class: number;
  requests: Int8;
  input_tokens: Int8;
  output_tokens: Int8;
  cache_read_tokens: Int8;
  cache_write_tokens: Int8;
  reasoning_tokens: Int8;
  /** numeric(38,0), pico-USD. */
  cost_pico: Numeric;
  latency_ms_sum: Int8;
  latency_hist: ColumnType<string[], string[] | number[], string[] | number[]>;
}

export interface RequestErrorRollupsTable {
  bucket: Timestamp;
  fingerprint: string;
  provider: string;
  model: string;
  status: number;
  error_type: string;
  error_code: string;
  pattern: string;
  count: Int8;
  last_seen: Timestamp;
  example_message: string | null;
  example_request_id: string | null;
}

export interface IncidentsTable {
  id: Generated<Int8>;
  provider: string;
  model: string;
  status: Defaulted<'ongoing' | 'resolved'>;
  started_at: Timestamp;
  opened_at: Defaulted<Date>;
  resolved_at: Date | null;
  resolution: 'recovered' | 'manual' | null;
  resolved_by: string | null;
  note: string | null;
  requests: Defaulted<number>;
  failures: Defaulted<number>;
  last_status: number | null;
  last_error_code: string | null;
}

export interface AnalyticsEventsTable {
  id: Generated<Int8>;
  name: string;
  properties: Json<Record<string, unknown>>;
  occurred_at: Timestamp;
  received_at: Defaulted<Date>;
  session_id: string | null;
  principal_kind: string | null;
  principal_id: string | null;
  request_id: string | null;
}

/** numeric(38,0) pico-USD: read as a decimal string, written from bigint. */
type Money = ColumnType<string, bigint | string, bigint | string>;

export type CreditKind = 'grant' | 'purchase' | 'charge' | 'refund' | 'coupon' | 'adjustment' | 'trial' | 'subscription_allowance';

export interface CreditAccountsTable {
  id: string;
  owner_type: 'user' | 'org';
  owner_id: string;
  balance: ColumnType<string, bigint | string | undefined, bigint | string>;
  version: ColumnType<string, bigint | string | number | undefined, bigint | string | number>;
  created_at: Created;
  updated_at: Timestamp;
}

export interface CreditTransactionsTable {
  id: Generated<Int8>;
  account_id: string;
  kind: CreditKind;
  amount: Money;
  balance_after: Money;
  reference_type: string | null;
  reference_id: string | null;
  refund_of: ColumnType<string | null, string | bigint | null | undefined, never>;
  api_key_id: string | null;
  model: string | null;
  reason: string | null;
  actor_type: string;
  actor_id: string | null;
  metadata: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
  created_at: Created;
}

export interface CouponsTable {
  id: string;
  code: string;
  value: Money;
  type: 'promotional' | 'referral' | 'compensation' | 'partnership';
  max_uses: number | null;
  per_user_limit: Defaulted<number>;
  uses: Defaulted<number>;
  valid_from: NullableTimestamp;
  valid_until: NullableTimestamp;
  assigned_user_id: string | null;
  description: string | null;
  active: Defaulted<boolean>;
  created_by: string | null;
  created_at: Created;
  updated_at: Timestamp;
}

export interface CouponRedemptionsTable {
  id: string;
  coupon_id: string;
  user_id: string;
  account_id: string;
  transaction_id: ColumnType<string, string | bigint, never>;
  value: Money;
  created_at: Created;
}

export interface BillingCustomersTable {
  user_id: string;
  customer_id: string;
  created_at: Created;
}

export interface SubscriptionsTable {
  id: string;
  user_id: string;
  tier: Tier;
  status: string;
  current_period_end: NullableTimestamp;
  cancel_at_period_end: Defaulted<boolean>;
  created_at: Created;
  updated_at: Timestamp;
  /** 006_billing: the Stripe customer and price, and the creation time of the last Stripe event applied. */
  customer_id: ColumnType<string | null, string | null | undefined, string | null>;
  price_id: ColumnType<string | null, string | null | undefined, string | null>;
  last_event_at: NullableTimestamp;
  canceled_at: NullableTimestamp;
}

export interface BillingEventsTable {
  id: string;
  type: string;
  processed_at: Created;
}

export interface Database {
  credit_accounts: CreditAccountsTable;
  credit_transactions: CreditTransactionsTable;
  coupons: CouponsTable;
  coupon_redemptions: CouponRedemptionsTable;
  billing_customers: BillingCustomersTable;
  subscriptions: SubscriptionsTable;
  billing_events: BillingEventsTable;
  models: ModelsTable;
  request_logs: RequestLogsTable;
  request_rollups_hourly: RequestRollupsTable;
  request_rollups_daily: RequestRollupsTable;
  request_rollups_model_hourly: RequestRollupsTable;
  request_rollups_model_daily: RequestRollupsTable;
  request_error_rollups: RequestErrorRollupsTable;
  incidents: IncidentsTable;
  analytics_events: AnalyticsEventsTable;
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  password_resets: PasswordResetsTable;
  organizations: OrganizationsTable;
  org_members: OrgMembersTable;
  org_invites: OrgInvitesTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
}
