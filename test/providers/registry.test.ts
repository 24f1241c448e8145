import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildProviderRegistry, type ProviderEntry } from '../../src/providers/registry.ts';
import { PRESETS } from '../../src/providers/presets.ts';

const registry = (env: Record<string, string> = {}, overrides: Partial<ConfigInput> = {}) => buildProviderRegistry(loadConfig(env, overrides));
const get = (reg: ReturnType<typeof registry>, id: string): ProviderEntry => {
  const entry = reg.get(id);
  assert.ok(entry, `provider ${id} is registered`);
  return entry;
};

describe('provider presets from the environment', () => {
  it('registers every preset, and only mock is enabled with an empty environment', () => {
    const reg = registry();
    assert.deepEqual(
      reg.all().map((e) => e.provider.id),
      PRESETS.map((p) => p.id),
    );
    assert.deepEqual(
      reg.enabled().map((e) => e.provider.id),
      ['mock'],
    );
  });

  it('explains how to enable each disabled preset, naming its environment variable', () => {
    const reg = registry();
    assert.equal(get(reg, 'openai').disabledReason, 'set OPENAI_API_KEY to enable it');
    assert.equal(get(reg, 'anthropic').disabledReason, 'set ANTHROPIC_API_KEY to enable it');
    assert.equal(get(reg, 'openrouter').disabledReason, 'set OPENROUTER_API_KEY to enable it');
    assert.equal(get(reg, 'ollama').disabledReason, 'set OLLAMA_BASE_URL to enable it');
    assert.equal(get(reg, 'azure').disabledReason, 'set AZURE_BASE_URL and AZURE_API_KEY to enable it');
    assert.match(get(reg, 'bedrock').disabledReason!, /BEDROCK_API_KEY or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    for (const e of reg.all()) {
      if (e.provider.id === 'mock') continue;
      assert.equal(e.enabled, false, e.provider.id);
      assert.match(e.disabledReason!, new RegExp(`${e.provider.id.toUpperCase()}_(API_KEY|BASE_URL)`), e.provider.id);
    }
  });

  it('enables openai with OPENAI_API_KEY, at the preset URL', () => {
    const e = get(registry({ OPENAI_API_KEY: 'sk-live-1' }), 'openai');
    assert.equal(e.enabled, true);
    assert.equal(e.disabledReason, undefined);
    assert.equal(e.provider.apiKey, 'sk-live-1');
    assert.equal(e.provider.baseUrl, 'https://api.openai.com/v1');
    assert.equal(e.provider.type, 'openai');
    assert.equal(e.provider.preset, 'openai');
    assert.equal(e.provider.streamUsageOption, true);
    assert.equal(e.provider.maxCompletionTokens, true);
    assert.equal(e.name, 'OpenAI');
    assert.equal(e.local, false);
    assert.equal(e.declared, false);
  });

  it('takes <ID>_BASE_URL over the preset URL and trims trailing slashes', () => {
    const e = get(registry({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'http://proxy.internal:8080/v1//' }), 'openai');
    assert.equal(e.provider.baseUrl, 'http://proxy.internal:8080/v1');
  });

  it('keeps the preset stream-usage quirk', () => {
    assert.equal(get(registry({ MISTRAL_API_KEY: 'k' }), 'mistral').provider.streamUsageOption, false);
    assert.equal(get(registry({ MISTRAL_API_KEY: 'k' }), 'mistral').provider.maxCompletionTokens, false);
  });

  it('enables ollama by OLLAMA_BASE_URL alone, as a local provider', () => {
    const e = get(registry({ OLLAMA_BASE_URL: 'http://gpu-box:11434/v1' }), 'ollama');
    assert.equal(e.enabled, true);
    assert.equal(e.provider.apiKey, undefined);
    assert.equal(e.provider.baseUrl, 'http://gpu-box:11434/v1');
    assert.equal(e.local, true);
  });

  it('does not enable ollama by a key alone', () => {
    assert.equal(get(registry({ OLLAMA_API_KEY: 'k' }), 'ollama').enabled, false);
  });

  it('always enables mock, as a local provider', () => {
    const e = get(registry(), 'mock');
    assert.equal(e.enabled, true);
    assert.equal(e.local, true);
    assert.equal(e.provider.type, 'mock');
  });

  it('enables bedrock with AWS credentials and derives the base URL from the region', () => {
    const e = get(registry({ AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-3', AWS_SESSION_TOKEN: 'tok' }), 'bedrock');
    assert.equal(e.enabled, true);
    assert.equal(e.provider.type, 'bedrock');
    assert.equal(e.provider.region, 'eu-west-3');
    assert.equal(e.provider.baseUrl, 'https://bedrock-runtime.eu-west-3.amazonaws.com');
    assert.equal(e.provider.accessKeyId, 'AKIAEXAMPLE');
    assert.equal(e.provider.secretAccessKey, 'secret');
    assert.equal(e.provider.sessionToken, 'tok');
  });

  it('defaults the bedrock region to us-east-1 and prefers BEDROCK_REGION over AWS_REGION', () => {
    assert.equal(get(registry({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' }), 'bedrock').provider.baseUrl, 'https://bedrock-runtime.us-east-1.amazonaws.com');
    const e = get(registry({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1', BEDROCK_REGION: 'ap-northeast-1' }), 'bedrock');
    assert.equal(e.provider.baseUrl, 'https://bedrock-runtime.ap-northeast-1.amazonaws.com');
  });

  it('needs both AWS keys (or a BEDROCK_API_KEY) to enable bedrock', () => {
    assert.equal(get(registry({ AWS_ACCESS_KEY_ID: 'a' }), 'bedrock').enabled, false);
    assert.equal(get(registry({ AWS_SECRET_ACCESS_KEY: 's' }), 'bedrock').enabled, false);
    assert.equal(get(registry({ BEDROCK_API_KEY: 'bedrock-key' }), 'bedrock').enabled, true);
  });

  it('enables azure only with both its base URL and key', () => {
    assert.equal(get(registry({ AZURE_API_KEY: 'k' }), 'azure').enabled, false);
    assert.equal(get(registry({ AZURE_API_KEY: 'k' }), 'azure').disabledReason, 'set AZURE_BASE_URL to enable it');
    const e = get(registry({ AZURE_API_KEY: 'k', AZURE_BASE_URL: 'https://r.openai.azure.com', AZURE_API_VERSION: '2025-01-01-preview' }), 'azure');
    assert.equal(e.enabled, true);
    assert.equal(e.provider.preset, 'azure');
    assert.equal(e.provider.apiVersion, '2025-01-01-preview');
  });

  it('shares one client per wire format', () => {
    const reg = registry({ OPENAI_API_KEY: 'a', GROQ_API_KEY: 'b', ANTHROPIC_API_KEY: 'c' });
    assert.equal(get(reg, 'openai').client, get(reg, 'groq').client);
    assert.notEqual(get(reg, 'openai').client, get(reg, 'anthropic').client);
  });
});

describe('providers from the config file', () => {
  it('sends the output limit as max_completion_tokens when the provider says so, over its preset', () => {
    const env = { AZURE_API_KEY: 'k', AZURE_BASE_URL: 'https://r.openai.azure.com', OPENAI_API_KEY: 'k' };
    assert.equal(get(registry(env), 'azure').provider.maxCompletionTokens, false);
    assert.equal(get(registry(env, { providers: [{ id: 'azure', max_completion_tokens: true }] }), 'azure').provider.maxCompletionTokens, true);
    assert.equal(get(registry(env), 'openai').provider.maxCompletionTokens, true);
    assert.equal(get(registry(env, { providers: [{ id: 'openai', max_completion_tokens: false }] }), 'openai').provider.maxCompletionTokens, false);
  });

  it('enables a custom OpenAI-compatible provider with a base_url and no key, marked local and declared', () => {
    const reg = registry({}, { providers: [{ id: 'my-vllm', type: 'openai', base_url: 'http://10.1.2.3:8000/v1/' }] });
    const e = get(reg, 'my-vllm');
    assert.equal(e.enabled, true);
    assert.equal(e.local, true);
    assert.equal(e.declared, true);
    assert.equal(e.name, 'my-vllm');
    assert.equal(e.provider.type, 'openai');
    assert.equal(e.provider.baseUrl, 'http://10.1.2.3:8000/v1');
    assert.equal(e.provider.apiKey, undefined);
    assert.ok(reg.enabled().includes(e));
  });

  it('interpolates ${ENV} in api_key and headers, and lowercases header names', () => {
    const e = get(
      registry(
        { VAULT_KEY: 'sk-from-vault', TEAM: 'research' },
        { providers: [{ id: 'corp', base_url: 'https://llm.corp.example/v1', api_key: '${VAULT_KEY}', headers: { 'X-Team': 'team-${TEAM}', 'X-Missing': '[${NOPE}]' } }] },
      ),
      'corp',
    );
    assert.equal(e.provider.apiKey, 'sk-from-vault');
    assert.deepEqual(e.provider.headers, { 'x-team': 'team-research', 'x-missing': '[]' });
  });

  it('falls back to <ID>_API_KEY when an interpolated key is empty', () => {
    const e = get(registry({ CORP_API_KEY: 'env-key' }, { providers: [{ id: 'corp', base_url: 'https://x.example/v1', api_key: '${UNSET_VAR}' }] }), 'corp');
    assert.equal(e.provider.apiKey, 'env-key');
  });

  it('interpolates ${ENV} in a preset override and enables the preset with it', () => {
    const e = get(registry({ MY_OPENAI: 'sk-interp' }, { providers: [{ id: 'openai', api_key: '${MY_OPENAI}' }] }), 'openai');
    assert.equal(e.enabled, true);
    assert.equal(e.provider.apiKey, 'sk-interp');
    assert.equal(e.provider.baseUrl, 'https://api.openai.com/v1');
    assert.equal(e.declared, true);
    assert.equal(e.local, false);
  });

  it('disables a provider with enabled: false, whatever its credentials', () => {
    const reg = registry(
      { OPENAI_API_KEY: 'sk' },
      { providers: [{ id: 'openai', enabled: false }, { id: 'mock', enabled: false }, { id: 'lab', base_url: 'http://lab:8000/v1', enabled: false }] },
    );
    for (const id of ['openai', 'mock', 'lab']) {
      assert.equal(get(reg, id).enabled, false, id);
      assert.equal(get(reg, id).disabledReason, 'disabled in the config file', id);
    }
    assert.deepEqual(reg.enabled(), []);
  });

  it('throws for a custom provider without base_url', () => {
    assert.throws(() => registry({}, { providers: [{ id: 'nowhere', type: 'openai' }] }), /providers\.nowhere: base_url is required/);
  });

  it('takes a custom provider base URL from <ID>_BASE_URL', () => {
    const e = get(registry({ LM_STUDIO_BASE_URL: 'http://127.0.0.1:1234/v1' }, { providers: [{ id: 'lm-studio' }] }), 'lm-studio');
    assert.equal(e.enabled, true);
    assert.equal(e.provider.baseUrl, 'http://127.0.0.1:1234/v1');
  });

  it('throws for an unknown preset', () => {
    assert.throws(() => registry({}, { providers: [{ id: 'x', preset: 'nonexistent', base_url: 'http://x' }] }), /providers\.x: unknown preset "nonexistent"/);
  });

  it('inherits base URL and quirks from a preset', () => {
    const reg = registry({}, { providers: [{ id: 'mistral-eu', preset: 'mistral', api_key: 'k' }, { id: 'azure-eu', preset: 'azure', base_url: 'https://eu.openai.azure.com', api_key: 'k' }] });
    const m = get(reg, 'mistral-eu');
    assert.equal(m.provider.baseUrl, 'https://api.mistral.ai/v1');
    assert.equal(m.provider.preset, 'mistral');
    assert.equal(m.provider.streamUsageOption, false);
    assert.equal(get(reg, 'azure-eu').provider.preset, 'azure');
  });

  it('declares providers of other wire formats', () => {
    const e = get(registry({}, { providers: [{ id: 'claude-proxy', type: 'anthropic', base_url: 'https://claude.corp.example', api_key: 'k' }] }), 'claude-proxy');
    assert.equal(e.provider.type, 'anthropic');
    assert.equal(e.enabled, true);
    assert.notEqual(e.client, get(registry(), 'openai').client);
  });

  it('inherits the wire format of its preset', () => {
    const e = get(registry({}, { providers: [{ id: 'claude-eu', preset: 'anthropic', api_key: 'k' }] }), 'claude-eu');
    assert.equal(e.provider.baseUrl, 'https://api.anthropic.com');
    assert.equal(e.provider.type, 'anthropic');
  });
});
