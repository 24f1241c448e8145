/**
 * Cache invalidation across instances. Every change to something cached (a key, a user, the catalog) is
 * published here; this instance applies it at once, and with Redis every other instance does too.
 */
import { randomUUID } from 'node:crypto';
import type { RedisHandle } from '../store/redis.ts';

export type Invalidation =
  | { type: 'key'; id: string }
  | { type: 'user'; id: string }
  | { type: 'org'; id: string }
  /** A session (refresh-token family) ended: its access tokens are refused from now on. */
  | { type: 'session_ended'; family: string }
  | { type: 'account'; id: string }
  | { type: 'breaker'; id: string; state: 'closed' | 'open' | 'half_open'; openUntil: number; trips: number }
  | { type: 'catalog' }
  /**
   * Local only, never published: the Redis subscription dropped and is back, so invalidations sent meanwhile
   * were lost. Every listener with a cache must drop all of it (entries may predate a revocation).
   */
  | { type: 'resync' };

type Listener = (msg: Invalidation) => void;

const CHANNEL = 'switchyard:invalidate';

export class CacheBus {
  private readonly listeners: Listener[] = [];
  /** Tags our own messages so we do not apply them twice. */
  private readonly origin = randomUUID();

  constructor(private readonly redis?: RedisHandle) {}

  async start(): Promise<void> {
    if (!this.redis) return;
    // The subscriber connected before start(), so every later 'ready' is a reconnect. node-redis emits it
    // after re-subscribing, so from here on nothing is missed; what was missed before is covered by the resync.
    this.redis.subscriber.on('ready', () => this.deliver({ type: 'resync' }));
    await this.redis.subscriber.subscribe(CHANNEL, (raw) => {
      try {
        const { origin, msg } = JSON.parse(raw) as { origin: string; msg: Invalidation };
        if (origin !== this.origin) this.deliver(msg);
      } catch {
        /* not ours */
      }
    });
  }

  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Applies locally (synchronously) and broadcasts to the fleet. */
  publish(msg: Exclude<Invalidation, { type: 'resync' }>): void {
    this.deliver(msg);
    if (this.redis) void this.redis.client.publish(CHANNEL, JSON.stringify({ origin: this.origin, msg })).catch(() => {});
  }

  private deliver(msg: Invalidation): void {
    for (const l of this.listeners) l(msg);
  }
}
