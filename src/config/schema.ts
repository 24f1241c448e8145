import { isIP } from 'node:net';
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

/** One trusted proxy entry as fastify's trustProxy (proxy-addr) takes it: an address, a CIDR or a named range. */
function isTrustedProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [addr, bits, ...rest] = entry.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * Which hops may set X-Forwarded-For: `true` trusts the whole chain (the left-most address wins, which a
 * client can forge unless the proxy overwrites the header), a number trusts that many hops from this
 * server, a list (or comma-separated string) trusts only proxies at those addresses/CIDRs. 0 = false.
 */
export const TrustProxySchema = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v),
  z.union([
    z.boolean(),
    z
      .number()
      .int()
      .min(0)
      .max(64)
      .transform((n) => (n === 0 ? false : n)),
    z.array(z.string().refine(isTrustedProxyEntry, 'must be an IP address, a CIDR such as 10.0.0.0/8, or loopback|linklocal|uniquelocal')).min(1),
  ]),
);

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
  /**
   * OpenAI wire format: send the output limit as `max_completion_tokens` instead of `max_tokens` (reasoning
   * models require it, e.g. o-series and gpt-5 deployments on Azure). Default: the preset's (on for `openai`).
   */
  max_completion_tokens: z.boolean().optional(),
  /** AWS region and credentials for Bedrock (SigV4), or `api_key` for a Bedrock API key. */
  region: z.string().optional(),
  access_key_id: z.string().optional(),
  secret_access_key: z.string().optional(),
  session_token: z.string().optional(),
  enabled: z.boolean().optional(),
  /** Per-attempt timeout until the first upstream byte, in ms. */
  timeout_ms: z.number().int().positive().optional(),
  /** Longest silence inside a stream, ms. */
  stream_idle_timeout_ms: z.number().int().positive().optional(),
  /** TCP/TLS connect timeout, ms. */
  connect_timeout_ms: z.number().int().positive().optional(),
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
  /** Per-model timeouts, ms (override the provider's and the global ones). */
  timeouts: z
    .object({
      connect_ms: z.number().int().positive(),
      first_byte_ms: z.number().int().positive(),
      stream_idle_ms: z.number().int().positive(),
      total_ms: z.number().int().positive(),
    })
    .partial()
    .strict()
    .optional(),
});
export type ModelRouteInput = z.infer<typeof ModelRouteSchema>;

const usd6 = (max: number) =>
  z
    .number()
    .min(0)
    .max(max)
    .refine((v) => Math.round(v * 1e6) / 1e6 === v, 'must have at most 6 decimals');
