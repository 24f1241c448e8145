import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigSchema, FileConfigSchema, type Config, type ConfigInput, type FileConfig } from './schema.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Environment variables read into top-level config fields, with the field each one sets. */
const ENV_FIELDS = {
  PORT: { field: 'port', kind: 'int' },
  HOST: { field: 'host', kind: 'string' },
  DATA_DIR: { field: 'dataDir', kind: 'string' },
  DATABASE_URL: { field: 'databaseUrl', kind: 'string' },
  REDIS_URL: { field: 'redisUrl', kind: 'string' },
  REDIS_STARTUP_TIMEOUT_MS: { field: 'redisStartupTimeoutMs', kind: 'int' },
  ADMIN_API_KEY: { field: 'adminApiKey', kind: 'string' },
  LOG_LEVEL: { field: 'logLevel', kind: 'string' },
  MAX_BODY_BYTES: { field: 'maxBodyBytes', kind: 'int' },
  ACCEPT_HANDLES: { field: 'acceptHandles', kind: 'int' },
  MEMORY_TRIM_INTERVAL_S: { field: 'memoryTrimIntervalS', kind: 'int' },
  CATALOG_SYNC_URL: { field: 'catalogSyncUrl', kind: 'string' },
  STREAM_HEARTBEAT_MS: { field: 'streamHeartbeatMs', kind: 'int' },
  MOCK_LATENCY_MS: { field: 'mockLatencyMs', kind: 'int' },
  TRUST_PROXY: { field: 'trustProxy', kind: 'trustProxy' },
  JWT_SECRET: { field: 'jwtSecret', kind: 'string' },
  ACCESS_TOKEN_TTL_SECONDS: { field: 'accessTokenTtlSeconds', kind: 'int' },
  REFRESH_TOKEN_TTL_DAYS: { field: 'refreshTokenTtlDays', kind: 'int' },
  PASSWORD_RESET_TTL_MINUTES: { field: 'passwordResetTtlMinutes', kind: 'int' },
  ALLOW_REGISTRATION: { field: 'allowRegistration', kind: 'bool' },
  SMTP_URL: { field: 'smtpUrl', kind: 'string' },
  MAIL_FROM: { field: 'mailFrom', kind: 'string' },
  PUBLIC_URL: { field: 'publicUrl', kind: 'string' },
  PROTECTED_DOMAINS: { field: 'protectedDomains', kind: 'list' },
} as const;

const ENV_NESTED = {
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: ['upstream', 'firstByteTimeoutMs'],
  UPSTREAM_TOTAL_TIMEOUT_MS: ['upstream', 'totalTimeoutMs'],
  UPSTREAM_STREAM_IDLE_TIMEOUT_MS: ['upstream', 'streamIdleTimeoutMs'],
  UPSTREAM_MAX_ATTEMPTS: ['upstream', 'maxAttempts'],
  UPSTREAM_CONNECT_TIMEOUT_MS: ['upstream', 'connectTimeoutMs'],
  REQUEST_LOG_BATCH_SIZE: ['requestLog', 'batchSize'],
  REQUEST_LOG_FLUSH_INTERVAL_MS: ['requestLog', 'flushIntervalMs'],
  REQUEST_LOG_MAX_QUEUE: ['requestLog', 'maxQueue'],
  REQUEST_LOG_RETENTION_DAYS: ['requestLog', 'retentionDays'],
  METRICS_MAX_MODELS_PER_PROVIDER: ['metrics', 'maxModelsPerProvider'],
  HEALTH_WINDOW_MS: ['health', 'windowMs'],
  HEALTH_MIN_REQUESTS: ['health', 'minRequests'],
  INCIDENT_OPEN_AFTER_MS: ['health', 'incidentOpenAfterMs'],
} as const;

