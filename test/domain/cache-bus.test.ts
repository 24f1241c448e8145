/**
 * The cache bus across a Redis outage: invalidations published while the subscriber was disconnected are
 * lost, so when it reconnects every cache fed by the bus is dropped (a revoked key must not survive). Uses a
 * fake subscriber that emits node-redis's 'ready' as a reconnect would; the user cache reads a fake database.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { CacheBus, redisBusTransport, type Invalidation } from '../../src/domain/cache-bus.ts';
import { KeyCache } from '../../src/domain/keys/key-cache.ts';
import { UserService } from '../../src/domain/users/users.ts';
import type { KeyRecord } from '../../src/domain/keys/records.ts';
import type { RedisHandle } from '../../src/store/redis.ts';

function fakeRedis() {
  const subscriber = Object.assign(new EventEmitter(), {
    handler: undefined as ((raw: string) => void) | undefined,
    async subscribe(_channel: string, handler: (raw: string) => void) {
      subscriber.handler = handler;
    },
  });
  const client = { async publish() {} };
  return { subscriber, handle: { client, subscriber, ping: async () => true, close: async () => {} } as unknown as RedisHandle };
}

const userRow = (id: string, status: 'active' | 'suspended' = 'active') => ({
  id,
  email: `${id}@example.test`,
  password_hash: null,
  name: null,
  role: 'user',
  tier: 'free',
  status,
  limits: null,
  trial_expires_at: null,
  trial_converted_at: null,
  sessions_valid_after: null,
  created_at: new Date(),
  updated_at: new Date(),
});

/** A stand-in for kysely's `selectFrom('users').selectAll().where(...).executeTakeFirst()`. */
function fakeDb(read: () => Promise<unknown>) {
  const chain: any = { selectAll: () => chain, where: () => chain, executeTakeFirst: read };
  return { selectFrom: () => chain } as any;
}

describe('CacheBus reconnect', () => {
  it('a reconnect of the subscriber delivers a local resync to every listener (and never publishes it)', async () => {
    const { subscriber, handle } = fakeRedis();
    const bus = new CacheBus(redisBusTransport(handle));
    const seen: Invalidation[] = [];
    bus.on((m) => seen.push(m));
    await bus.start();
    assert.deepEqual(seen, [], 'the first connection is not a reconnect');
    subscriber.emit('ready');
    assert.deepEqual(seen, [{ type: 'resync' }]);
    // Messages from the fleet still arrive after the reconnect.
    subscriber.handler!(JSON.stringify({ origin: 'another-instance', msg: { type: 'key', id: 'key_1' } }));
    assert.deepEqual(seen.at(-1), { type: 'key', id: 'key_1' });
  });

  it('the user cache is dropped on resync, and a load that was reading meanwhile does not cache the old row', async () => {
    const { subscriber, handle } = fakeRedis();
    const bus = new CacheBus(redisBusTransport(handle));
    let status: 'active' | 'suspended' = 'active';
    let gate: Promise<void> | undefined;
    const users = new UserService(
      fakeDb(async () => {
        const row = userRow('usr_1', status);
        await gate;
        return row;
      }),
      bus,
    );
    await bus.start();
    assert.equal((await users.load('usr_1'))!.status, 'active');
    assert.ok(users.cached('usr_1'));
    // Suspended elsewhere while our subscription was down: the invalidation never reached us.
    status = 'suspended';
    subscriber.emit('ready');
    assert.equal(users.cached('usr_1'), undefined, 'dropped on reconnect');
    assert.equal((await users.load('usr_1'))!.status, 'suspended');

    // A load that read the old row before a resync must not cache it.
    users.clear();
    status = 'active';
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const inFlight = users.load('usr_1');
    await new Promise((r) => setImmediate(r));
    status = 'suspended';
    subscriber.emit('ready');
    open();
    gate = undefined;
    await inFlight;
    assert.equal(users.cached('usr_1')?.status, 'suspended', 'read again after the resync, not cached stale');
  });

  it('KeyCache.clear also refuses lookups that started before it', () => {
    const cache = new KeyCache();
    const key = { id: 'key_1', userId: 'usr_1', orgId: null } as KeyRecord;
    const epoch = cache.epoch;
    cache.clear();
    assert.equal(cache.set('hash', key, Date.now(), epoch), false);
    assert.equal(cache.get('hash', Date.now()), undefined);
    assert.equal(cache.set('hash', key, Date.now(), cache.epoch), true);
    assert.ok(cache.get('hash', Date.now()));
  });
});

describe('CacheBus close', () => {
  it('waits for broadcasts in flight before closing its transport (a CLI process must not exit before they leave)', async () => {
    const events: string[] = [];
    let release!: () => void;
    const bus = new CacheBus({
      subscribe: async () => {},
      publish: () => new Promise<void>((resolve) => (release = () => (events.push('published'), resolve()))),
      close: async () => {
        events.push('closed');
      },
    });
    await bus.start();
    bus.publish({ type: 'key', id: 'key_1' });
    const closing = bus.close();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(events, [], 'close waits');
    release();
    await closing;
    assert.deepEqual(events, ['published', 'closed']);
  });

  it('a failed broadcast does not fail close', async () => {
    const bus = new CacheBus({ subscribe: async () => {}, publish: async () => Promise.reject(new Error('down')) });
    bus.publish({ type: 'user', id: 'usr_1' });
    await bus.close();
  });
});
