/**
 * The task routers' pure parts: the classifier (categories, complexity), tier and model selection per mode,
 * fallbacks, tool requirements, the router:auto policy, savings, and the data file's checks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify, type Classification } from '../../src/gateway/routers/classify.ts';
import { checkStructure, loadRouterData, mergeRouterData, shippedRouterData, type RouterData, type RouterDataInput } from '../../src/gateway/routers/data.ts';
import { estimateSavings, NoModelAvailable, selectAuto, selectCode, tierOrder, wantsStrong, type ModelFacts, type SelectOptions } from '../../src/gateway/routers/select.ts';
import { decisionHeaders, parseRouterModel } from '../../src/gateway/routers/index.ts';
import { AppError } from '../../src/errors.ts';
import { ConfigError, loadConfig } from '../../src/config/load.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChatMessage } from '../../src/providers/types.ts';

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const cls = (content: string, tools?: unknown[]) => classify({ messages: user(content), tools });

const SEED = JSON.parse(readFileSync(new URL('../../src/domain/catalog/seed-catalog.json', import.meta.url), 'utf8')) as {
  models: { id: string; pricing: { input: number; output: number }; capabilities?: Record<string, boolean> }[];
};
const SEED_FACTS = new Map<string, ModelFacts>(
  SEED.models.map((m) => [m.id, { id: m.id, available: true, price: { input: m.pricing.input, output: m.pricing.output }, tools: m.capabilities?.tools === true, offline: false, provider: m.id.split('/')[0] }]),
);
SEED_FACTS.set('mock/echo', { id: 'mock/echo', available: true, price: { input: 1, output: 2 }, tools: false, offline: true, provider: 'mock' });
SEED_FACTS.set('mock/tools', { id: 'mock/tools', available: true, price: { input: 1, output: 2 }, tools: true, offline: true, provider: 'mock' });

/** Facts where only `enabled` providers (or every seed model when omitted) are available. */
function factsWith(enabled?: string[], extra: ModelFacts[] = []): SelectOptions['facts'] {
  const map = new Map(SEED_FACTS);
  for (const f of extra) map.set(f.id, f);
  return (id) => {
    const f = map.get(id) ?? { id, available: false, reason: 'unknown', tools: false, offline: false };
    if (enabled && !f.offline && !enabled.includes(f.provider ?? '')) return { ...f, available: false, reason: 'provider disabled' };
    return f;
  };
}

const shipped = loadRouterData();
const tierOf = (data: RouterData, model: string) => data.tiers.find((t) => t.models.some((m) => m.id === model))?.id;

const PROMPTS = {
  simpleQuestion: 'What is a closure in JavaScript?',
  generation: 'Write a Python function that reverses a string.',
  debugging: 'Fix this bug:\n```js\nconst total = items.reduce((s, i) => s + i.price);\n```\nTypeError: Cannot read properties of undefined\n    at sum (/app/src/cart.js:10:5)',
  refactoring: 'Refactor this class to be more readable:\n```python\nclass A:\n    def f(self):\n        return 1\n```',
  explanation: 'Explain what this code does:\n```ts\nexport const f = (x: number) => x * 2;\n```',
  review: 'Please review this code for security issues:\n```go\nfunc handler(w http.ResponseWriter, r *http.Request) {}\n```',
  testing: 'Write unit tests with jest for the parser module in src/parser.ts',
  architecture: 'Design a distributed, scalable architecture for a real-time chat service with sharding and consensus across microservices.',
  documentation: 'Add docstrings to this function:\n```python\ndef add(a, b):\n    return a + b\n```',
  general: 'Write a poem about spring in the mountains',
};