/** Nested settings that are not integers: [group, field, kind]. */
const ENV_NESTED_OTHER = {
  TRACING_ENABLED: ['tracing', 'enabled', 'bool'],
  OTEL_EXPORTER_OTLP_ENDPOINT: ['tracing', 'endpoint', 'string'],
  TRIAL_DAYS: ['trial', 'days', 'int'],
  TRIAL_CREDIT_USD: ['trial', 'creditUsd', 'number'],
  ANONYMOUS_ACCESS: ['anonymous', 'enabled', 'bool'],
  ANONYMOUS_MODELS: ['anonymous', 'models', 'list'],
  ANONYMOUS_RPM: ['anonymous', 'rpm', 'int'],
  LOGIN_MAX_FAILURES_PER_IP: ['loginLimits', 'perIp', 'int'],
  LOGIN_MAX_FAILURES_PER_ACCOUNT: ['loginLimits', 'perAccount', 'int'],
  LOGIN_FAILURE_WINDOW_SECONDS: ['loginLimits', 'windowSeconds', 'int'],
  REGISTER_MAX_PER_IP: ['loginLimits', 'registerPerIp', 'int'],
  REFRESH_MAX_PER_IP: ['loginLimits', 'refreshPerIp', 'int'],
  CREDITS_MODE: ['credits', 'mode', 'string'],
  INFERENCE_MAX_IN_FLIGHT: ['gate', 'maxInFlight', 'int'],
  BREAKER_WINDOW_MS: ['breakers', 'windowMs', 'int'],
  BREAKER_MIN_REQUESTS: ['breakers', 'minRequests', 'int'],
  BREAKER_FAILURE_RATE: ['breakers', 'failureRate', 'number'],
  BREAKER_OPEN_MS: ['breakers', 'openMs', 'int'],
  BREAKER_MAX_OPEN_MS: ['breakers', 'maxOpenMs', 'int'],
  BREAKER_HALF_OPEN_PROBES: ['breakers', 'halfOpenProbes', 'int'],
  INFERENCE_MAX_QUEUE: ['gate', 'maxQueue', 'int'],
  INFERENCE_QUEUE_TIMEOUT_MS: ['gate', 'queueTimeoutMs', 'int'],
  ADMIN_MAX_CREDIT_GRANT: ['credits', 'maxGrantUsd', 'number'],
  ADMIN_DAILY_GRANT_LIMIT: ['credits', 'dailyGrantLimitUsd', 'number'],
  RESERVE_OUTPUT_TOKENS: ['credits', 'reserveOutputTokens', 'int'],
  CHARGE_BATCH_SIZE: ['credits', 'chargeBatchSize', 'int'],
  CHARGE_FLUSH_INTERVAL_MS: ['credits', 'chargeFlushIntervalMs', 'int'],
  STRIPE_SECRET_KEY: ['billing', 'stripeSecretKey', 'string'],
  STRIPE_WEBHOOK_SECRET: ['billing', 'stripeWebhookSecret', 'string'],
  STRIPE_API_BASE: ['billing', 'stripeApiBase', 'string'],
  STRIPE_PRICE_PRO: ['billing', 'stripePricePro', 'string'],
  STRIPE_PRICE_POWER: ['billing', 'stripePricePower', 'string'],
  STRIPE_PRICE_TEAM: ['billing', 'stripePriceTeam', 'string'],
  BILLING_SUCCESS_URL: ['billing', 'successUrl', 'string'],
  BILLING_CANCEL_URL: ['billing', 'cancelUrl', 'string'],
} as const;

type EnvKind = 'int' | 'string' | 'bool' | 'list' | 'number' | 'trustProxy';

function envValue(name: string, raw: string, kind: EnvKind): unknown {
  switch (kind) {
    case 'int':
      return envInt(name, raw);
    case 'number':
      if (!/^\d+(\.\d+)?$/.test(raw.trim())) throw new ConfigError(`${name}: expected a number, got "${raw}"`);
      return Number(raw);
    case 'bool':
      return envBool(name, raw);
    case 'list':
      return raw.split(',').map((x) => x.trim()).filter(Boolean);
    case 'trustProxy':
      return envTrustProxy(raw);
    default:
      return raw;
  }
}

function envBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
}

/** true|false, a hop count (digits; 1 used to mean true and now means one hop), or addresses/CIDRs. */
function envTrustProxy(raw: string): unknown {
  const v = raw.trim().toLowerCase();
  if (['true', 'yes', 'on'].includes(v)) return true;
  if (['false', 'no', 'off'].includes(v)) return false;
  if (/^\d+$/.test(v)) return Number(v);
  return raw;
}

function envInt(name: string, raw: string): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name}: expected an integer, got "${raw}"`);
  return Number(raw);
}

function fromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [name, { field, kind }] of Object.entries(ENV_FIELDS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    out[field] = envValue(name, raw, kind);
  }
  for (const [name, [group, field]] of Object.entries(ENV_NESTED)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    (out[group] ??= {})[field] = envInt(name, raw);
  }
  for (const [name, [group, field, kind]] of Object.entries(ENV_NESTED_OTHER)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    (out[group] ??= {})[field] = envValue(name, raw, kind);
  }
  return out;
}

function readConfigFile(path: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`SWITCHYARD_CONFIG: cannot read ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`SWITCHYARD_CONFIG: ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  const parsed = FileConfigSchema.safeParse(data ?? {});
  if (!parsed.success) throw new ConfigError(`${path}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

