/** Request-path Redis commands: answers pass through untouched, and one that never comes fails at its deadline. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommandDeadlines } from '../../src/store/redis.ts';

class Overdue extends Error {}

describe('CommandDeadlines', () => {
  it('passes answers and errors through, and fails a command left unanswered past its deadline', async () => {
    const deadlines = new CommandDeadlines(100, () => new Overdue('late'));
    // The sweep's timer is unref'd (it must not keep a server alive); this test has nothing else running.
    const alive = setInterval(() => {}, 1000);
    try {
      assert.equal(await deadlines.within(Promise.resolve('PONG')), 'PONG');
      await assert.rejects(deadlines.within(Promise.reject(new Error('WRONGTYPE'))), /WRONGTYPE/);
      const started = Date.now();
      await assert.rejects(
        deadlines.within(new Promise(() => {})),
        (err) => err instanceof Overdue,
      );
      const waited = Date.now() - started;
      assert.ok(waited >= 100 && waited < 400, `failed after ${waited} ms`);
      // An answer that comes after the deadline changes nothing.
      let answer!: (v: string) => void;
      const late = deadlines.within(new Promise<string>((r) => (answer = r)));
      deadlines.sweep(Date.now() + 101);
      answer('too late');
      await assert.rejects(late, (err) => err instanceof Overdue);
    } finally {
      clearInterval(alive);
      deadlines.close();
    }
  });
});