describe('classifier: categories', () => {
  for (const [expected, prompt] of Object.entries({
    simple_question: PROMPTS.simpleQuestion,
    generation: PROMPTS.generation,
    debugging: PROMPTS.debugging,
    refactoring: PROMPTS.refactoring,
    explanation: PROMPTS.explanation,
    review: PROMPTS.review,
    testing: PROMPTS.testing,
    architecture: PROMPTS.architecture,
    documentation: PROMPTS.documentation,
    general: PROMPTS.general,
  })) {
    it(`${expected}: ${prompt.slice(0, 40).replace(/\n/g, ' ')}`, () => {
      const c = cls(prompt);
      assert.equal(c.category, expected, JSON.stringify(c));
      assert.ok(c.confidence > 0 && c.confidence <= 1);
    });
  }

  it('a non-code question is a simple question, not code', () => {
    const c = cls("What's the capital of France?");
    assert.equal(c.category, 'simple_question');
    assert.equal(c.code, false);
    assert.equal(cls(PROMPTS.generation).code, true);
  });

  it('the last user message is the task; earlier turns are context', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a senior engineer. Review code carefully.' },
      { role: 'user', content: PROMPTS.generation },
      { role: 'assistant', content: 'def rev(s): return s[::-1]' },
      { role: 'user', content: 'Now write unit tests for it with pytest.' },
    ];
    assert.equal(classify({ messages }).category, 'testing');
  });

  it('a stack trace means debugging even without the word "bug"', () => {
    const c = cls('Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n    main()\nKeyError: \'user\'');
    assert.equal(c.category, 'debugging');
    assert.ok(c.signals.includes('stack_trace'));
  });

  it('reads text parts of array content and survives empty or odd messages', () => {
    const c = classify({ messages: [{ role: 'user', content: [{ type: 'text', text: PROMPTS.debugging }, { type: 'image_url', image_url: { url: 'data:,' } }] }] });
    assert.equal(c.category, 'debugging');
    assert.equal(classify({ messages: [{ role: 'assistant', content: null }] }).complexity, 'low');
  });
});

describe('classifier: complexity', () => {
  it('low for short self-contained prompts', () => {
    assert.equal(cls(PROMPTS.generation).complexity, 'low');
    assert.equal(cls(PROMPTS.simpleQuestion).complexity, 'low');
  });

  it('medium with a stack trace or a hard topic', () => {
    assert.equal(cls(PROMPTS.debugging).complexity, 'medium');
    assert.equal(cls(PROMPTS.review).complexity, 'medium');
  });

  it('high for architecture across hard topics, long multi-file context and tool use', () => {
    assert.equal(cls(PROMPTS.architecture).complexity, 'high');
    const files = ['src/a.ts', 'src/b.ts', 'src/c.ts', 'src/d.ts'].map((f) => `// ${f}\n\`\`\`ts\n${'export const x = 1;\n'.repeat(40)}\`\`\``).join('\n');
    const long = cls(`Refactor these modules to remove the circular import:\n${files}\n${'context '.repeat(3000)}`);
    assert.equal(long.complexity, 'high');
    assert.ok(long.signals.includes('multi_file'));
    const tools = [{ type: 'function', function: { name: 'read_file' } }];
    const agentic = classify({
      messages: [
        { role: 'user', content: 'Fix the failing test in the repo' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'AssertionError: expected 2 to equal 3' },
        { role: 'user', content: 'Now fix the race condition in the worker pool too' },
      ],
      tools,
    });
    assert.equal(agentic.tools, true);
    assert.equal(agentic.complexity, 'high');
  });

  it('"simple"/"quick" wording lowers it', () => {
    const plain = cls('Add input validation to this endpoint for performance:\n```js\napp.post("/x", h)\n```');
    const easy = cls('Quick one: add input validation to this endpoint for performance:\n```js\napp.post("/x", h)\n```');
    assert.ok(['low', 'medium'].indexOf(easy.complexity) <= ['low', 'medium'].indexOf(plain.complexity));
    assert.ok(easy.signals.includes('easy_wording'));
  });

  it('samples huge prompts instead of scanning them whole', () => {
    const c = cls(`${'a.'.repeat(400_000)}\n${'Error'.repeat(50_000)}\n\`\`\`js\nfoo()\n\`\`\``);
    assert.equal(c.complexity, 'high');
    assert.ok(c.inputTokens > 200_000);
  });
});

