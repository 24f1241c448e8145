/** Table types for kysely. One interface per table; columns as the database returns them through `pg`. */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** int8 columns come back from `pg` as strings; we write bigint or numeric strings. */
type Int8 = ColumnType<string, bigint | string | number, bigint | string | number>;
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
  capabilities: Json<Record<string, boolean>>;
  enabled: boolean;
  /** Where the row came from: seed | admin | sync. Seed refreshes never overwrite admin or sync rows. */
  source: string;
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
  /** Cost in pico-USD (1e-12 USD): exact for any price with 6 decimals per million tokens. */
  cost_pico: ColumnType<string, bigint | string | number | undefined, bigint | string | number>;
  latency_ms: number;
  ttft_ms: number | null;
  attempts: Defaulted<number>;
  api_key_id: string | null;
  user_id: string | null;
  client_aborted: Defaulted<boolean>;
}

export interface Database {
  models: ModelsTable;
  request_logs: RequestLogsTable;
}
