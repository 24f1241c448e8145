import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildProviderRegistry } from '../../src/providers/registry.ts';
import { Catalog } from '../../src/domain/catalog/catalog.ts';
import type { ModelUpsert } from '../../src/domain/catalog/schema.ts';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { Router, type ModelKind, type RoutePlan } from '../../src/gateway/router.ts';
import { AppError } from '../../src/errors.ts';
import { ZERO_PRICING } from '../../src/domain/pricing.ts';
import { DeploymentStats } from '../../src/gateway/deployment-stats.ts';
import { callOptions } from '../../src/gateway/attempt.ts';

const SEED: ModelUpsert[] = [
  { id: 'openai/gpt-4o-mini', provider: 'openai', upstream_id: 'gpt-4o-mini-2024-07-18', pricing: { input: 0.15, output: 0.6, cached_input: 0.075 } },
  { id: 'openai/gpt-4o', provider: 'openai', pricing: { input: 2.5, output: 10, cached_input: 1.25 } },
  { id: 'openai/text-embedding-3-small', provider: 'openai', kind: 'embedding', pricing: { input: 0.02, output: 0 } },
  { id: 'openai/gpt-3.5-turbo', provider: 'openai', pricing: { input: 0.5, output: 1.5 }, enabled: false },
  { id: 'openrouter/gpt-4o-mini', provider: 'openrouter', upstream_id: 'openai/gpt-4o-mini', pricing: { input: 0.2, output: 0.8 } },
  { id: 'openrouter/meta-llama/llama-3.3-70b-instruct', provider: 'openrouter', pricing: { input: 0.13, output: 0.4 } },
  { id: 'groq/llama-3.3-70b-versatile', provider: 'groq', pricing: { input: 0.59, output: 0.79 } },
  { id: 'anthropic/claude-sonnet-4-5', provider: 'anthropic', upstream_id: 'claude-sonnet-4-5-20250929', pricing: { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 } },
  { id: 'mock/echo', provider: 'mock', pricing: { input: 1, output: 2 } },
];

const KEYS = { OPENAI_API_KEY: 'sk-o', OPENROUTER_API_KEY: 'sk-or', GROQ_API_KEY: 'gsk' };

let handle: DatabaseHandle;
let catalog: Catalog;

before(async () => {
  handle = await openDatabase({ url: 'memory://', dataDir: '/tmp' });
  await handle.migrate();
  catalog = new Catalog(handle.db);
  await catalog.importModels(SEED, 'seed');
});
after(async () => handle?.close());

function router(env: Record<string, string> = KEYS, overrides: Partial<ConfigInput> = {}): Router {
  const config = loadConfig(env, overrides);
  return new Router(config, buildProviderRegistry(config), catalog);
}

const summary = (plan: RoutePlan) => plan.candidates.map((c) => `${c.entry.provider.id}:${c.target.model}`);

