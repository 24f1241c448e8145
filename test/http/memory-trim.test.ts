/**
 * Returning malloc's free memory to the kernel (http/memory-trim.ts, native/malloc-trim): the addon is built on
 * this (glibc) machine, a trim releases the free pages of a fragmented malloc heap, and a serving gateway trims
 * on its own and counts the runs on /metrics.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { buildServer } from '../../src/server.ts';
import { loadConfig } from '../../src/config/load.ts';
import { mallocTrimAddon, startMemoryTrim } from '../../src/http/memory-trim.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';

const glibc = Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);

describe('malloc_trim', { skip: !glibc && 'not glibc: the addon reports itself unsupported and nothing trims' }, () => {
  it('the addon is built by npm ci and loads', () => {
    const addon = mallocTrimAddon();
    assert.ok(addon, 'switchyard-malloc-trim did not load: was native/malloc-trim built (npm ci runs node-gyp)?');
    assert.equal(addon.supported, true);
    assert.equal(typeof addon.trim(), 'boolean');
  });

  it('releases the free pages of a fragmented malloc heap, and only those', () => {
    // A child process of its own, so that this test's RSS is not the runner's. 6,000 buffers of 16 KiB come from
    // malloc's arena; keeping one in 64 alive stops the arena shrinking from its top when the rest are freed.
    const addonPath = createRequire(import.meta.url).resolve('switchyard-malloc-trim');
    const script = `
      const addon = require(${JSON.stringify(addonPath)});
      const rss = () => process.memoryUsage.rss();
      let all = [];
      for (let i = 0; i < 6000; i++) all.push(Buffer.allocUnsafeSlow(16 * 1024).fill(i & 255));
      const kept = all.filter((_, i) => i % 64 === 0);
      all = null;
      global.gc(); global.gc();
      setTimeout(() => {
        global.gc();
        const before = rss();
        addon.trimAsync((err, released) => {
          const after = rss();
          const intact = kept.every((b, i) => b[0] === ((i * 64) & 255) && b[b.length - 1] === ((i * 64) & 255));
          process.stdout.write(JSON.stringify({ before, after, released, intact, err }));
        });
      }, 300);`;
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' }, encoding: 'utf8' });
    const r = JSON.parse(out) as { before: number; after: number; released: boolean; intact: boolean; err: null };
    assert.equal(r.err, null);
    assert.equal(r.released, true);
    assert.equal(r.intact, true, 'the buffers still in use kept their contents');
    const releasedMb = (r.before - r.after) / 2 ** 20;
    assert.ok(releasedMb > 40, `released ${releasedMb.toFixed(1)} MB of the ~92 MB freed`);
  });

  it('trims one at a time: a second call while one runs shares its result', async () => {
    const metrics = createMetrics();
    const trimmer = startMemoryTrim({ intervalS: 3600, log: createLogger('silent'), metrics, firstAfterMs: 3_600_000 });
    assert.ok(trimmer);
    try {
      const [a, b] = [trimmer.trimNow(), trimmer.trimNow()];
      assert.equal(a, b);
      await a;
      const runs = (await metrics.registry.getSingleMetric('memory_trims_total')!.get()).values.reduce((n, v) => n + v.value, 0);
      assert.equal(runs, 1);
    } finally {
      trimmer.stop();
    }
  });

  it('a serving gateway trims soon after start-up and counts the runs on /metrics', async () => {
    const config = loadConfig({ MEMORY_TRIM_INTERVAL_S: '1' }, { databaseUrl: 'memory://', logLevel: 'silent', adminApiKey: 'sk-admin-memory-trim-test' });
    const server = await buildServer(config);
    const port = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const deadline = Date.now() + 10_000;
      let runs = 0;
      while (runs < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${config.adminApiKey}` } })).text();
        runs = [...text.matchAll(/^memory_trims_total\{released="(?:true|false)"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      }
      assert.ok(runs >= 2, `memory_trims_total reached ${runs} in 10 s at a 1 s interval`);
    } finally {
      await server.close();
    }
  });
});

describe('MEMORY_TRIM_INTERVAL_S', () => {
  it('defaults to 30 s; 0 turns trimming off; anything but an integer from 0 to 3600 is refused', () => {
    assert.equal(loadConfig({}).memoryTrimIntervalS, 30);
    assert.equal(loadConfig({ MEMORY_TRIM_INTERVAL_S: '0' }).memoryTrimIntervalS, 0);
    assert.equal(startMemoryTrim({ intervalS: 0, log: createLogger('silent'), metrics: createMetrics() }), undefined);
    for (const bad of ['-1', '3601', '1.5', 'often']) assert.throws(() => loadConfig({ MEMORY_TRIM_INTERVAL_S: bad }), /MEMORY_TRIM_INTERVAL_S|memoryTrimIntervalS/);
  });
});
