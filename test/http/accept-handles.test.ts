/**
 * Extra accept handles (http/accept-handles.ts): a busy event loop takes in one connection per handle per turn,
 * so a burst of new connections is accepted several at a time; the server serves them as its own, and closing
 * stops every handle.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addAcceptHandles } from '../../src/http/accept-handles.ts';
import { buildServer } from '../../src/server.ts';
import { loadConfig } from '../../src/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'accept-handles-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Opens `n` connections from another process while this one's loop is blocked, then counts how many the
 * server had accepted after each of the following loop turns.
 */
async function acceptsPerTurn(server: http.Server, n: number): Promise<number[]> {
  const port = (server.address() as AddressInfo).port;
  const ready = join(dir, `connected-${port}`);
  const script = `const net = require('net'); let open = 0; const socks = [];
    for (let i = 0; i < ${n}; i++) socks.push(net.connect(${port}, '127.0.0.1', () => { if (++open === ${n}) require('fs').writeFileSync(${JSON.stringify(ready)}, ''); }));
    setTimeout(() => process.exit(0), 20000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
  try {
    let accepted = 0;
    const count = () => accepted++;
    server.on('connection', count);
    // Blocked until the kernel completed every handshake: the connections wait in the accept queue.
    const until = Date.now() + 15_000;
    while (!existsSync(ready) && Date.now() < until);
    assert.ok(existsSync(ready), 'the client process did not connect');
    const turns: number[] = [];
    await new Promise<void>((resolve) => {
      const tick = () => {
        turns.push(accepted);
        if (accepted >= n || turns.length > 4 * n) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
    server.off('connection', count);
    return turns.map((total, i) => total - (turns[i - 1] ?? 0));
  } finally {
    child.kill();
  }
}

function listen(server: http.Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

describe('extra accept handles', () => {
  it('a blocked loop takes one connection per handle per turn: 4 handles take 4 at a time, one takes one', async () => {
    const one = http.createServer((_req, res) => res.end('ok'));
    await listen(one);
    const four = http.createServer((_req, res) => res.end('ok'));
    await listen(four);
    const handles = await addAcceptHandles(four, 4);
    try {
      assert.equal(handles.count, 4);
      assert.equal(Math.max(...(await acceptsPerTurn(one, 12))), 1);
      assert.equal(Math.max(...(await acceptsPerTurn(four, 12))), 4);
    } finally {
      await handles.close();
      one.closeAllConnections();
      four.closeAllConnections();
      await new Promise((r) => one.close(r));
      await new Promise((r) => four.close(r));
    }
  });

  it('close() stops the extra handles at once and resolves when the connections they accepted have finished', async () => {
    let finished = 0;
    let lastFinishAt = 0;
    const server = http.createServer((_req, res) => {
      setTimeout(() => {
        res.end('done');
        finished++;
        lastFinishAt = performance.now();
      }, 300);
    });
    await listen(server);
    const handles = await addAcceptHandles(server, 4);
    const port = (server.address() as AddressInfo).port;
    const results = join(dir, `results-${port}.json`);
    // 12 keep-alive requests sent while this loop is blocked: accepted four a turn, one by each handle.
    const script = `const http = require('http'); const agent = new http.Agent({ keepAlive: true }); const out = [];
      for (let i = 0; i < 12; i++) http.get({ port: ${port}, host: '127.0.0.1', agent }, (res) => { res.resume(); res.on('end', () => { out.push(res.statusCode); if (out.length === 12) require('fs').writeFileSync(${JSON.stringify(results)}, JSON.stringify(out)); }); });
      setTimeout(() => process.exit(0), 20000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } });
    try {
      const until = Date.now() + 1500;
      while (Date.now() < until);
      await new Promise((r) => setTimeout(r, 100)); // accepted, responses pending
      const drained = handles.close();
      const closed = new Promise((r) => server.close(r));
      await drained;
      const drainedAt = performance.now();
      assert.equal(finished, 12, 'drained before the in-flight requests finished');
      assert.ok(drainedAt >= lastFinishAt);
      await closed;
      const waitUntil = Date.now() + 5000;
      while (!existsSync(results) && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(JSON.parse(readFileSync(results, 'utf8')), Array(12).fill(200));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED');
    } finally {
      child.kill();
    }
  });

  it('the gateway serves on every handle (ACCEPT_HANDLES), and close() stops them all', async () => {
    const config = loadConfig({ ACCEPT_HANDLES: '3' }, { databaseUrl: 'memory://', logLevel: 'silent', adminApiKey: 'sk-admin-accept-handles-test' });
    assert.equal(config.acceptHandles, 3);
    const server = await buildServer(config);
    const port = await server.listen({ port: 0, host: '127.0.0.1' });
    assert.equal(server.acceptHandles, 3);
    // Fresh connections each time, so that the handles share them out.
    const agentless = () => fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: 'close' } });
    const statuses = await Promise.all(Array.from({ length: 30 }, agentless).map(async (r) => (await r).status));
    assert.deepEqual(new Set(statuses), new Set([200]));
    await server.close();
    await assert.rejects(agentless(), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED');
  });

  it('ACCEPT_HANDLES must be an integer from 1 to 64', () => {
    assert.throws(() => loadConfig({ ACCEPT_HANDLES: '0' }), /ACCEPT_HANDLES|acceptHandles/);
    assert.throws(() => loadConfig({ ACCEPT_HANDLES: 'many' }), /ACCEPT_HANDLES/);
    assert.equal(loadConfig({}).acceptHandles, 16);
  });
});
