/**
 * Plans and tiers: the plan table (defaults, config-file and environment overrides), GET /api/plans, feature
 * gates (403 feature_not_in_plan naming the feature), and the providers gate in inference admission, read
 * live from the user record so an admin's tier change takes effect on the very next request.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { AppError } from '../../src/errors.ts';
import { DEFAULT_PLANS, Plans, plansFor, planView } from '../../src/domain/plans/plans.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { Api, assertBadRequest, assertError } from '../support/identity.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-plans-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a throw');
}

describe('the plan table', () => {
  it('has the documented defaults: 20/60/120/200 requests per minute, features, allowances', () => {
    const plans = new Plans();
    assert.deepEqual(plans.all().map((p) => p.tier), ['free', 'pro', 'power', 'team']);
    assert.deepEqual(plans.all().map((p) => p.rpm), [20, 60, 120, 200]);
    assert.equal(plans.rpm('power'), 120);
    assert.equal(plans.forTier('team').features.sso, true);
    assert.equal(plans.forTier('pro').features.sso, false);
    assert.equal(plans.has('free', 'agents'), false);
    assert.equal(plans.has('pro', 'agents'), true);
    assert.equal(plans.has('pro', 'batch'), false);
    assert.equal(plans.has('power', 'batch'), true);
    for (const p of plans.all()) assert.deepEqual(p.features.providers, ['*']);
    assert.equal(plans.forTier('pro').monthlyCreditPico, BigInt(DEFAULT_PLANS.pro.monthly_credit_usd) * 1_000_000_000_000n);
    assert.equal(plans.forTier('free').stripePriceId, null);
    // An unknown tier value never grants more than free.
    assert.equal(plans.forTier('platinum').tier, 'free');
    assert.ok(plans.rank('team') > plans.rank('power') && plans.rank('power') > plans.rank('pro') && plans.rank('pro') > plans.rank('free'));
  });

  it('merges overrides field by field; STRIPE_PRICE_* wins over the file', () => {
    const plans = new Plans(
      { pro: { name: 'Pro+', rpm: 75, features: { batch: true }, stripe_price_id: 'price_from_file' }, free: { features: { providers: ['openai', 'anth*'] } } },
      { stripePricePro: 'price_from_env', stripePriceTeam: 'price_team' },
    );
    const pro = plans.forTier('pro');
    assert.equal(pro.name, 'Pro+');
    assert.equal(pro.rpm, 75);
    assert.equal(pro.features.batch, true);
    assert.equal(pro.features.agents, true, 'untouched features keep their defaults');
    assert.equal(pro.priceUsd, DEFAULT_PLANS.pro.price_usd);
    assert.equal(pro.stripePriceId, 'price_from_env');
    assert.equal(plans.tierForPrice('price_team'), 'team');
    assert.equal(plans.tierForPrice('price_from_file'), undefined);
    assert.equal(plans.allowsProvider('free', 'openai'), true);
    assert.equal(plans.allowsProvider('free', 'anthropic'), true);
    assert.equal(plans.allowsProvider('free', 'mock'), false);
    assert.equal(plans.allowsAllProviders('free'), false);
    assert.equal(plans.allowsAllProviders('pro'), true);
    assert.equal(planView(pro).stripe_price_id, 'price_from_env');
    assert.deepEqual(planView(plans.forTier('free')).features.providers, ['openai', 'anth*']);
  });

  it('refuses two plans sharing one Stripe price', () => {
    const err = thrown(() => new Plans({ pro: { stripe_price_id: 'price_x' }, power: { stripe_price_id: 'price_x' } }));
    assert.match(String(err), /share the Stripe price/);
  });

  it('requireFeature throws 403 feature_not_in_plan naming the feature and the plans that have it', () => {
    const plans = new Plans();
    plans.requireFeature({ tier: 'team' }, 'sso');
    const err = thrown(() => plans.requireFeature({ tier: 'pro' }, 'batch'));
    assert.ok(err instanceof AppError);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'feature_not_in_plan');
    assert.equal(err.param, 'batch');
    assert.match(err.message, /Pro plan/);
    assert.match(err.message, /"batch"/);
    assert.match(err.message, /Power, Team/);
  });

  it('keepAllowedProviders keeps allowed candidates in order and names the refused provider', () => {
    const plans = new Plans({ free: { features: { providers: ['mock'] } } });
    const cands = [{ p: 'openai' }, { p: 'mock' }, { p: 'anthropic' }];
    assert.deepEqual(plans.keepAllowedProviders('free', cands, (c) => c.p), [{ p: 'mock' }]);
    assert.equal(plans.keepAllowedProviders('pro', cands, (c) => c.p), cands, 'no work for plans that allow everything');
    const err = thrown(() => plans.keepAllowedProviders('free', [{ p: 'openai' }], (c) => c.p));
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'feature_not_in_plan');
    assert.match(err.message, /"openai"/);
    plans.requireProvider({ tier: 'free' }, 'mock');
    assert.equal((thrown(() => plans.requireProvider({ tier: 'free' }, 'gemini')) as AppError).status, 403);
  });

  it('plansFor shares one instance per config', () => {
    const config = loadConfig({}, { databaseUrl: 'memory://' });
    assert.equal(plansFor(config), plansFor(config));
  });
});

describe('plans in configuration', () => {
  it('reads the config file `plans:` key and STRIPE_PRICE_* from the environment', () => {
    const path = join(dir, 'plans.yaml');
    writeFileSync(
      path,
      `plans:
  pro:
    name: Professional
    price_usd: 25.5
    rpm: 90
    monthly_credit_usd: 12.345678
    features: { batch: true, providers: [openai, "anthropic*"] }
  team:
    stripe_price_id: price_team_file
`,
    );
    const config = loadConfig({ SWITCHYARD_CONFIG: path, STRIPE_PRICE_POWER: 'price_power_env', STRIPE_SECRET_KEY: 'sk_test_x', BILLING_SUCCESS_URL: 'https://app.example.com/ok?s={CHECKOUT_SESSION_ID}' });
    assert.equal(config.billing.stripeSecretKey, 'sk_test_x');
    assert.equal(config.billing.successUrl, 'https://app.example.com/ok?s={CHECKOUT_SESSION_ID}');
    const plans = new Plans(config.plans, config.billing);
    const pro = plans.forTier('pro');
    assert.equal(pro.name, 'Professional');
    assert.equal(pro.priceUsd, 25.5);
    assert.equal(pro.rpm, 90);
    assert.equal(pro.monthlyCreditPico, 12_345_678_000_000n);
    assert.deepEqual(pro.features.providers, ['openai', 'anthropic*']);
    assert.equal(plans.forTier('power').stripePriceId, 'price_power_env');
    assert.equal(plans.forTier('team').stripePriceId, 'price_team_file');
  });

  it('rejects unknown tiers, unknown fields and amounts with more than 6 decimals', () => {
    for (const [name, text, pattern] of [
      ['gold.yaml', 'plans:\n  gold: { rpm: 5 }\n', /plans/],
      ['field.yaml', 'plans:\n  pro: { colour: blue }\n', /plans\.pro/],
      ['decimals.yaml', 'plans:\n  pro: { monthly_credit_usd: 1.0000001 }\n', /6 decimals/],
      ['rpm.yaml', 'plans:\n  pro: { rpm: 0 }\n', /plans\.pro\.rpm/],
    ] as const) {
      const path = join(dir, name);
      writeFileSync(path, text);
      const err = thrown(() => loadConfig({ SWITCHYARD_CONFIG: path }));
      assert.ok(err instanceof ConfigError, `${name}: ${String(err)}`);
      assert.match(err.message, pattern);
    }
    assert.ok(thrown(() => loadConfig({ STRIPE_API_BASE: 'not a url' })) instanceof ConfigError);
  });
});

describe('GET /api/plans and the providers gate over HTTP', () => {
  let server: TestServer;
  let upstream: FakeUpstream;
  let api: Api;

  before(async () => {
    upstream = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: 'hello from up', usage: { input: 5, output: 3 } })));
    server = await startTestServer(
      {
        providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }],
        prices: { 'up/m': { input: 1, output: 2 } },
        upstream: { maxAttempts: 1, firstByteTimeoutMs: 5000, streamIdleTimeoutMs: 5000, totalTimeoutMs: 20_000 },
        // The free plan may use the offline mock provider only; paid plans keep the default ['*'].
        plans: { free: { features: { providers: ['mock'] } }, pro: { name: 'Pro (test)' } },
      },
      { STRIPE_PRICE_PRO: 'price_pro_test' },
    );
    api = new Api(server.url);
  });
  after(async () => {
    await server?.stop();
    await upstream?.close();
  });

  it('publishes the plans without authentication', async () => {
    const res = await api.get('/api/plans');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.billing_mode, 'stub');
    const byId = Object.fromEntries(res.body.data.map((p: any) => [p.id, p]));
    assert.deepEqual(Object.keys(byId), ['free', 'pro', 'power', 'team']);
    assert.deepEqual(res.body.data.map((p: any) => p.rpm), [20, 60, 120, 200]);
    assert.equal(byId.pro.name, 'Pro (test)');
    assert.equal(byId.pro.stripe_price_id, 'price_pro_test');
    assert.equal(byId.pro.price_usd, 20);
    assert.equal(byId.pro.currency, 'USD');
    assert.equal(byId.pro.monthly_credit_usd, 15);
    assert.deepEqual(byId.free.features, { agents: false, batch: false, providers: ['mock'], sso: false });
    assert.deepEqual(byId.team.features, { agents: true, batch: true, providers: ['*'], sso: true });
    // Ignores credentials it does not need, good or bad.
    assert.equal((await api.get('/api/plans', { token: 'garbage' })).status, 200);
  });

  it('refuses a provider outside the plan with 403 feature_not_in_plan before any upstream call; a tier change applies on the next request', async () => {
    const user = await api.register();
    const { key } = await api.createKey(user.access);
    const before = upstream.requests.length;

    const denied = await api.chat(key, 'up/m');
    assertError(denied, 403, 'feature_not_in_plan', 'permission_error');
    assert.match(denied.body.error.message, /"up"/);
    assert.match(denied.body.error.message, /Free plan/);
    assert.equal(upstream.requests.length, before, 'no upstream call for a refused provider');
    // The mock provider is in the free plan.
    assert.equal((await api.chat(key, 'mock/echo')).status, 200);

    // Upgrade: the very next request passes (the cached user view is invalidated on change).
    const up = await api.patch(`/api/admin/users/${user.id}`, { tier: 'pro' }, { admin: true });
    assert.equal(up.status, 200, up.text);
    assert.equal(up.body.tier, 'pro');
    const ok = await api.chat(key, 'up/m');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.choices[0].message.content, 'hello from up');
    assert.equal(upstream.requests.length, before + 1);

    // Downgrade: refused again on the next request, through the openai SDK too.
    assert.equal((await api.patch(`/api/admin/users/${user.id}`, { tier: 'free' }, { admin: true })).status, 200);
    assertError(await api.chat(key, 'up/m'), 403, 'feature_not_in_plan');
    await assert.rejects(server.openai(key).chat.completions.create({ model: 'up/m', messages: [{ role: 'user', content: 'hi' }] }), (err: any) => {
      assert.equal(err.status, 403);
      assert.equal(err.code, 'feature_not_in_plan');
      return true;
    });
    assert.equal(upstream.requests.length, before + 1);
  });

  it('does not gate the operator key', async () => {
    const res = await server.request('/v1/chat/completions', { method: 'POST', json: { model: 'up/m', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(res.status, 200);
  });

  it('rejects an unknown tier on the admin route with 400', async () => {
    const user = await api.register();
    assertBadRequest(await api.patch(`/api/admin/users/${user.id}`, { tier: 'platinum' }, { admin: true }));
  });
});
