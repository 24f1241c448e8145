/**
 * Request loggers (telemetry/logger.ts): fastify's per-request child logger is made only when a request logs at
 * an enabled level, and then carries the request id and the same redaction as the root logger.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import pino from 'pino';
import { lazyChildLoggerFactory, loggerOptions, type Logger } from '../../src/telemetry/logger.ts';

function capture(level: string): { root: Logger; lines: () => Record<string, unknown>[]; children: () => number } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const root = pino({ ...loggerOptions(level), timestamp: false }, stream);
  let children = 0;
  const child = root.child.bind(root);
  root.child = ((bindings, opts) => {
    children++;
    return child(bindings, opts);
  }) as Logger['child'];
  return { root, lines: () => out.map((l) => JSON.parse(l)), children: () => children };
}

describe('request loggers', () => {
  it('no child is made until something logs at an enabled level', () => {
    const log = capture('info');
    const request = lazyChildLoggerFactory(log.root, { reqId: 'req_1' }, {});
    request.debug('below the level');
    assert.equal(request.level, 'info');
    assert.equal(request.isLevelEnabled('debug'), false);
    assert.equal(log.children(), 0);
    request.warn({ provider: { apiKey: 'sk-secret-value' } }, 'refused');
    request.error('failed');
    assert.equal(log.children(), 1);
    const lines = log.lines();
    assert.deepEqual(
      lines.map((l) => [l.reqId, l.msg, l.level]),
      [
        ['req_1', 'refused', 40],
        ['req_1', 'failed', 50],
      ],
    );
    assert.deepEqual(lines[0].provider, { apiKey: '[redacted]' });
  });

  it('a route log level applies to the request logger', () => {
    const log = capture('info');
    const request = lazyChildLoggerFactory(log.root, { reqId: 'req_2' }, { level: 'debug' });
    assert.equal(request.level, 'debug');
    request.debug('route debug');
    assert.deepEqual(log.lines().map((l) => [l.reqId, l.msg]), [['req_2', 'route debug']]);
  });

  it('through fastify: failures are logged with the request id, quiet requests make no child', async () => {
    const log = capture('info');
    const app = Fastify({ loggerInstance: log.root, disableRequestLogging: true, childLoggerFactory: (l, b, o) => lazyChildLoggerFactory(l as Logger, b, o) });
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/loud', async (request) => {
      request.log.error({ headers: { authorization: 'Bearer sk-secret' } }, 'upstream failed');
      return { ok: false };
    });
    try {
      await app.ready();
      const before = log.children(); // fastify's own, at start-up
      assert.equal((await app.inject({ url: '/quiet' })).statusCode, 200);
      assert.equal(log.children(), before);
      const res = await app.inject({ url: '/loud' });
      assert.equal(res.statusCode, 200);
      const line = log.lines().find((l) => l.msg === 'upstream failed');
      assert.ok(line, 'the failure was logged');
      assert.equal(typeof line.reqId, 'string');
      assert.deepEqual(line.headers, { authorization: '[redacted]' });
      assert.equal(log.children(), before + 1);
    } finally {
      await app.close();
    }
  });
});
