/** Resilience settings from the config file: circuit breakers (incl. half-open probes) and route timeouts. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-resilience-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const YAML = `
providers:
  - { id: east, type: openai, base_url: "http://127.0.0.1:1/v1", connect_timeout_ms: 4000 }
models:
  - id: team/chat
    deployments: [{ provider: east, model: m }]
    timeouts: { connect_ms: 1500, first_byte_ms: 9000, stream_idle_ms: 8000, total_ms: 60000 }
breakers:
  window_ms: 20000
  min_requests: 4
  failure_rate: 0.25
  open_ms: 5000
  max_open_ms: 60000
  half_open_probes: 3
`;

describe('config file: breakers and route timeouts', () => {
  it('reads every breaker setting, half-open probes included', () => {
    const c = loadConfig({ SWITCHYARD_CONFIG: write('a.yaml', YAML) });
    assert.deepEqual(c.breakers, { windowMs: 20_000, minRequests: 4, failureRate: 0.25, openMs: 5000, maxOpenMs: 60_000, halfOpenProbes: 3 });
    assert.deepEqual(c.models[0].timeouts, { connect_ms: 1500, first_byte_ms: 9000, stream_idle_ms: 8000, total_ms: 60_000 });
  });

  it('the environment wins over the file; unset fields keep their defaults', () => {
    const c = loadConfig({ SWITCHYARD_CONFIG: write('b.yaml', 'breakers: { open_ms: 2000 }\n'), BREAKER_HALF_OPEN_PROBES: '2', BREAKER_OPEN_MS: '3000' });
    assert.equal(c.breakers.openMs, 3000);
    assert.equal(c.breakers.halfOpenProbes, 2);
    assert.equal(c.breakers.windowMs, 30_000);
    assert.equal(loadConfig({ BREAKER_HALF_OPEN_PROBES: '4' }).breakers.halfOpenProbes, 4);
  });

  it('rejects bad values naming the field', () => {
    const err = (text: string) => {
      try {
        loadConfig({ SWITCHYARD_CONFIG: write('bad.yaml', text) });
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
      }
      assert.fail('expected a ConfigError');
    };
    assert.match(err('breakers: { failure_rate: 2 }\n'), /breakers\.failure_rate/);
    assert.match(err('breakers: { half_open_probes: 0 }\n'), /breakers\.half_open_probes/);
    assert.match(err('breakers: { nope: 1 }\n'), /breakers/);
    assert.match(err('models: [{ id: x, deployments: [{ provider: p, model: m }], timeouts: { connect_ms: -1 } }]\n'), /timeouts\.connect_ms/);
    assert.throws(() => loadConfig({ BREAKER_HALF_OPEN_PROBES: 'many' }), /BREAKER_HALF_OPEN_PROBES/);
  });
});