function notFound(fn: () => unknown, message?: RegExp): AppError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.status, 404);
  assert.equal(caught.code, 'model_not_found');
  assert.equal(caught.param, 'model');
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('router: provider/model through the catalog', () => {
  it('resolves to the upstream id, the provider and the catalog price', () => {
    const plan = router().plan('openai/gpt-4o-mini', 'chat');
    assert.equal(plan.requested, 'openai/gpt-4o-mini');
    assert.equal(plan.candidates.length, 1);
    const [c] = plan.candidates;
    assert.equal(c.modelId, 'openai/gpt-4o-mini');
    assert.equal(c.entry.provider.id, 'openai');
    assert.equal(c.target.provider, c.entry.provider);
    assert.equal(c.target.model, 'gpt-4o-mini-2024-07-18');
    assert.deepEqual(c.pricing, { input: 150_000n, output: 600_000n, cachedInput: 75_000n, cacheWrite: null });
  });

  it('resolves embedding models for the embedding kind', () => {
    const [c] = router().plan('openai/text-embedding-3-small', 'embedding').candidates;
    assert.equal(c.target.model, 'text-embedding-3-small');
    assert.equal(c.pricing.input, 20_000n);
  });

  it('rejects a kind mismatch with a 404 in both directions', () => {
    notFound(() => router().plan('openai/text-embedding-3-small', 'chat'), /is an embedding model/);
    notFound(() => router().plan('openai/gpt-4o', 'embedding'), /is a chat model/);
  });

  it('rejects a disabled catalog model', () => {
    notFound(() => router().plan('openai/gpt-3.5-turbo', 'chat'), /is disabled/);
  });

  it('answers 404 naming the env var when the provider is not enabled', () => {
    const err = notFound(() => router({}).plan('openai/gpt-4o', 'chat'));
    assert.match(err.message, /"openai" is not enabled/);
    assert.match(err.message, /OPENAI_API_KEY/);
    assert.match(notFound(() => router({}).plan('ollama/llama3', 'chat')).message, /OLLAMA_BASE_URL/);
  });

  it('answers 404 model_not_found for a cloud model missing from the catalog', () => {
    notFound(() => router().plan('openai/gpt-9-ultra', 'chat'), /not in the catalog/);
  });

  it('answers 404 model_not_found for an unknown model', () => {
    notFound(() => router().plan('no-such-model', 'chat'), /"no-such-model" does not exist/);
    notFound(() => router().plan('nosuchprovider/model', 'chat'));
  });
});

describe('router: bare names', () => {
  it('resolves a bare name through the catalog, preferring the earlier preset (openai before openrouter), failing over to the rest', () => {
    const plan = router().plan('gpt-4o-mini', 'chat');
    assert.equal(plan.requested, 'gpt-4o-mini');
    assert.deepEqual(summary(plan), ['openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini']);
    assert.equal(plan.candidates[0].modelId, 'openai/gpt-4o-mini');
  });

  it('uses the later preset when the earlier one is not enabled', () => {
    const plan = router({ OPENROUTER_API_KEY: 'sk-or' }).plan('gpt-4o-mini', 'chat');
    assert.deepEqual(summary(plan), ['openrouter:openai/gpt-4o-mini']);
    assert.equal(plan.candidates[0].modelId, 'openrouter/gpt-4o-mini');
    assert.equal(plan.candidates[0].pricing.input, 200_000n);
  });

  it('matches upstream ids and names with slashes', () => {
    assert.deepEqual(summary(router().plan('gpt-4o-mini-2024-07-18', 'chat')), ['openai:gpt-4o-mini-2024-07-18']);
    assert.deepEqual(summary(router().plan('meta-llama/llama-3.3-70b-instruct', 'chat')), ['openrouter:meta-llama/llama-3.3-70b-instruct']);
  });

  it('filters by kind and skips disabled catalog entries', () => {
    notFound(() => router().plan('text-embedding-3-small', 'chat'));
    assert.equal(router().plan('text-embedding-3-small', 'embedding').candidates.length, 1);
    notFound(() => router().plan('gpt-3.5-turbo', 'chat'));
  });

  it('answers 404 when no enabled provider serves the bare name', () => {
    notFound(() => router({}).plan('gpt-4o-mini', 'chat'), /does not exist or is not available/);
  });
});

describe('router: aliases', () => {
  it('follows an alias chain to a catalog model, keeping the requested name', () => {
    const plan = router(KEYS, { aliases: { fast: 'cheap', cheap: 'openai/gpt-4o-mini' } }).plan('fast', 'chat');
    assert.equal(plan.requested, 'fast');
    assert.deepEqual(summary(plan), ['openai:gpt-4o-mini-2024-07-18']);
    assert.equal(plan.candidates[0].modelId, 'openai/gpt-4o-mini');
  });

  it('follows an alias to a bare name and to a config route', () => {
    const r = router(KEYS, {
      aliases: { best: 'gpt-4o', default: 'team-chat' },
      models: [{ id: 'team-chat', deployments: [{ provider: 'groq', model: 'llama-3.3-70b-versatile' }] }],
    });
    assert.deepEqual(summary(r.plan('best', 'chat')), ['openai:gpt-4o']);
    assert.deepEqual(summary(r.plan('default', 'chat')), ['groq:llama-3.3-70b-versatile']);
  });

  it('does not hang on an alias cycle', () => {
    const r = router(KEYS, { aliases: { a: 'b', b: 'c', c: 'a' } });
    notFound(() => r.plan('a', 'chat'));
    notFound(() => router(KEYS, { aliases: { self: 'self' } }).plan('self', 'chat'));
  });

  it('does not hang on a fallback cycle between routes', () => {
    const r = router(KEYS, {
      models: [
        { id: 'ping', deployments: [{ provider: 'openai', model: 'gpt-4o' }], fallbacks: ['pong'] },
        { id: 'pong', deployments: [{ provider: 'groq', model: 'llama-3.3-70b-versatile' }], fallbacks: ['ping'] },
      ],
    });
    assert.deepEqual(summary(r.plan('ping', 'chat')), ['openai:gpt-4o', 'groq:llama-3.3-70b-versatile']);
  });
});

