/**
 * Built-in providers. Each reads `<ID>_API_KEY` and `<ID>_BASE_URL` from the environment and is enabled when
 * its key is set (local ones: when their base URL is set). The config file can override any field or
 * declare new providers of any wire format.
 */
import type { WireFormat } from '../config/schema.ts';

export interface ProviderPreset {
  id: string;
  type: WireFormat;
  /** Human name for /info and the console. */
  name: string;
  baseUrl: string;
  /** Enabled by its base URL alone (no key needed): local servers. */
  local?: boolean;
  /** Always enabled (offline providers). */
  builtin?: boolean;
  /** OpenAI wire: ask for usage in streams with `stream_options.include_usage`. */
  streamUsageOption?: boolean;
  /**
   * OpenAI wire: send an output limit as `max_completion_tokens` (OpenAI's reasoning models refuse `max_tokens`;
   * every OpenAI model takes the newer field). Other OpenAI-compatible servers keep `max_tokens`.
   */
  maxCompletionTokens?: boolean;
}

export const PRESETS: readonly ProviderPreset[] = [
  { id: 'openai', type: 'openai', name: 'OpenAI', baseUrl: 'https://api.openai.com/v1', maxCompletionTokens: true },
  // Azure's base URL is the resource endpoint, e.g. https://my-resource.openai.azure.com
  { id: 'azure', type: 'openai', name: 'Azure OpenAI', baseUrl: '' },
  { id: 'openrouter', type: 'openai', name: 'OpenRouter', baseUrl: 'https://openrouter.ai/api/v1' },
  { id: 'groq', type: 'openai', name: 'Groq', baseUrl: 'https://api.groq.com/openai/v1' },
  { id: 'together', type: 'openai', name: 'Together AI', baseUrl: 'https://api.together.xyz/v1' },
  { id: 'fireworks', type: 'openai', name: 'Fireworks AI', baseUrl: 'https://api.fireworks.ai/inference/v1' },
  { id: 'deepinfra', type: 'openai', name: 'DeepInfra', baseUrl: 'https://api.deepinfra.com/v1/openai' },
  { id: 'cerebras', type: 'openai', name: 'Cerebras', baseUrl: 'https://api.cerebras.ai/v1' },
  { id: 'mistral', type: 'openai', name: 'Mistral AI', baseUrl: 'https://api.mistral.ai/v1', streamUsageOption: false },
  { id: 'xai', type: 'openai', name: 'xAI', baseUrl: 'https://api.x.ai/v1' },
  { id: 'deepseek', type: 'openai', name: 'DeepSeek', baseUrl: 'https://api.deepseek.com/v1' },
  { id: 'perplexity', type: 'openai', name: 'Perplexity', baseUrl: 'https://api.perplexity.ai', streamUsageOption: false },
  { id: 'featherless', type: 'openai', name: 'Featherless', baseUrl: 'https://api.featherless.ai/v1' },
  { id: 'chutes', type: 'openai', name: 'Chutes', baseUrl: 'https://llm.chutes.ai/v1' },
  { id: 'ollama', type: 'openai', name: 'Ollama', baseUrl: 'http://127.0.0.1:11434/v1', local: true },
  { id: 'anthropic', type: 'anthropic', name: 'Anthropic', baseUrl: 'https://api.anthropic.com' },
  { id: 'gemini', type: 'gemini', name: 'Google Gemini', baseUrl: 'https://generativelanguage.googleapis.com/v1beta' },
  // Bedrock's base URL is derived from the region (BEDROCK_REGION, AWS_REGION) unless BEDROCK_BASE_URL is set.
  { id: 'bedrock', type: 'bedrock', name: 'AWS Bedrock', baseUrl: '' },
  { id: 'mock', type: 'mock', name: 'Mock (offline)', baseUrl: 'mock://local', builtin: true },
];

export const presetById = new Map(PRESETS.map((p) => [p.id, p]));
