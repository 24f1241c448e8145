import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-config-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function configError(fn: () => unknown): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

const YAML_CONFIG = `
port: 9090
data_dir: /var/lib/switchyard
log_level: debug
providers:
  - id: local-vllm
    base_url: http://10.0.0.5:8000/v1
    headers:
      X-Team: research
  - id: openai
    api_key: \${OPENAI_KEY_FROM_VAULT}
models:
  - id: smart
    strategy: weighted
    deployments:
      - { provider: openai, model: gpt-4o, weight: 3 }
      - { provider: local-vllm, model: qwen2.5-72b }
    fallbacks: [openai/gpt-4o-mini]
    pricing: { input: 2.5, output: 10 }
aliases:
  fast: openai/gpt-4o-mini
prices:
  local-vllm/qwen2.5-72b: { input: 0.1, output: 0.2, cached_input: 0.05 }
upstream:
  max_attempts: 5
  first_byte_timeout_ms: 30000
request_log:
  batch_size: 100
`;

describe('loadConfig defaults', () => {
  it('serves on 8080 with the embedded database in ./data when nothing is set', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, './data');
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.adminApiKey, undefined);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.upstream, { firstByteTimeoutMs: 120_000, totalTimeoutMs: 600_000, streamIdleTimeoutMs: 120_000, maxAttempts: 3, connectTimeoutMs: 10_000 });
    assert.deepEqual(c.requestLog, { batchSize: 500, flushIntervalMs: 250, maxQueue: 50_000, retentionDays: 30 });
    assert.deepEqual(c.providers, []);
    assert.deepEqual(c.models, []);
    assert.deepEqual(c.aliases, {});
    assert.deepEqual(c.prices, {});
    assert.deepEqual(c.env, {});
  });

  it('keeps the whole environment for provider keys', () => {
    const c = loadConfig({ OPENAI_API_KEY: 'sk-1', SOMETHING_ELSE: 'x' });
    assert.equal(c.env.OPENAI_API_KEY, 'sk-1');
    assert.equal(c.env.SOMETHING_ELSE, 'x');
  });
});