describe('router: config routes', () => {
  const routes: Partial<ConfigInput> = {
    models: [
      {
        id: 'smart',
        deployments: [
          { provider: 'openai', model: 'gpt-4o' },
          { provider: 'openrouter', model: 'openai/gpt-4o' },
          { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' },
        ],
        fallbacks: ['groq/llama-3.3-70b-versatile', 'openai/does-not-exist', 'gpt-4o-mini', 'also-missing'],
      },
    ],
  };

  it('lists deployments in order, skips disabled providers, then adds fallbacks in order', () => {
    const plan = router(KEYS, routes).plan('smart', 'chat');
    assert.deepEqual(summary(plan), ['openai:gpt-4o', 'openrouter:openai/gpt-4o', 'groq:llama-3.3-70b-versatile', 'openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini']);
    assert.deepEqual(
      plan.candidates.map((c) => c.modelId),
      ['smart', 'smart', 'groq/llama-3.3-70b-versatile', 'openai/gpt-4o-mini', 'openrouter/gpt-4o-mini'],
    );
  });

  it('prices deployments from the catalog entry of provider/model', () => {
    const plan = router(KEYS, routes).plan('smart', 'chat');
    assert.equal(plan.candidates[0].pricing.input, 2_500_000n);
    assert.equal(plan.candidates[2].pricing.input, 590_000n);
  });

  it('serves a route through its fallbacks when no deployment is enabled', () => {
    assert.deepEqual(summary(router({ GROQ_API_KEY: 'g' }, routes).plan('smart', 'chat')), ['groq:llama-3.3-70b-versatile']);
  });

  it('answers 404 when neither deployments nor fallbacks are available', () => {
    notFound(() => router({}, routes).plan('smart', 'chat'), /"smart" has no available deployment/);
  });

  it('puts every deployment in the list with the weighted strategy', () => {
    const r = router(KEYS, {
      models: [
        {
          id: 'spread',
          strategy: 'weighted',
          deployments: [
            { provider: 'openai', model: 'gpt-4o', weight: 5 },
            { provider: 'openrouter', model: 'openai/gpt-4o', weight: 3 },
            { provider: 'groq', model: 'llama-3.3-70b-versatile', weight: 1 },
            { provider: 'anthropic', model: 'claude', weight: 100 },
          ],
          fallbacks: ['gpt-4o-mini'],
        },
      ],
    });
    const firsts = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = summary(r.plan('spread', 'chat'));
      assert.equal(s.length, 5);
      assert.deepEqual([...s.slice(0, 3)].sort(), ['groq:llama-3.3-70b-versatile', 'openai:gpt-4o', 'openrouter:openai/gpt-4o']);
      assert.equal(s[3], 'openai:gpt-4o-mini-2024-07-18', 'fallbacks come after every deployment');
      firsts.add(s[0]);
    }
    assert.ok(firsts.size >= 2, 'the first pick varies');
  });

  it('sorts deployments by price with the lowest-price strategy', () => {
    const r = router(KEYS, {
      models: [
        {
          id: 'thrifty',
          strategy: 'lowest-price',
          deployments: [
            { provider: 'openai', model: 'gpt-4o' }, // 2.5 + 10
            { provider: 'groq', model: 'llama-3.3-70b-versatile' }, // 0.59 + 0.79
            { provider: 'openrouter', model: 'gpt-4o-mini' }, // 0.2 + 0.8
            { provider: 'openai', model: 'gpt-4o-mini' }, // 0.15 + 0.6
          ],
        },
      ],
    });
    assert.deepEqual(summary(r.plan('thrifty', 'chat')), ['openai:gpt-4o-mini', 'openrouter:gpt-4o-mini', 'groq:llama-3.3-70b-versatile', 'openai:gpt-4o']);
  });

  it('exposes config routes', () => {
    assert.deepEqual(
      router(KEYS, routes).configRoutes().map((m) => m.id),
      ['smart'],
    );
  });
});

