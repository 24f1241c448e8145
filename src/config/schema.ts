import { z } from 'zod';

/** Wire formats a provider can speak; each has a folder under src/providers. */
export const WIRE_FORMATS = ['openai', 'anthropic', 'gemini', 'bedrock', 'mock'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

/** Prices are USD per million tokens, as providers publish them (up to 6 decimals are exact). */
export const PricingSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cached_input: z.number().nonnegative().optional(),
  cache_write: z.number().nonnegative().optional(),
});
export type PricingInput = z.infer<typeof PricingSchema>;

export const ProviderConfigSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "-" and "_" only'),
  /** Wire format; defaults to the preset's, else `openai`. */
  type: z.enum(WIRE_FORMATS).optional(),
  /** Preset to inherit defaults from (base URL, headers, quirks); defaults to `id` when it names a preset. */
  preset: z.string().optional(),
  base_url: z.string().url().optional(),
  api_key: z.string().optional(),
  headers: z.record(z.string(), z.string()).default({}),
  /** Azure OpenAI `api-version` query parameter. */
  api_version: z.string().optional(),
  /** AWS region and credentials for Bedrock (SigV4), or `api_key` for a Bedrock API key. */
  region: z.string().optional(),
  access_key_id: z.string().optional(),
  secret_access_key: z.string().optional(),
  session_token: z.string().optional(),
  enabled: z.boolean().optional(),
  /** Per-attempt timeout until the first upstream byte, in ms. */
  timeout_ms: z.number().int().positive().optional(),
});
export type ProviderConfigInput = z.infer<typeof ProviderConfigSchema>;

export const DeploymentSchema = z.object({
  provider: z.string(),
  model: z.string(),
  weight: z.number().positive().default(1),
});

export const ModelRouteSchema = z.object({
  id: z.string().min(1),
  deployments: z.array(DeploymentSchema).min(1),
  strategy: z.enum(['fallback', 'weighted', 'least-latency', 'lowest-price']).default('fallback'),
  fallbacks: z.array(z.string()).default([]),
  pricing: PricingSchema.optional(),
  context_length: z.number().int().positive().optional(),
});
export type ModelRouteInput = z.infer<typeof ModelRouteSchema>;

/** The config file (SWITCHYARD_CONFIG): everything optional, merged over the environment. */
export const FileConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535),
    host: z.string(),
    data_dir: z.string(),
    database_url: z.string(),
    redis_url: z.string(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    max_body_bytes: z.number().int().positive(),
    providers: z.array(ProviderConfigSchema),
    models: z.array(ModelRouteSchema),
    aliases: z.record(z.string(), z.string()),
    prices: z.record(z.string(), PricingSchema),
    catalog_sync_url: z.string().url(),
    upstream: z
      .object({
        first_byte_timeout_ms: z.number().int().positive(),
        total_timeout_ms: z.number().int().positive(),
        stream_idle_timeout_ms: z.number().int().positive(),
        max_attempts: z.number().int().min(1).max(10),
      })
      .partial(),
    stream_heartbeat_ms: z.number().int().positive(),
    request_log: z
      .object({
        batch_size: z.number().int().positive(),
        flush_interval_ms: z.number().int().positive(),
        max_queue: z.number().int().positive(),
      })
      .partial(),
    mock_latency_ms: z.number().int().min(0),
  })
  .partial()
  .strict();
export type FileConfig = z.infer<typeof FileConfigSchema>;

/** The resolved configuration every module receives. */
export const ConfigSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  dataDir: z.string().default('./data'),
  /** Unset: embedded PGlite under dataDir. `memory://`: embedded, in memory (tests). */
  databaseUrl: z.string().optional(),
  redisUrl: z.string().optional(),
  adminApiKey: z.string().min(16, 'must be at least 16 characters').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
  providers: z.array(ProviderConfigSchema).default([]),
  models: z.array(ModelRouteSchema).default([]),
  aliases: z.record(z.string(), z.string()).default({}),
  prices: z.record(z.string(), PricingSchema).default({}),
  catalogSyncUrl: z.string().url().optional(),
  upstream: z
    .object({
      firstByteTimeoutMs: z.number().int().positive().default(120_000),
      totalTimeoutMs: z.number().int().positive().default(600_000),
      streamIdleTimeoutMs: z.number().int().positive().default(120_000),
      maxAttempts: z.number().int().min(1).max(10).default(3),
    })
    .prefault({}),
  streamHeartbeatMs: z.number().int().positive().default(15_000),
  requestLog: z
    .object({
      batchSize: z.number().int().positive().default(500),
      flushIntervalMs: z.number().int().positive().default(250),
      maxQueue: z.number().int().positive().default(50_000),
    })
    .prefault({}),
  mockLatencyMs: z.number().int().min(0).default(0),
  /** Environment variables, for provider keys and base URLs (`<ID>_API_KEY`, `<ID>_BASE_URL`). */
  env: z.record(z.string(), z.string().optional()).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