describe('loadConfig environment', () => {
  it('reads top-level settings from the environment', () => {
    const c = loadConfig({
      PORT: '3000',
      HOST: '127.0.0.1',
      DATA_DIR: '/srv/data',
      DATABASE_URL: 'postgres://u:p@db:5432/switchyard',
      REDIS_URL: 'redis://cache:6379',
      ADMIN_API_KEY: 'admin-0123456789abcdef',
      LOG_LEVEL: 'warn',
      MAX_BODY_BYTES: '1048576',
      MOCK_LATENCY_MS: '0',
    });
    assert.equal(c.port, 3000);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.dataDir, '/srv/data');
    assert.equal(c.databaseUrl, 'postgres://u:p@db:5432/switchyard');
    assert.equal(c.redisUrl, 'redis://cache:6379');
    assert.equal(c.adminApiKey, 'admin-0123456789abcdef');
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.maxBodyBytes, 1_048_576);
    assert.equal(c.mockLatencyMs, 0);
  });

  it('reads nested UPSTREAM_* and REQUEST_LOG_* settings, keeping the other defaults', () => {
    const c = loadConfig({
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '5000',
      UPSTREAM_MAX_ATTEMPTS: '2',
      REQUEST_LOG_BATCH_SIZE: '50',
      REQUEST_LOG_MAX_QUEUE: '1000',
    });
    assert.deepEqual(c.upstream, { firstByteTimeoutMs: 5000, totalTimeoutMs: 600_000, streamIdleTimeoutMs: 120_000, maxAttempts: 2, connectTimeoutMs: 10_000 });
    assert.deepEqual(c.requestLog, { batchSize: 50, flushIntervalMs: 250, maxQueue: 1000, retentionDays: 30 });
    const all = loadConfig({ UPSTREAM_TOTAL_TIMEOUT_MS: '60000', UPSTREAM_STREAM_IDLE_TIMEOUT_MS: '9000', REQUEST_LOG_FLUSH_INTERVAL_MS: '10' });
    assert.equal(all.upstream.totalTimeoutMs, 60_000);
    assert.equal(all.upstream.streamIdleTimeoutMs, 9000);
    assert.equal(all.requestLog.flushIntervalMs, 10);
  });

  it('reads the ledger writer\'s CHARGE_BATCH_SIZE and CHARGE_FLUSH_INTERVAL_MS, and bounds them', () => {
    assert.deepEqual([loadConfig({}).credits.chargeBatchSize, loadConfig({}).credits.chargeFlushIntervalMs], [500, 200]);
    const c = loadConfig({ CHARGE_BATCH_SIZE: '100', CHARGE_FLUSH_INTERVAL_MS: '50' });
    assert.deepEqual([c.credits.chargeBatchSize, c.credits.chargeFlushIntervalMs], [100, 50]);
    for (const [name, value] of [['CHARGE_BATCH_SIZE', '0'], ['CHARGE_BATCH_SIZE', '10001'], ['CHARGE_BATCH_SIZE', 'many'], ['CHARGE_FLUSH_INTERVAL_MS', '3600001']]) {
      assert.match(configError(() => loadConfig({ [name]: value })).message, new RegExp(name), `${name}=${value}`);
    }
  });

  it('ignores empty variables', () => {
    const c = loadConfig({ PORT: '', DATA_DIR: '', UPSTREAM_MAX_ATTEMPTS: '' });
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, './data');
    assert.equal(c.upstream.maxAttempts, 3);
  });

  it('rejects a PORT that is not an integer, naming PORT', () => {
    for (const port of ['abc', '80.5', '8080x', '1e3']) {
      const err = configError(() => loadConfig({ PORT: port }));
      assert.match(err.message, /PORT/, port);
      assert.ok(err.message.includes(port), err.message);
    }
  });

  it('rejects a PORT out of range, naming PORT', () => {
    for (const port of ['70000', '65536', '-1']) {
      const err = configError(() => loadConfig({ PORT: port }));
      assert.match(err.message, /\bPORT \(port\)/, err.message);
    }
    assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
    assert.equal(loadConfig({ PORT: '0' }).port, 0);
  });

  it('names nested variables in errors', () => {
    assert.match(configError(() => loadConfig({ UPSTREAM_MAX_ATTEMPTS: '50' })).message, /UPSTREAM_MAX_ATTEMPTS \(upstream\.maxAttempts\)/);
    assert.match(configError(() => loadConfig({ REQUEST_LOG_BATCH_SIZE: 'lots' })).message, /REQUEST_LOG_BATCH_SIZE/);
  });

  it('rejects an ADMIN_API_KEY shorter than 16 characters, naming ADMIN_API_KEY', () => {
    const err = configError(() => loadConfig({ ADMIN_API_KEY: 'short-key-15chr' }));
    assert.match(err.message, /ADMIN_API_KEY/);
    assert.match(err.message, /16/);
    assert.equal(loadConfig({ ADMIN_API_KEY: 'exactly-16-chars' }).adminApiKey, 'exactly-16-chars');
  });

  it('rejects an unknown LOG_LEVEL, naming LOG_LEVEL', () => {
    assert.match(configError(() => loadConfig({ LOG_LEVEL: 'verbose' })).message, /LOG_LEVEL/);
  });
});