describe('router: local and custom providers', () => {
  it('lets a local preset serve models missing from the catalog, at zero price', () => {
    const [c] = router({ OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' }).plan('ollama/llama3.2:3b', 'chat').candidates;
    assert.equal(c.modelId, 'ollama/llama3.2:3b');
    assert.equal(c.target.model, 'llama3.2:3b');
    assert.deepEqual(c.pricing, ZERO_PRICING);
  });

  it('lets a custom provider serve any model, priced from config prices', () => {
    const r = router(
      {},
      {
        providers: [{ id: 'lab', type: 'openai', base_url: 'http://lab:8000/v1' }],
        prices: { 'lab/qwen2.5-72b': { input: 0.1, output: 0.3, cached_input: 0.01 } },
      },
    );
    const [c] = r.plan('lab/qwen2.5-72b', 'chat').candidates;
    assert.equal(c.entry.provider.id, 'lab');
    assert.equal(c.target.model, 'qwen2.5-72b');
    assert.deepEqual(c.pricing, { input: 100_000n, output: 300_000n, cachedInput: 10_000n, cacheWrite: null });
    assert.deepEqual(r.plan('lab/other', 'embedding').candidates[0].pricing, ZERO_PRICING);
  });

  it('lets mock serve models missing from the catalog', () => {
    assert.equal(router({}).plan('mock/anything', 'chat').candidates[0].target.model, 'anything');
  });
});

describe('router: prices from config', () => {
  it('config prices override catalog prices for provider/model and bare names', () => {
    const r = router(KEYS, { prices: { 'openai/gpt-4o-mini': { input: 0.1, output: 0.4 } } });
    const expected = { input: 100_000n, output: 400_000n, cachedInput: null, cacheWrite: null };
    assert.deepEqual(r.plan('openai/gpt-4o-mini', 'chat').candidates[0].pricing, expected);
    assert.deepEqual(r.plan('gpt-4o-mini', 'chat').candidates[0].pricing, expected);
  });

  it('config prices override catalog prices for route deployments and change lowest-price order', () => {
    const r = router(KEYS, {
      prices: { 'openai/gpt-4o': { input: 0.01, output: 0.01 } },
      models: [
        {
          id: 'thrifty',
          strategy: 'lowest-price',
          deployments: [
            { provider: 'groq', model: 'llama-3.3-70b-versatile' },
            { provider: 'openai', model: 'gpt-4o' },
          ],
        },
      ],
    });
    const plan = r.plan('thrifty', 'chat');
    assert.deepEqual(summary(plan), ['openai:gpt-4o', 'groq:llama-3.3-70b-versatile']);
    assert.deepEqual(plan.candidates[0].pricing, { input: 10_000n, output: 10_000n, cachedInput: null, cacheWrite: null });
  });

  it('prices a route deployment missing from the catalog from the route price', () => {
    const r = router(
      {},
      {
        providers: [{ id: 'lab', base_url: 'http://lab:8000/v1' }],
        models: [{ id: 'house', deployments: [{ provider: 'lab', model: 'house-model-v2' }], pricing: { input: 0.5, output: 1 } }],
      },
    );
    assert.deepEqual(r.plan('house', 'chat').candidates[0].pricing, { input: 500_000n, output: 1_000_000n, cachedInput: null, cacheWrite: null });
  });

  it('prices by the route id from config prices', () => {
    const r = router(
      {},
      {
        providers: [{ id: 'lab', base_url: 'http://lab:8000/v1' }],
        models: [{ id: 'house', deployments: [{ provider: 'lab', model: 'house-model-v2' }], pricing: { input: 0.5, output: 1 } }],
        prices: { house: { input: 0.25, output: 0.75 } },
      },
    );
    assert.equal(r.plan('house', 'chat').candidates[0].pricing.input, 250_000n);
  });
});

describe('router: kinds', () => {
  it('plans for both kinds without touching the other', () => {
    const r = router();
    const kinds: [string, ModelKind][] = [
      ['openai/gpt-4o', 'chat'],
      ['openai/text-embedding-3-small', 'embedding'],
    ];
    for (const [model, kind] of kinds) assert.equal(r.plan(model, kind).candidates.length, 1);
  });
});

describe('router: per-request preferences keep model groups in order', () => {
  const pair: Partial<ConfigInput> = {
    models: [
      {
        id: 'pair',
        deployments: [
          { provider: 'openrouter', model: 'gpt-4o-mini' }, // 0.2 + 0.8
          { provider: 'openai', model: 'gpt-4o-mini' }, // 0.15 + 0.6
        ],
        fallbacks: ['groq/llama-3.3-70b-versatile'],
      },
    ],
  };

  it('sort: price orders within the requested model; a cheaper `models` fallback stays behind it', () => {
    const plan = router().plan('openai/gpt-4o', 'chat', { models: ['gpt-4o-mini'], provider: { sort: 'price' } });
    assert.deepEqual(summary(plan), ['openai:gpt-4o', 'openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini']);
  });

  it('the :floor suffix sorts the requested model only, never moving a fallback model ahead', () => {
    const plan = router().plan('gpt-4o-mini:floor', 'chat', { models: ['meta-llama/llama-3.3-70b-instruct'] });
    assert.deepEqual(summary(plan), ['openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini', 'openrouter:meta-llama/llama-3.3-70b-instruct']);
  });

  it('route fallbacks come after the request `models`, which keep their order', () => {
    const plan = router(KEYS, pair).plan('pair', 'chat', { models: ['anthropic/claude-sonnet-4-5', 'openai/gpt-4o'] });
    // anthropic is not enabled: skipped; groq (the route's fallback) comes last.
    assert.deepEqual(summary(plan), ['openrouter:gpt-4o-mini', 'openai:gpt-4o-mini', 'openai:gpt-4o', 'groq:llama-3.3-70b-versatile']);
    const sorted = router(KEYS, pair).plan('pair', 'chat', { models: ['openai/gpt-4o'], provider: { sort: 'price' } });
    assert.deepEqual(summary(sorted), ['openai:gpt-4o-mini', 'openrouter:gpt-4o-mini', 'openai:gpt-4o', 'groq:llama-3.3-70b-versatile']);
  });

  it('a :floor / :nitro suffix inside `models` is applied to that model, not skipped', () => {
    const plan = router(KEYS, pair).plan('openai/gpt-4o', 'chat', { models: ['pair:floor'] });
    assert.deepEqual(summary(plan), ['openai:gpt-4o', 'openai:gpt-4o-mini', 'openrouter:gpt-4o-mini', 'groq:llama-3.3-70b-versatile']);
    assert.deepEqual(summary(router(KEYS, pair).plan('openai/gpt-4o', 'chat', { models: ['pair:nitro'] })).slice(0, 2), ['openai:gpt-4o', 'openrouter:gpt-4o-mini']);
  });

  it('sort {by, partition: "none"} sorts across models; partition "model" within each', () => {
    const across = router().plan('openai/gpt-4o', 'chat', { models: ['gpt-4o-mini'], provider: { sort: { by: 'price', partition: 'none' } } });
    assert.deepEqual(summary(across), ['openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini', 'openai:gpt-4o']);
    const within = router().plan('openai/gpt-4o', 'chat', { models: ['gpt-4o-mini'], provider: { sort: { by: 'price', partition: 'model' } } });
    assert.deepEqual(summary(within), ['openai:gpt-4o', 'openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini']);
  });

  it('allow_fallbacks: false keeps one provider per model, model fallbacks still apply', () => {
    const plan = router().plan('gpt-4o-mini', 'chat', { models: ['openai/gpt-4o'], provider: { allow_fallbacks: false } });
    assert.deepEqual(summary(plan), ['openai:gpt-4o-mini-2024-07-18', 'openai:gpt-4o']);
  });
});

describe('router: throughput and latency sorting', () => {
  function measured(setup: (stats: DeploymentStats) => void): Router {
    const config = loadConfig(KEYS, {});
    const stats = new DeploymentStats();
    setup(stats);
    return new Router(config, buildProviderRegistry(config), catalog, stats);
  }
  const OPENAI = 'openai/gpt-4o-mini-2024-07-18';
  const OPENROUTER = 'openrouter/openai/gpt-4o-mini';

  it(':nitro and sort: throughput put the fastest measured provider first', () => {
    const r = measured((s) => {
      s.throughput(OPENAI, 100, 10_000); // 10 tokens/s
      s.throughput(OPENROUTER, 100, 1_000); // 100 tokens/s
    });
    assert.deepEqual(summary(r.plan('gpt-4o-mini', 'chat')), ['openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini'], 'unsorted: preset order');
    assert.deepEqual(summary(r.plan('gpt-4o-mini:nitro', 'chat')), ['openrouter:openai/gpt-4o-mini', 'openai:gpt-4o-mini-2024-07-18']);
    assert.deepEqual(summary(r.plan('gpt-4o-mini', 'chat', { provider: { sort: 'throughput' } })), ['openrouter:openai/gpt-4o-mini', 'openai:gpt-4o-mini-2024-07-18']);
    assert.equal(r.plan('gpt-4o-mini:nitro', 'chat').requested, 'gpt-4o-mini:nitro');
  });

  it('an unmeasured provider ranks first for throughput so that it gets measured', () => {
    const r = measured((s) => s.throughput(OPENAI, 100, 1_000));
    assert.deepEqual(summary(r.plan('gpt-4o-mini:nitro', 'chat')), ['openrouter:openai/gpt-4o-mini', 'openai:gpt-4o-mini-2024-07-18']);
  });

  it('sort: latency puts the quickest measured provider first', () => {
    const r = measured((s) => {
      s.success(OPENAI, 900);
      s.success(OPENROUTER, 150);
    });
    assert.deepEqual(summary(r.plan('gpt-4o-mini', 'chat', { provider: { sort: 'latency' } })), ['openrouter:openai/gpt-4o-mini', 'openai:gpt-4o-mini-2024-07-18']);
    const flipped = measured((s) => {
      s.success(OPENAI, 100);
      s.success(OPENROUTER, 800);
    });
    assert.deepEqual(summary(flipped.plan('gpt-4o-mini', 'chat', { provider: { sort: { by: 'latency' } } })), ['openai:gpt-4o-mini-2024-07-18', 'openrouter:openai/gpt-4o-mini']);
  });
});

describe('router: route timeouts', () => {
  it('a route connect_ms reaches the transport call options, over the provider and global ones', () => {
    const r = router(KEYS, {
      providers: [{ id: 'openai', connect_timeout_ms: 7000 }],
      models: [
        { id: 'snappy', deployments: [{ provider: 'openai', model: 'gpt-4o' }], timeouts: { connect_ms: 1500, first_byte_ms: 3000 } },
        { id: 'plain', deployments: [{ provider: 'openai', model: 'gpt-4o' }] },
      ],
    });
    const config = loadConfig(KEYS, {});
    const signal = new AbortController().signal;
    const snappy = callOptions(config, r.plan('snappy', 'chat').candidates[0], signal);
    assert.equal(snappy.connectTimeoutMs, 1500);
    assert.equal(snappy.firstByteTimeoutMs, 3000);
    assert.equal(callOptions(config, r.plan('plain', 'chat').candidates[0], signal).connectTimeoutMs, 7000);
  });
});