describe('selection: tiers per mode', () => {
  const all: SelectOptions = { facts: factsWith() };
  const pick = (prompt: string, mode: Parameters<typeof selectCode>[2], opts = all, tools?: unknown[]) => selectCode(shipped, cls(prompt, tools), mode, opts);

  it('balanced: economy for a low task, strong for a high one', () => {
    const low = pick(PROMPTS.generation, 'balanced');
    assert.equal(low.tier, 'economy');
    assert.equal(low.target, 'economy');
    assert.equal(low.fallback, 'none');
    assert.equal(tierOf(shipped, low.model), 'economy');
    assert.equal(pick(PROMPTS.architecture, 'balanced').tier, 'strong');
  });

  it('price favours cheaper tiers, quality stronger ones', () => {
    assert.equal(pick(PROMPTS.architecture, 'price').tier, 'strong', 'architecture never goes below its floor');
    assert.equal(pick(PROMPTS.review, 'price').tier, 'standard', 'medium review: the category floor');
    assert.equal(pick(PROMPTS.generation, 'price').tier, 'economy');
    assert.equal(pick(PROMPTS.generation, 'quality').tier, 'standard');
    assert.equal(pick(PROMPTS.debugging, 'quality').tier, 'strong');
    assert.equal(pick(PROMPTS.architecture, 'quality').tier, 'premium');
  });

  it('within a tier, price mode takes a cheaper model than quality mode', () => {
    const price = pick(PROMPTS.debugging, 'price');
    const quality = selectCode(shipped, cls(PROMPTS.debugging), 'quality', all);
    const facts = all.facts;
    const blended = (id: string) => 3 * facts(id).price!.input + facts(id).price!.output;
    assert.equal(price.tier, 'standard');
    assert.equal(quality.tier, 'strong');
    const standardQuality = selectCode({ ...shipped, modes: { ...shipped.modes, quality: { ...shipped.modes.quality, tiers: shipped.modes.price.tiers } } }, cls(PROMPTS.debugging), 'quality', all);
    assert.equal(standardQuality.tier, 'standard');
    assert.ok(blended(price.model) < blended(standardQuality.model), `${price.model} vs ${standardQuality.model}`);
  });

  it('a category strength breaks a tie between equal models', () => {
    const data: RouterData = {
      ...shipped,
      tiers: [{ id: 'only', models: [{ id: 'x/a', score: 80, strengths: [] }, { id: 'x/b', score: 80, strengths: ['testing'] }] }],
      modes: Object.fromEntries(Object.entries(shipped.modes).map(([k, v]) => [k, { ...v, tiers: { low: 'only', medium: 'only', high: 'only' } }])) as RouterData['modes'],
      category_min_tier: {},
    };
    const f = (id: string): ModelFacts => ({ id, available: true, price: { input: 1, output: 1 }, tools: true, offline: false });
    assert.equal(selectCode(data, cls(PROMPTS.testing), 'balanced', { facts: f }).model, 'x/b');
    assert.equal(selectCode(data, cls(PROMPTS.generation), 'balanced', { facts: f }).model, 'x/a', 'file order otherwise');
  });

  it('agentic requires tool support', () => {
    const s = pick(PROMPTS.refactoring, 'agentic');
    assert.equal(s.requireTools, true);
    assert.ok(['strong', 'premium'].includes(s.tier));
    assert.equal(all.facts(s.model).tools, true);
    // Only a provider whose models lack tools (perplexity): agentic skips them for the offline tool caller.
    const noTools = selectCode(shipped, cls(PROMPTS.refactoring), 'agentic', { facts: factsWith(['perplexity']) });
    assert.equal(noTools.model, 'mock/tools');
    assert.equal(noTools.fallback, 'offline');
  });

  it('tools in the request make any mode require them; relaxed only when nothing supports them', () => {
    const tools = [{ type: 'function', function: { name: 'run' } }];
    const onlyEcho = (id: string): ModelFacts => (id === 'mock/echo' ? SEED_FACTS.get(id)! : { id, available: false, tools: false, offline: false });
    const s = selectCode(shipped, cls(PROMPTS.generation, tools), 'price', { facts: onlyEcho });
    assert.equal(s.model, 'mock/echo');
    assert.equal(s.requireTools, false);
    assert.match(s.reason, /no tool-capable model/);
    assert.equal(selectCode(shipped, cls(PROMPTS.generation, tools), 'price', { facts: factsWith([]) }).model, 'mock/tools');
  });
});

