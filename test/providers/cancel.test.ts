import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cancellation } from '../../src/providers/cancel.ts';

test('abort runs each listener once, in order, even when one throws', () => {
  const c = new Cancellation();
  const heard: string[] = [];
  c.addEventListener('abort', () => heard.push('a'));
  c.addEventListener('abort', () => {
    throw new Error('boom');
  });
  c.addEventListener('abort', () => heard.push('c'));
  c.abort('why');
  c.abort('again');
  assert.deepEqual(heard, ['a', 'c']);
  assert.equal(c.reason, 'why');
  assert.throws(() => c.throwIfAborted(), (e) => e === 'why');
});

test('a removed listener is not called; listeners added after the abort are ignored', () => {
  const c = new Cancellation();
  let calls = 0;
  const fn = () => calls++;
  c.addEventListener('abort', fn);
  c.removeEventListener('abort', fn);
  c.abort(1);
  c.addEventListener('abort', fn);
  assert.equal(calls, 0);
});

test('a linked cancellation follows its parent until unlinked', () => {
  const parent = new Cancellation();
  const a = Cancellation.linked(parent);
  const b = Cancellation.linked(parent);
  b.unlink();
  parent.abort('gone');
  assert.equal(a.cancel.aborted, true);
  assert.equal(a.cancel.reason, 'gone');
  assert.equal(b.cancel.aborted, false);
  const late = Cancellation.linked(parent);
  assert.equal(late.cancel.aborted, true);
});

test('undici accepts it as a request signal and aborts the request', async () => {
  const { request } = await import('undici');
  const http = await import('node:http');
  const server = http.createServer(() => {}).listen(0);
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  const c = new Cancellation();
  const pending = request(`http://127.0.0.1:${port}/`, { signal: c });
  setTimeout(() => c.abort(new Error('stop')), 20);
  await assert.rejects(pending, /stop/);
  server.closeAllConnections();
  server.close();
});
