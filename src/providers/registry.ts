/**
 * Resolves the providers this instance can call: built-in presets configured from the environment
 * (`<ID>_API_KEY`, `<ID>_BASE_URL`) plus providers declared or overridden in the config file.
 */
import type { Config, ProviderConfigInput, WireFormat } from '../config/schema.ts';
import type { ChatAdapter, ResolvedProvider } from './types.ts';
import { httpProviderClient, type ProviderClient } from './client.ts';
import { presetById, PRESETS, type ProviderPreset } from './presets.ts';
import { openaiAdapter } from './openai/index.ts';
import { anthropicAdapter } from './anthropic/index.ts';
import { geminiAdapter } from './gemini/index.ts';
import { bedrockAdapter } from './bedrock/index.ts';
import { mockClient } from './mock/index.ts';

const ADAPTERS: Record<Exclude<WireFormat, 'mock'>, ChatAdapter> = {
  openai: openaiAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  bedrock: bedrockAdapter,
};

export interface ProviderEntry {
  provider: ResolvedProvider;
  name: string;
  client: ProviderClient;
  enabled: boolean;
  /** Why a provider is disabled, for error messages and /info. */
  disabledReason?: string;
  /** Declared in the config file (custom endpoints may serve models missing from the catalog). */
  declared: boolean;
  /** A local server (Ollama, vLLM, ...) or offline provider: models need no catalog entry. */
  local: boolean;
}

export interface ProviderRegistry {
  get(id: string): ProviderEntry | undefined;
  all(): ProviderEntry[];
  enabled(): ProviderEntry[];
}

const envName = (id: string, suffix: string) => `${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${suffix}`;

/** `${NAME}` in config values reads the environment, so keys need not live in the file. */
function interpolate(value: string | undefined, env: Config['env']): string | undefined {
  if (value === undefined) return undefined;
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

function resolveOne(id: string, preset: ProviderPreset | undefined, file: ProviderConfigInput | undefined, config: Config, clients: Map<WireFormat, ProviderClient>): ProviderEntry {
  const env = config.env;
  const type: WireFormat = file?.type ?? preset?.type ?? 'openai';
  const envKey = env[envName(id, 'API_KEY')] || undefined;
  const envBase = env[envName(id, 'BASE_URL')] || undefined;
  const apiKey = interpolate(file?.api_key, env) || envKey;
  let baseUrl = file?.base_url ?? envBase ?? preset?.baseUrl ?? '';
  const region = file?.region ?? env[envName(id, 'REGION')] ?? (type === 'bedrock' ? (env.AWS_REGION ?? 'us-east-1') : undefined);
  const accessKeyId = interpolate(file?.access_key_id, env) ?? (type === 'bedrock' ? env.AWS_ACCESS_KEY_ID : undefined);
  const secretAccessKey = interpolate(file?.secret_access_key, env) ?? (type === 'bedrock' ? env.AWS_SECRET_ACCESS_KEY : undefined);
  const sessionToken = interpolate(file?.session_token, env) ?? (type === 'bedrock' ? env.AWS_SESSION_TOKEN : undefined);
  if (type === 'bedrock' && !baseUrl) baseUrl = `https://bedrock-runtime.${region}.amazonaws.com`;
  baseUrl = trimSlash(baseUrl);

  // A provider without a preset is a custom endpoint (vLLM, LM Studio, a proxy): it may need no key and may
  // serve any model. One derived from a cloud preset keeps the preset's rules: a key, and catalog models only.
  const custom = !preset;
  const local = custom || Boolean(preset?.local || preset?.builtin || type === 'mock');
  const hasCredentials = type === 'bedrock' ? Boolean(apiKey || (accessKeyId && secretAccessKey)) : Boolean(apiKey);
  let enabled: boolean;
  if (preset?.builtin) enabled = true;
  else if (custom) enabled = Boolean(baseUrl);
  else if (preset?.local) enabled = Boolean(file?.base_url ?? envBase);
  else enabled = hasCredentials && Boolean(baseUrl);
  if (file?.enabled === false) enabled = false;
  else if (file?.enabled === true && baseUrl && (local || hasCredentials)) enabled = true;
  let disabledReason: string | undefined;
  if (!enabled) {
    disabledReason =
      file?.enabled === false
        ? 'disabled in the config file'
        : preset?.local
          ? `set ${envName(id, 'BASE_URL')} to enable it`
          : !baseUrl
            ? `set ${envName(id, 'BASE_URL')}${hasCredentials ? '' : ` and ${envName(id, 'API_KEY')}`} to enable it`
            : type === 'bedrock'
              ? `set ${envName(id, 'API_KEY')} or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to enable it`
              : `set ${envName(id, 'API_KEY')} to enable it`;
  }

  const provider: ResolvedProvider = {
    id,
    type,
    preset: preset?.id,
    baseUrl,
    apiKey,
    headers: Object.fromEntries(Object.entries(file?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), interpolate(v, env) ?? ''])),
    apiVersion: file?.api_version ?? env[envName(id, 'API_VERSION')],
    region,
    accessKeyId,
    secretAccessKey,
    sessionToken,
    timeoutMs: file?.timeout_ms,
    idleTimeoutMs: file?.stream_idle_timeout_ms,
    connectTimeoutMs: file?.connect_timeout_ms,
    streamUsageOption: preset?.streamUsageOption ?? true,
    maxCompletionTokens: file?.max_completion_tokens ?? preset?.maxCompletionTokens ?? false,
  };
  let client = clients.get(type);
  if (!client) {
    client = type === 'mock' ? mockClient(() => config.mockLatencyMs) : httpProviderClient(ADAPTERS[type]);
    clients.set(type, client);
  }
  return { provider, name: preset && preset.id === id ? preset.name : id, client, enabled, disabledReason, declared: Boolean(file), local };
}

export function buildProviderRegistry(config: Config): ProviderRegistry {
  const clients = new Map<WireFormat, ProviderClient>();
  const entries = new Map<string, ProviderEntry>();
  const declared = new Map(config.providers.map((p) => [p.id, p]));
  for (const preset of PRESETS) entries.set(preset.id, resolveOne(preset.id, preset, declared.get(preset.id), config, clients));
  for (const file of config.providers) {
    if (presetById.has(file.id)) continue;
    const preset = file.preset ? presetById.get(file.preset) : undefined;
    if (file.preset && !preset) throw new Error(`providers.${file.id}: unknown preset "${file.preset}"`);
    const entry = resolveOne(file.id, preset, file, config, clients);
    if (!entry.provider.baseUrl) throw new Error(`providers.${file.id}: base_url is required for a custom provider`);
    entries.set(file.id, entry);
  }
  const all = [...entries.values()];
  return {
    get: (id) => entries.get(id),
    all: () => all,
    enabled: () => all.filter((e) => e.enabled),
  };
}