function fileToConfigInput(file: FileConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {
    port: file.port,
    host: file.host,
    dataDir: file.data_dir,
    databaseUrl: file.database_url,
    redisUrl: file.redis_url,
    redisStartupTimeoutMs: file.redis_startup_timeout_ms,
    logLevel: file.log_level,
    maxBodyBytes: file.max_body_bytes,
    acceptHandles: file.accept_handles,
    memoryTrimIntervalS: file.memory_trim_interval_s,
    providers: file.providers,
    models: file.models,
    aliases: file.aliases,
    prices: file.prices,
    catalogSyncUrl: file.catalog_sync_url,
    streamHeartbeatMs: file.stream_heartbeat_ms,
    mockLatencyMs: file.mock_latency_ms,
    anonymous: file.anonymous,
    protectedDomains: file.protected_domains,
    trial: file.trial ? { days: file.trial.days, creditUsd: file.trial.credit_usd } : undefined,
    plans: file.plans,
    routers: file.routers,
  };
  if (file.upstream) {
    out.upstream = {
      firstByteTimeoutMs: file.upstream.first_byte_timeout_ms,
      totalTimeoutMs: file.upstream.total_timeout_ms,
      streamIdleTimeoutMs: file.upstream.stream_idle_timeout_ms,
      maxAttempts: file.upstream.max_attempts,
      connectTimeoutMs: file.upstream.connect_timeout_ms,
    };
  }
  if (file.breakers) {
    out.breakers = {
      windowMs: file.breakers.window_ms,
      minRequests: file.breakers.min_requests,
      failureRate: file.breakers.failure_rate,
      openMs: file.breakers.open_ms,
      maxOpenMs: file.breakers.max_open_ms,
      halfOpenProbes: file.breakers.half_open_probes,
    };
  }
  if (file.request_log) {
    out.requestLog = {
      batchSize: file.request_log.batch_size,
      flushIntervalMs: file.request_log.flush_interval_ms,
      maxQueue: file.request_log.max_queue,
      retentionDays: file.request_log.retention_days,
    };
  }
  return stripUndefined(out);
}

function stripUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? stripUndefined(v as Record<string, unknown>) : v;
  }
  return out;
}

/** Field path -> environment variable that set it, so errors name what the operator typed. */
function envNames(env: Record<string, string | undefined>): Map<string, string> {
  const names = new Map<string, string>();
  for (const [name, { field }] of Object.entries(ENV_FIELDS)) if (env[name]) names.set(field, name);
  for (const [name, path] of Object.entries(ENV_NESTED)) if (env[name]) names.set(path.slice(0, 2).join('.'), name);
  for (const [name, [group, field]] of Object.entries(ENV_NESTED_OTHER)) if (env[name]) names.set(`${group}.${field}`, name);
  return names;
}

export function describeIssues(error: z.ZodError, names = new Map<string, string>()): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '(root)';
      // The variable that set this value or the one enclosing it (TRUST_PROXY sets trustProxy.0, .1, ...).
      let env: string | undefined;
      for (let n = i.path.length; n > 0 && !env; n--) env = names.get(i.path.slice(0, n).join('.'));
      return `${env ? `${env} (${path})` : path}: ${i.message}`;
    })
    .join('; ');
}

function merge(base: Record<string, any>, over: Record<string, any>): Record<string, any> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? merge(base[k], v) : v;
  }
  return out;
}

/**
 * Builds the one validated Config from the environment, the optional config file and explicit overrides
 * (tests pass overrides). Precedence: overrides > environment > file > defaults.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<ConfigInput> = {}): Config {
  const file = env.SWITCHYARD_CONFIG ? fileToConfigInput(readConfigFile(env.SWITCHYARD_CONFIG)) : {};
  const input = merge(merge(file, fromEnv(env)), stripUndefined({ ...overrides, env: undefined }));
  input.env = { ...env, ...(overrides.env ?? {}) };
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${describeIssues(parsed.error, envNames(env))}`);
  return parsed.data;
}