describe('selection: fallbacks', () => {
  it('an empty or unavailable target tier falls back to a neighbouring tier', () => {
    const data: RouterData = { ...shipped, tiers: shipped.tiers.map((t) => (t.id === 'economy' ? { ...t, models: [] } : t)) };
    const s = selectCode(data, cls(PROMPTS.generation), 'balanced', { facts: factsWith() });
    assert.equal(s.target, 'economy');
    assert.equal(s.tier, 'standard');
    assert.equal(s.fallback, 'tier');
    assert.match(s.reason, /tier "economy" has no available model/);
    // Only Anthropic enabled: the economy pick is Anthropic's.
    const anthropic = selectCode(shipped, cls(PROMPTS.generation), 'price', { facts: factsWith(['anthropic']) });
    assert.equal(anthropic.model, 'anthropic/claude-haiku-5-5');
  });

  it('price mode falls back to cheaper tiers first, quality to stronger ones', () => {
    assert.deepEqual(tierOrder(4, 1, 3, 'price'), [1, 2, 3, 0]);
    assert.deepEqual(tierOrder(4, 2, 3, 'quality'), [2, 1, 0, 3]);
    assert.deepEqual(tierOrder(4, 2, 3, 'balanced'), [2, 1, 3, 0]);
    assert.deepEqual(tierOrder(4, 1, 1, 'price'), [1, 0, 2, 3], 'below the floor only as a last resort');
  });

  it('no tier model available: the fallback model, then any enabled model, then the offline mock', () => {
    const data: RouterData = { ...shipped, tiers: [{ id: 'premium', models: [{ id: 'openai/gpt-5.5', score: 95, strengths: [] }] }, { id: 'economy', models: [{ id: 'mock/echo', score: 1, strengths: [] }] }], fallback: 'deepseek/deepseek-flash' };
    data.modes = Object.fromEntries(Object.entries(shipped.modes).map(([k, v]) => [k, { ...v, tiers: { low: 'economy', medium: 'economy', high: 'premium' } }])) as RouterData['modes'];
    data.category_min_tier = {};
    const c = cls(PROMPTS.generation);
    const fb = selectCode(data, c, 'balanced', { facts: factsWith(['deepseek']) });
    assert.equal(fb.model, 'deepseek/deepseek-flash');
    assert.equal(fb.fallback, 'fallback_model');
    const any = selectCode(data, c, 'balanced', { facts: factsWith(['groq']), anyModels: () => [SEED_FACTS.get('groq/llama-3.1-8b-instant')!] });
    assert.equal(any.model, 'groq/llama-3.1-8b-instant');
    assert.equal(any.fallback, 'any_model');
    const off = selectCode(data, c, 'balanced', { facts: factsWith([]) });
    assert.equal(off.model, 'mock/echo');
    assert.equal(off.fallback, 'offline');
    // A real model always beats the offline mock, even from another tier.
    const real = selectCode(data, c, 'balanced', { facts: factsWith(['openai']) });
    assert.equal(real.model, 'openai/gpt-5.5');
  });

  it('nothing at all available: a clear error', () => {
    const none = (id: string): ModelFacts => ({ id, available: false, tools: false, offline: false });
    assert.throws(() => selectCode(shipped, cls('hi'), 'balanced', { facts: none }), NoModelAvailable);
    assert.throws(() => selectAuto(shipped, cls('hi'), { facts: none }), NoModelAvailable);
  });

  it('alternates follow the choice and the eligibility filter applies', () => {
    const s = selectCode(shipped, cls(PROMPTS.generation), 'balanced', { facts: factsWith(), eligible: (id) => !id.startsWith('anthropic/') });
    assert.ok(!s.model.startsWith('anthropic/'));
    assert.equal(s.alternates.length, 2);
    assert.ok(s.alternates.every((a) => a !== s.model && !a.startsWith('anthropic/')));
  });
});

