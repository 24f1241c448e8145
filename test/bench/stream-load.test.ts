/**
 * The benchmark's stream load generator (bench/load/streams.ts) scans body bytes as they arrive; a miscount
 * would make the stream scenario pass or fail for the wrong reason. Each stream here is written in pieces
 * that split `data: ` and `"content":"` across reads, with pauses so the pieces arrive as separate reads.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runStreams } from '../../bench/load/streams.ts';

const frame = (content: string | null, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }] })}\n\n`;

/** The body of each stream, by path, as the pieces the server writes 5 ms apart. */
const BODIES: Record<string, string[]> = {
  // role chunk (empty content), then "Hi" split inside `"content":"`, then `data: ` split at every offset.
  '/ok': (() => {
    const all = frame('') + frame('Hi') + frame(' there') + frame(null, 'stop') + 'data: [DONE]\n\n';
    const cuts = [all.indexOf('"content":"Hi') + 5];
    const splits = [2, 1, 5];
    for (let at = all.indexOf('data: ', cuts[0]), i = 0; at !== -1; at = all.indexOf('data: ', at + 1), i++) cuts.push(at + splits[i]);
    return cuts.map((cut, i) => all.slice(i ? cuts[i - 1] : 0, cut)).concat(all.slice(cuts[cuts.length - 1]));
  })(),
  // Only the role chunk's empty content: a stream without a first token.
  '/no-content': [frame(''), frame(null, 'stop'), 'data: [DONE]\n\n'],
  '/no-done': [frame(''), frame('Hi'), frame(null, 'stop')],
  '/error-event': [frame('Hi'), `data: {"error":{"message":"boom"}}\n\n`, 'data: [DONE]\n\n'],
};

describe('bench stream load generator', () => {
  let server: Server;
  let origin: string;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/refused') {
        res.writeHead(429, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"slow down"}}');
        return;
      }
      const pieces = BODIES[req.url ?? ''];
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const next = () => {
        if (i === pieces.length) return res.end();
        res.write(pieces[i++]);
        setTimeout(next, 5);
      };
      next();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (path: string, streams = 3) => runStreams({ origin, path, headers: { 'content-type': 'application/json' }, body: '{}', streams, rampMs: 20 });

  it('counts every event, split reads included, and times the first content', async () => {
    assert.ok(BODIES['/ok'].some((p) => p.endsWith('da')), 'the fixture splits a data: prefix');
    const r = await run('/ok');
    assert.deepEqual(r.failures, []);
    assert.equal(r.completed, 3);
    assert.equal(r.eventsPerStream, 5);
    assert.equal(r.ttft.values().length, 3);
    assert.equal(r.peakOpen >= 1, true);
    assert.ok(r.loadCpuMs > 0);
  });

  it('an empty content string is not a first token', async () => {
    const r = await run('/no-content', 2);
    assert.deepEqual(r.failures, []);
    assert.equal(r.completed, 2);
    assert.equal(r.eventsPerStream, 3);
    assert.equal(r.ttft.values().length, 0);
  });

  it('fails a stream without [DONE], with an error event, or with a non-200 status', async () => {
    const noDone = await run('/no-done', 2);
    assert.equal(noDone.completed, 0);
    assert.match(noDone.failures[0], /without \[DONE\] after 3 events/);
    const errored = await run('/error-event', 1);
    assert.deepEqual(errored.failures, ['error event inside the stream']);
    const refused = await run('/refused', 1);
    assert.match(refused.failures[0], /^HTTP 429: \{"error":\{"message":"slow down"\}\}/);
  });
});
