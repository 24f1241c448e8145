/** Metric label bounds: at most N model label values per provider, the rest folded into "other". */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { createMetrics, ModelLabels, OTHER_MODEL, DEFAULT_MAX_MODELS_PER_PROVIDER } from '../../src/telemetry/metrics.ts';

describe('model label bound', () => {
  it('keeps the first N models per provider and folds the rest into "other"', () => {
    const folded: string[] = [];
    const labels = new ModelLabels(2, (p) => folded.push(p));
    assert.equal(labels.label('ollama', 'ollama/a'), 'ollama/a');
    assert.equal(labels.label('ollama', 'ollama/b'), 'ollama/b');
    assert.equal(labels.label('ollama', 'ollama/c'), OTHER_MODEL);
    // Models already kept stay kept; the bound is per provider.
    assert.equal(labels.label('ollama', 'ollama/a'), 'ollama/a');
    assert.equal(labels.label('vllm', 'vllm/c'), 'vllm/c');
    assert.deepEqual(folded, ['ollama']);
  });

  it('the default is 200 per provider', () => {
    assert.equal(DEFAULT_MAX_MODELS_PER_PROVIDER, 200);
    const m = createMetrics();
    for (let i = 0; i < 250; i++) m.modelLabel('local', `local/m${i}`);
    assert.equal(m.modelLabel('local', 'local/m199'), 'local/m199');
    assert.equal(m.modelLabel('local', 'local/m200'), OTHER_MODEL);
  });

  it('a flood of distinct model names leaves a bounded series count', async () => {
    const m = createMetrics({ maxModelsPerProvider: 5 });
    for (let i = 0; i < 1000; i++) {
      const model = m.modelLabel('local', `local/random-${i}`);
      m.inferenceRequests.inc({ provider: 'local', model, status: 'success' });
    }
    const fams = parsePrometheusTextFormat(await m.registry.metrics());
    const series = fams.find((f) => f.name === 'model_inference_requests_total')!.metrics;
    assert.equal(series.length, 6);
    assert.equal(Number(series.find((s) => s.labels?.model === OTHER_MODEL)!.value), 995);
    const overflow = fams.find((f) => f.name === 'model_label_overflow_total')!.metrics;
    assert.deepEqual(overflow.map((s) => [s.labels?.provider, Number(s.value)]), [['local', 995]]);
  });
});