describe('loadConfig file', () => {
  it('reads a YAML config file with providers, models, aliases and prices', () => {
    const c = loadConfig({ SWITCHYARD_CONFIG: write('switchyard.yaml', YAML_CONFIG) });
    assert.equal(c.port, 9090);
    assert.equal(c.dataDir, '/var/lib/switchyard');
    assert.equal(c.logLevel, 'debug');
    assert.equal(c.providers.length, 2);
    assert.deepEqual(c.providers[0], { id: 'local-vllm', base_url: 'http://10.0.0.5:8000/v1', headers: { 'X-Team': 'research' } });
    assert.equal(c.providers[1].api_key, '${OPENAI_KEY_FROM_VAULT}', 'interpolation is the registry’s job');
    assert.deepEqual(c.models, [
      {
        id: 'smart',
        strategy: 'weighted',
        deployments: [
          { provider: 'openai', model: 'gpt-4o', weight: 3 },
          { provider: 'local-vllm', model: 'qwen2.5-72b', weight: 1 },
        ],
        fallbacks: ['openai/gpt-4o-mini'],
        pricing: { input: 2.5, output: 10 },
      },
    ]);
    assert.deepEqual(c.aliases, { fast: 'openai/gpt-4o-mini' });
    assert.deepEqual(c.prices, { 'local-vllm/qwen2.5-72b': { input: 0.1, output: 0.2, cached_input: 0.05 } });
    assert.deepEqual(c.upstream, { firstByteTimeoutMs: 30_000, totalTimeoutMs: 600_000, streamIdleTimeoutMs: 120_000, maxAttempts: 5, connectTimeoutMs: 10_000 });
    assert.deepEqual(c.requestLog, { batchSize: 100, flushIntervalMs: 250, maxQueue: 50_000, retentionDays: 30 });
  });

  it('reads a JSON config file', () => {
    const path = write(
      'switchyard.json',
      JSON.stringify({
        host: '127.0.0.1',
        database_url: 'postgres://localhost/sy',
        providers: [{ id: 'claude-eu', type: 'anthropic', base_url: 'https://eu.example.com', api_key: 'k' }],
        models: [{ id: 'chat-default', deployments: [{ provider: 'claude-eu', model: 'claude-sonnet-4-5' }] }],
        aliases: { default: 'chat-default' },
        prices: { 'claude-eu/claude-sonnet-4-5': { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 } },
        stream_heartbeat_ms: 5000,
      }),
    );
    const c = loadConfig({ SWITCHYARD_CONFIG: path });
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.databaseUrl, 'postgres://localhost/sy');
    assert.equal(c.providers[0].type, 'anthropic');
    assert.deepEqual(c.models[0], { id: 'chat-default', deployments: [{ provider: 'claude-eu', model: 'claude-sonnet-4-5', weight: 1 }], strategy: 'fallback', fallbacks: [] });
    assert.deepEqual(c.aliases, { default: 'chat-default' });
    assert.equal(c.prices['claude-eu/claude-sonnet-4-5'].cache_write, 3.75);
    assert.equal(c.streamHeartbeatMs, 5000);
    assert.equal(c.port, 8080);
  });

  it('accepts an empty file', () => {
    assert.equal(loadConfig({ SWITCHYARD_CONFIG: write('empty.yaml', '') }).port, 8080);
  });

  it('rejects an unknown top-level key, naming it and the file', () => {
    const path = write('typo.yaml', 'port: 8081\nprovider:\n  - id: x\n');
    const err = configError(() => loadConfig({ SWITCHYARD_CONFIG: path }));
    assert.match(err.message, /"provider"/);
    assert.ok(err.message.includes(path), err.message);
  });

  it('rejects a bad nested value with its path', () => {
    const path = write('nodeploy.yaml', 'models:\n  - id: broken\n    deployments: []\n');
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: path })).message, /models\.0\.deployments/);
    const bad = write('badprov.json', JSON.stringify({ providers: [{ id: 'ok' }, { id: 'Bad Id' }] }));
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: bad })).message, /providers\.1\.id/);
    const price = write('badprice.yaml', 'prices:\n  openai/gpt-4o: { input: -1, output: 2 }\n');
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: price })).message, /prices\.openai\/gpt-4o\.input/);
    const attempts = write('attempts.yaml', 'upstream:\n  max_attempts: 0\n');
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: attempts })).message, /upstream\.max_attempts/);
  });

  it('rejects a file that does not exist or cannot be read', () => {
    const missing = join(dir, 'missing.yaml');
    const err = configError(() => loadConfig({ SWITCHYARD_CONFIG: missing }));
    assert.match(err.message, /SWITCHYARD_CONFIG: cannot read/);
    assert.ok(err.message.includes(missing));
    // A directory cannot be read as a file, even by root.
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: dir })).message, /cannot read/);
    if (process.getuid?.() !== 0) {
      const locked = write('locked.yaml', 'port: 1\n');
      chmodSync(locked, 0o000);
      assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: locked })).message, /cannot read/);
    }
  });

  it('rejects a file that does not parse', () => {
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: write('broken.json', '{"port": 80,') })).message, /not valid JSON/);
    assert.match(configError(() => loadConfig({ SWITCHYARD_CONFIG: write('broken.yaml', 'port: [1, 2\n') })).message, /not valid YAML/);
  });
});

