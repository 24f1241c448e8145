/**
 * What `npm start` runs: scripts/build.ts bundles the server into dist/main.js, and that bundle, started with
 * plain node (no TypeScript loader), serves: it finds the files src/ opens beside itself (the embedded
 * database worker, the seed catalog, the router data, package.json), migrates a fresh embedded database and
 * answers inference through the official SDK.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { buildDist, DIST } from '../../scripts/build.ts';
import { freePort } from '../../bench/ports.ts';

const ADMIN = 'sk-build-test-admin-0123456789abcdef';

async function waitForHealth(url: string, child: ChildProcess, output: () => string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dist/main.js exited with ${child.exitCode}:\n${output()}`);
    try {
      return await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`dist/main.js did not answer /health:\n${output()}`);
}

describe('the bundled server (npm run build, npm start)', () => {
  let child: ChildProcess;
  let url: string;
  let dataDir: string;
  let output = '';

  before(async () => {
    await buildDist();
    dataDir = mkdtempSync(join(tmpdir(), 'sy-build-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'warn' };
    for (const name of ['DATABASE_URL', 'REDIS_URL', 'SWITCHYARD_CONFIG', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete env[name];
    child = spawn(process.execPath, [join(DIST, 'main.js'), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  });

  after(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes one bundle plus the files the code opens beside it', () => {
    for (const f of ['main.js', 'embedded-worker.mjs', 'embedded-wire.mjs', 'seed-catalog.json', 'code-tiers.json']) assert.ok(existsSync(join(DIST, f)), `dist/${f}`);
    assert.doesNotMatch(readFileSync(join(DIST, 'main.js'), 'utf8'), /from ["']tsx/, 'the bundle does not need tsx');
  });

  it('starts with plain node on a fresh embedded database and serves inference', async () => {
    const health = await waitForHealth(url, child, () => output);
    assert.equal(health.status, 200, output);
    const body = (await health.json()) as { version: string; database: { kind: string; ok: boolean } };
    assert.equal(body.version, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    assert.deepEqual([body.database.kind, body.database.ok], ['embedded', true]);

    const openai = new OpenAI({ apiKey: ADMIN, baseURL: `${url}/v1`, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hello from the bundle' }] });
    assert.match(completion.choices[0].message.content ?? '', /hello from the bundle/);
    const models = await openai.models.list();
    assert.ok(models.data.some((m) => m.id.startsWith('mock/')), 'the seed catalog was loaded');
  });
});