describe('router:auto policy', () => {
  const data: RouterData = { ...shipped, auto: { cheap: ['x/cheap'], strong: ['x/strong'], strong_complexity: 'high', code_is_strong: true, strong_min_tokens: 2000 } };
  const facts = (id: string): ModelFacts => ({ id, available: id.startsWith('x/'), price: id === 'x/cheap' ? { input: 0.1, output: 0.2 } : { input: 5, output: 15 }, tools: id === 'x/strong', offline: false });

  it('cheap for simple prompts, strong for hard, code or long ones', () => {
    const pick = (c: Classification) => selectAuto(data, c, { facts });
    assert.equal(pick(cls('hello, how are you?')).model, 'x/cheap');
    assert.equal(pick(cls(PROMPTS.general)).model, 'x/cheap');
    assert.equal(pick(cls(PROMPTS.simpleQuestion)).model, 'x/cheap', 'a simple code question stays cheap');
    const code = pick(cls(PROMPTS.generation));
    assert.equal(code.model, 'x/strong');
    assert.equal(code.tier, 'strong');
    assert.match(code.reason, /coding task/);
    assert.equal(pick(cls(PROMPTS.architecture)).model, 'x/strong');
    assert.equal(pick(cls(`Summarize this: ${'lorem ipsum '.repeat(1000)}`)).model, 'x/strong');
  });

  it('the policy is configurable', () => {
    const relaxed = { ...data.auto, code_is_strong: false, strong_complexity: 'high' as const, strong_min_tokens: 1_000_000 };
    assert.equal(wantsStrong(relaxed, cls(PROMPTS.generation)).strong, false);
    assert.equal(wantsStrong({ ...relaxed, strong_complexity: 'medium' }, cls(PROMPTS.debugging)).strong, true);
  });

  it('falls back to the other list, and to tool-capable models when the request has tools', () => {
    const noCheap = (id: string): ModelFacts => ({ ...facts(id), available: id === 'x/strong' });
    const s = selectAuto(data, cls('hello'), { facts: noCheap });
    assert.equal(s.model, 'x/strong');
    assert.equal(s.target, 'cheap');
    assert.equal(s.fallback, 'tier');
    const withTools = selectAuto(data, cls('hello', [{ type: 'function', function: { name: 'f' } }]), { facts });
    assert.equal(withTools.model, 'x/strong');
    assert.equal(withTools.requireTools, true);
  });
});

describe('savings, model ids and headers', () => {
  it('estimates savings against the baseline for the same tokens', () => {
    const s = estimateSavings('openai/gpt-4o', { input: 2.5, output: 10 }, { input: 0.25, output: 1 }, 1000, 500)!;
    assert.equal(s.percent, 90);
    assert.equal(s.baseline_cost_usd, 0.0075);
    assert.equal(s.cost_usd, 0.00075);
    assert.equal(estimateSavings('b', { input: 1, output: 1 }, { input: 2, output: 2 }, 10, 10)!.percent, -100);
    assert.equal(estimateSavings('b', undefined, { input: 1, output: 1 }, 10, 10), undefined);
    assert.equal(estimateSavings('b', { input: 0, output: 0 }, { input: 1, output: 1 }, 10, 10), undefined);
  });

  it('parses router ids; unknown ones are a 400', () => {
    assert.deepEqual(parseRouterModel('router:code'), { router: 'code', mode: 'balanced' });
    assert.deepEqual(parseRouterModel('router:code:agentic'), { router: 'code', mode: 'agentic' });
    assert.deepEqual(parseRouterModel('router:auto'), { router: 'auto', mode: 'auto' });
    assert.equal(parseRouterModel('openai/gpt-4o'), undefined);
    for (const bad of ['router:code:fast', 'router:', 'router:auto:x', 'router:code:price:x']) {
      assert.throws(() => parseRouterModel(bad), (e: unknown) => e instanceof AppError && e.status === 400 && e.code === 'invalid_router', bad);
    }
  });

  it('headers carry the decision', () => {
    const h = decisionHeaders({ label: 'code:price', category: 'debugging', complexity: 'medium', tier: 'standard', model: 'm/x', savings: { percent: 42.5 } } as never);
    assert.deepEqual(h, {
      'x-switchyard-router': 'code:price',
      'x-switchyard-router-category': 'debugging',
      'x-switchyard-router-complexity': 'medium',
      'x-switchyard-router-tier': 'standard',
      'x-switchyard-router-model': 'm/x',
      'x-switchyard-router-savings': '42.5',
    });
  });
});

