/** Graceful shutdown: in-flight streams finish, new requests are refused, the request log is flushed. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../support/server.ts';

it('close() lets an in-flight stream finish and flushes its log record', async () => {
  const server = await startTestServer({ mockLatencyMs: 300, requestLog: { batchSize: 1000, flushIntervalMs: 60_000, maxQueue: 1000 } });
  const db = server.services.database.db;
  let rows: unknown[] = [];
  const streaming = fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${(server.openai() as any).apiKey}`, 'content-type': 'application/json', 'x-request-id': 'drain-me' },
    body: JSON.stringify({ model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'finish me please' }] }),
  }).then((r) => r.text());
  // Wait until the request is admitted and waiting on the upstream (a fixed pause was too short on a busy host).
  const deadline = Date.now() + 5000;
  while (server.services.gateway.gate.stats().in_flight === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(server.services.gateway.gate.stats().in_flight, 1, 'the stream is in flight');
  // Read the log just before the database closes: the record must already be there.
  const originalClose = server.services.database.close.bind(server.services.database);
  server.services.database.close = async () => {
    rows = await db.selectFrom('request_logs').selectAll().where('request_id', '=', 'drain-me').execute();
    await originalClose();
  };
  await server.close();
  const text = await streaming;
  assert.match(text, /finish /);
  assert.match(text, /data: \[DONE\]/);
  assert.equal(rows.length, 1);
  await assert.rejects(fetch(`${server.url}/live`));
  await server.stop();
});