/** One plan's settings (config file `plans.<tier>`); anything left out keeps the built-in default. */
export const PlanConfigSchema = z
  .object({
    name: z.string().min(1).max(100),
    price_usd: usd6(1_000_000),
    rpm: z.number().int().positive().max(1_000_000),
    monthly_credit_usd: usd6(1_000_000),
    stripe_price_id: z.string().min(1).max(255),
    features: z
      .object({ agents: z.boolean(), batch: z.boolean(), providers: z.array(z.string().min(1).max(100)).max(200), sso: z.boolean() })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
export const PlansConfigSchema = z.object({ free: PlanConfigSchema, pro: PlanConfigSchema, power: PlanConfigSchema, team: PlanConfigSchema }).partial().strict();
export type PlansConfig = z.infer<typeof PlansConfigSchema>;

/** Task routers (`router:code[:mode]`, `router:auto`): the config file's `routers:` replaces parts of src/gateway/routers/code-tiers.json. */
const routerModelId = z.string().min(1).max(200);
const routerTierId = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "-" and "_" only').max(40);
const RouterModelSchema = z
  .object({ id: routerModelId, score: z.number().min(0).max(100), strengths: z.array(z.string().max(40)).max(20).optional(), tools: z.boolean().optional() })
  .strict();
const RouterModeSchema = z
  .object({ description: z.string().max(500), tiers: z.object({ low: routerTierId, medium: routerTierId, high: routerTierId }).strict(), price_weight: z.number().min(0).max(10), require_tools: z.boolean() })
  .partial()
  .strict();
export const RoutersConfigSchema = z
  .object({
    /** Strongest first. */
    tiers: z.array(z.object({ id: routerTierId, description: z.string().max(500).optional(), models: z.array(RouterModelSchema).max(100) }).strict()).min(1).max(20),
    modes: z.object({ balanced: RouterModeSchema, price: RouterModeSchema, quality: RouterModeSchema, agentic: RouterModeSchema }).partial().strict(),
    category_min_tier: z.record(z.string().max(40), routerTierId),
    baseline: routerModelId,
    fallback: routerModelId,
    default_output_tokens: z.number().int().positive().max(1_000_000),
    auto: z
      .object({
        cheap: z.array(routerModelId).min(1).max(50),
        strong: z.array(routerModelId).min(1).max(50),
        strong_complexity: z.enum(['medium', 'high']),
        code_is_strong: z.boolean(),
        strong_min_tokens: z.number().int().positive(),
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
export type RoutersConfig = z.infer<typeof RoutersConfigSchema>;

/** The config file (SWITCHYARD_CONFIG): everything optional, merged over the environment. */
export const FileConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535),
    host: z.string(),
    data_dir: z.string(),
    database_url: z.string(),
    redis_url: z.string(),
    redis_startup_timeout_ms: z.number().int().min(100).max(600_000),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    max_body_bytes: z.number().int().positive(),
    accept_handles: z.number().int().min(1).max(64),
    memory_trim_interval_s: z.number().int().min(0).max(3600),
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
        connect_timeout_ms: z.number().int().positive(),
      })
      .partial(),
    stream_heartbeat_ms: z.number().int().positive(),
    /** Circuit breakers (env BREAKER_* wins). */
    breakers: z
      .object({
        window_ms: z.number().int().positive(),
        min_requests: z.number().int().positive(),
        failure_rate: z.number().gt(0).max(1),
        open_ms: z.number().int().positive(),
        max_open_ms: z.number().int().positive(),
        half_open_probes: z.number().int().positive(),
      })
      .partial()
      .strict(),
    request_log: z
      .object({
        batch_size: z.number().int().positive(),
        flush_interval_ms: z.number().int().positive(),
        max_queue: z.number().int().positive(),
        retention_days: z.number().int().min(0).max(3650),
      })
      .partial(),
    mock_latency_ms: z.number().int().min(0),
    anonymous: z.object({ enabled: z.boolean(), models: z.array(z.string()), rpm: z.number().int().positive() }).partial().strict(),
    protected_domains: z.array(z.string()),
    trial: z.object({ days: z.number().int().min(0), credit_usd: z.number().min(0) }).partial().strict(),
    plans: PlansConfigSchema,
    routers: RoutersConfigSchema,
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
  /** How long `serve` waits at start-up for Redis to answer before it stops (exit 1). */
  redisStartupTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  adminApiKey: z.string().min(16, 'must be at least 16 characters').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
  /** Handles accepting on the listening socket (http/accept-handles.ts): connections taken per event-loop turn. */
  acceptHandles: z.number().int().min(1).max(64).default(16),
  /** Seconds between returns of malloc's free arena pages to the kernel (http/memory-trim.ts); 0 turns them off. */
  memoryTrimIntervalS: z.number().int().min(0).max(3600).default(30),
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
      connectTimeoutMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  streamHeartbeatMs: z.number().int().positive().default(15_000),
  requestLog: z
    .object({
      batchSize: z.number().int().positive().default(500),
      flushIntervalMs: z.number().int().positive().default(250),
      maxQueue: z.number().int().positive().default(50_000),
      /** Days of request-log rows (and client analytics events) to keep; 0 keeps them forever. */
      retentionDays: z.number().int().min(0).max(3650).default(30),
    })
    .prefault({}),
  /** Prometheus metrics. */
  metrics: z
    .object({
      /** Distinct `model` label values per provider; further models (local providers accept any name) are labelled "other". */
      maxModelsPerProvider: z.number().int().positive().default(200),
    })
    .prefault({}),
  /** Deployment health (from recent request outcomes) and the incidents derived from it. */
  health: z
    .object({
      /** Sliding window of outcomes a deployment's status is computed from. */
      windowMs: z.number().int().min(100).default(60_000),
      /** Fewer outcomes than this in the window: status "unknown", never "down". */
      minRequests: z.number().int().positive().default(3),
      /** A deployment down this long opens an incident. */
      incidentOpenAfterMs: z.number().int().min(0).default(60_000),
    })
    .prefault({}),
  /** OpenTelemetry tracing (off by default): spans around upstream calls. */
  tracing: z
    .object({
      enabled: z.boolean().default(false),
      /** OTLP/HTTP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); setting it turns tracing on. */
      endpoint: z.string().url().optional(),
    })
    .prefault({}),
  mockLatencyMs: z.number().int().min(0).default(0),
  /** Behind a reverse proxy: which hops' X-Forwarded-For to trust for the client IP (see TrustProxySchema). */
  trustProxy: TrustProxySchema.default(false),
  /** HS256 secret for access tokens; generated and persisted when unset. */
  jwtSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  accessTokenTtlSeconds: z.number().int().min(60).max(86_400).default(900),
  refreshTokenTtlDays: z.number().int().min(1).max(365).default(30),
  passwordResetTtlMinutes: z.number().int().min(5).max(10_080).default(60),
  allowRegistration: z.boolean().default(true),
  /** SMTP for account mail (password resets, invitations); unset: mail goes to the log. */
  smtpUrl: z.string().optional(),
  mailFrom: z.string().default('Switchyard <no-reply@localhost>'),
  /** Base URL of the web console, used in links inside mails. */
  publicUrl: z.string().url().optional(),
  trial: z.object({ days: z.number().int().min(0).default(0), creditUsd: z.number().min(0).default(0) }).prefault({}),
  /** Plan overrides (config file `plans:`), merged over the built-in defaults of src/domain/plans. */
  plans: PlansConfigSchema.default({}),
  /** Task router overrides (config file `routers:`), merged over src/gateway/routers/code-tiers.json. */
  routers: RoutersConfigSchema.default({}),
  /** Stripe billing. Without stripeSecretKey the billing API runs in stub mode (no payments, labelled "stub"). */
  billing: z
    .object({
      stripeSecretKey: z.string().min(1).optional(),
      /** Verifies webhook signatures (`whsec_...`); unset: the webhook route answers 503. */
      stripeWebhookSecret: z.string().min(1).optional(),
      /** Stripe API origin for tests and proxies, e.g. http://127.0.0.1:12111 (default https://api.stripe.com). */
      stripeApiBase: z.string().url().optional(),
      stripePricePro: z.string().min(1).optional(),
      stripePricePower: z.string().min(1).optional(),
      stripePriceTeam: z.string().min(1).optional(),
      /** Where Checkout sends the browser after payment / on cancel (default: PUBLIC_URL or the request's origin). */
      successUrl: z.string().url().optional(),
      cancelUrl: z.string().url().optional(),
    })
    .prefault({}),
  anonymous: z
    .object({ enabled: z.boolean().default(false), models: z.array(z.string()).default([]), rpm: z.number().int().positive().default(10) })
    .prefault({}),
  /** Circuit breakers per deployment (see src/gateway/breakers.ts). */
  breakers: z
    .object({
      windowMs: z.number().int().positive().default(30_000),
      minRequests: z.number().int().positive().default(5),
      failureRate: z.number().gt(0).max(1).default(0.5),
      openMs: z.number().int().positive().default(10_000),
      maxOpenMs: z.number().int().positive().default(300_000),
      halfOpenProbes: z.number().int().positive().default(1),
    })
    .prefault({}),
  /** Global cap on in-flight inference (a stream holds a slot until it ends), with a bounded wait queue. */
  gate: z
    .object({
      maxInFlight: z.number().int().positive().default(4096),
      maxQueue: z.number().int().min(0).default(4096),
      queueTimeoutMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  credits: z
    .object({
      /**
       * prepaid: reserve at admission (402 when short), charge exactly after; postpaid: no admission check,
       * charges still recorded (balances may go negative: what is owed); off: no credit accounting.
       */
      mode: z.enum(['prepaid', 'postpaid', 'off']).default('prepaid'),
      /** Largest single admin grant, USD. */
      maxGrantUsd: z.number().positive().default(1000),
      /** Most one admin may grant in any rolling 24 hours, USD. */
      dailyGrantLimitUsd: z.number().positive().default(10_000),
      /** Output tokens reserved at admission when a request sets no max_tokens. */
      reserveOutputTokens: z.number().int().positive().default(4096),
      /**
       * Charges written to the ledger per batch (one transaction); the batch's ids travel as array parameters,
       * so the cap keeps a backlog's catch-up from building one huge statement.
       */
      chargeBatchSize: z.number().int().positive().max(10_000).default(500),
      /** How long a charge may wait for its batch to fill, in ms; queued charges are written on graceful shutdown. */
      chargeFlushIntervalMs: z.number().int().positive().max(3_600_000).default(200),
    })
    .prefault({}),
  /** Email domains that bulk deletion by domain refuses to touch. */
  protectedDomains: z.array(z.string()).default([]),
  loginLimits: z
    .object({
      perIp: z.number().int().positive().default(30),
      perAccount: z.number().int().positive().default(10),
      windowSeconds: z.number().int().positive().default(900),
      /** Sign-ups per client IP per window (every attempt counts). */
      registerPerIp: z.number().int().positive().default(20),
      /** Refresh-token exchanges per client IP per window; generous: a NAT may hide many users. */
      refreshPerIp: z.number().int().positive().default(600),
    })
    .prefault({}),
  /** Environment variables, for provider keys and base URLs (`<ID>_API_KEY`, `<ID>_BASE_URL`). */
  env: z.record(z.string(), z.string().optional()).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