describe('router data', () => {
  it('the shipped file is complete and consistent', () => {
    const { errors, warnings } = checkStructure(shippedRouterData() as RouterDataInput);
    assert.deepEqual(errors, []);
    assert.deepEqual(warnings, []);
    assert.deepEqual(shipped.tiers.map((t) => t.id), ['premium', 'strong', 'standard', 'economy']);
    const economy = shipped.tiers.at(-1)!.models.map((m) => m.id);
    assert.ok(economy.includes('mock/echo') && economy.includes('mock/tools'), 'works with no key');
    for (const t of shipped.tiers) for (const m of t.models) assert.ok(m.id.startsWith('mock/') || SEED_FACTS.has(m.id), `${m.id} is in the seed catalog`);
    for (const id of [...shipped.auto.cheap, ...shipped.auto.strong, shipped.baseline, shipped.fallback]) assert.ok(SEED_FACTS.has(id), id);
  });

  it('config overrides replace tiers and lists and merge modes field by field', () => {
    const d = loadRouterData({ modes: { price: { price_weight: 5 } }, auto: { cheap: ['a/b'] }, baseline: 'openai/gpt-4.1' });
    assert.equal(d.modes.price.price_weight, 5);
    assert.deepEqual(d.modes.price.tiers, shipped.modes.price.tiers);
    assert.deepEqual(d.auto.cheap, ['a/b']);
    assert.deepEqual(d.auto.strong, shipped.auto.strong);
    assert.equal(d.baseline, 'openai/gpt-4.1');
    assert.throws(() => loadRouterData({ tiers: [{ id: 'solo', models: [{ id: 'a/b', score: 1 }] }] }), /unknown tier "premium"/);
    const merged = mergeRouterData(shipped, { tiers: [{ id: 'a', models: [] }] });
    assert.equal(merged.tiers!.length, 1);
  });

  it('the config file\'s routers: key is validated and loaded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-routers-'));
    try {
      const good = join(dir, 'good.yaml');
      writeFileSync(good, 'routers:\n  baseline: anthropic/claude-sonnet-4-6\n  auto:\n    cheap: [groq/llama-3.1-8b-instant]\n    strong_complexity: medium\n  modes:\n    price:\n      price_weight: 4\n');
      const config = loadConfig({ SWITCHYARD_CONFIG: good });
      assert.equal(config.routers.baseline, 'anthropic/claude-sonnet-4-6');
      const d = loadRouterData(config.routers);
      assert.deepEqual(d.auto.cheap, ['groq/llama-3.1-8b-instant']);
      assert.equal(d.auto.strong_complexity, 'medium');
      assert.equal(d.modes.price.price_weight, 4);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'routers:\n  tiers:\n    - id: top\n      models: [{ id: a/b, score: 300 }]\n');
      assert.throws(() => loadConfig({ SWITCHYARD_CONFIG: bad }), (e: unknown) => e instanceof ConfigError && /routers\.tiers\.0\.models\.0\.score/.test(e.message));
      assert.equal(loadConfig({}).routers.tiers, undefined, 'nothing configured: the data file alone');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('structure checks list every problem', () => {
    const { errors } = checkStructure(
      mergeRouterData(shipped, {
        tiers: [
          { id: 'Bad Id', models: [{ id: 'a/b', score: 101 }] },
          { id: 'economy', models: [] },
        ],
        modes: { balanced: { price_weight: -1 } },
        default_output_tokens: 0,
        auto: { strong_complexity: 'extreme' as never, cheap: [] },
      }),
    );
    const paths = errors.map((e) => e.path);
    for (const p of ['tiers.0.id', 'tiers.0.models.0.score', 'tiers.1.models', 'modes.balanced.price_weight', 'modes.balanced.tiers.high', 'default_output_tokens', 'auto.strong_complexity', 'auto.cheap']) {
      assert.ok(paths.includes(p), `${p} in ${paths.join(', ')}`);
    }
  });
});