describe('loadConfig precedence', () => {
  it('applies overrides > environment > file > defaults', () => {
    const file = write('prec.yaml', 'port: 1111\ndata_dir: /from/file\nlog_level: debug\nupstream:\n  max_attempts: 4\n  total_timeout_ms: 1000\n');
    const env = { SWITCHYARD_CONFIG: file, PORT: '2222', DATA_DIR: '/from/env', UPSTREAM_MAX_ATTEMPTS: '6' };

    const all = loadConfig(env, { port: 3333, upstream: { maxAttempts: 9 } });
    assert.equal(all.port, 3333);
    assert.equal(all.dataDir, '/from/env');
    assert.equal(all.logLevel, 'debug');
    assert.equal(all.upstream.maxAttempts, 9);
    assert.equal(all.upstream.totalTimeoutMs, 1000, 'nested file values survive a nested override');
    assert.equal(all.upstream.firstByteTimeoutMs, 120_000);

    const envOnly = loadConfig(env);
    assert.equal(envOnly.port, 2222);
    assert.equal(envOnly.upstream.maxAttempts, 6);
    assert.equal(envOnly.upstream.totalTimeoutMs, 1000);

    const fileOnly = loadConfig({ SWITCHYARD_CONFIG: file });
    assert.equal(fileOnly.port, 1111);
    assert.equal(fileOnly.dataDir, '/from/file');
    assert.equal(fileOnly.upstream.maxAttempts, 4);
  });

  it('ignores undefined overrides and merges override env over the process env', () => {
    const c = loadConfig({ PORT: '2222', OPENAI_API_KEY: 'from-env', KEEP: '1' }, { port: undefined, env: { OPENAI_API_KEY: 'from-override' } });
    assert.equal(c.port, 2222);
    assert.equal(c.env.OPENAI_API_KEY, 'from-override');
    assert.equal(c.env.KEEP, '1');
  });

  it('validates overrides too', () => {
    assert.throws(() => loadConfig({}, { port: 70000 }), ConfigError);
    assert.throws(() => loadConfig({}, { adminApiKey: 'short' }), /adminApiKey/);
  });
});

describe('TRUST_PROXY and the sign-in/sign-up limits', () => {
  it('takes true|false, a hop count or a comma-separated list of addresses/CIDRs', () => {
    assert.equal(loadConfig({}).trustProxy, false);
    for (const v of ['true', 'TRUE', 'yes', 'on']) assert.equal(loadConfig({ TRUST_PROXY: v }).trustProxy, true, v);
    for (const v of ['false', 'no', 'off', '0']) assert.equal(loadConfig({ TRUST_PROXY: v }).trustProxy, false, v);
    assert.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, 1, 'digits are a hop count');
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1/128 , loopback' }).trustProxy, ['10.0.0.0/8', '127.0.0.1', '::1/128', 'loopback']);
    assert.deepEqual(loadConfig({}, { trustProxy: ['192.168.1.10'] }).trustProxy, ['192.168.1.10']);
  });

  it('rejects a bad TRUST_PROXY, naming it', () => {
    for (const bad of ['maybe', '10.0.0.0/33', '300.1.1.1', '10.0.0.0/8,nope', '::1/129', '-1']) {
      assert.match(configError(() => loadConfig({ TRUST_PROXY: bad })).message, /TRUST_PROXY/, bad);
    }
  });

  it('a hop count is applied by the server: the address that many hops back wins, not the forgeable left-most one', async () => {
    const { default: Fastify } = await import('fastify');
    const c = loadConfig({ TRUST_PROXY: '1' });
    // The same translation src/server.ts does (fastify itself fails closed on bare numbers).
    const app = Fastify({ trustProxy: typeof c.trustProxy === 'number' ? ((h: number) => (_a: string, i: number) => i < h)(c.trustProxy) : c.trustProxy });
    app.get('/', async (request) => request.ip);
    const res = await app.inject({ url: '/', headers: { 'x-forwarded-for': '6.6.6.6, 10.1.2.3' }, remoteAddress: '127.0.0.1' });
    assert.equal(res.body, '10.1.2.3');
    await app.close();
  });

  it('reads REGISTER_MAX_PER_IP and REFRESH_MAX_PER_IP next to the sign-in limits', () => {
    const d = loadConfig({}).loginLimits;
    assert.deepEqual(d, { perIp: 30, perAccount: 10, windowSeconds: 900, registerPerIp: 20, refreshPerIp: 600 });
    const c = loadConfig({ REGISTER_MAX_PER_IP: '5', REFRESH_MAX_PER_IP: '50', LOGIN_MAX_FAILURES_PER_IP: '7' }).loginLimits;
    assert.deepEqual([c.registerPerIp, c.refreshPerIp, c.perIp], [5, 50, 7]);
    assert.match(configError(() => loadConfig({ REGISTER_MAX_PER_IP: '0' })).message, /REGISTER_MAX_PER_IP/);
  });
});
