/**
 * Cache invalidation across instances. Every change to something cached (a key, a user, the catalog) is
 * published here; this instance applies it at once, and every other instance does too: over Redis pub/sub, or
 * without Redis over PostgreSQL's LISTEN/NOTIFY (which also carries the CLI's changes to a running server).
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
   * Local only, never published: the subscription (Redis or PostgreSQL) dropped and is back, so invalidations sent meanwhile
   * were lost. Every listener with a cache must drop all of it (entries may predate a revocation).
   */
  | { type: 'resync' };

type Listener = (msg: Invalidation) => void;

/** How invalidations travel between instances. */
export interface BusTransport {
  /** Delivers what other publishers sent; `onResync` when messages may have been lost (a reconnect). */
  subscribe(onMessage: (raw: string) => void, onResync: () => void): Promise<void>;
  publish(raw: string): Promise<void>;
  close?(): Promise<void>;
}

const CHANNEL = 'switchyard:invalidate';

export function redisBusTransport(redis: RedisHandle): BusTransport {
  return {
    async subscribe(onMessage, onResync) {
      // The subscriber connected before this, so every later 'ready' is a reconnect. node-redis emits it
      // after re-subscribing, so from here on nothing is missed; what was missed before is covered by the resync.
      redis.subscriber.on('ready', onResync);
      await redis.subscriber.subscribe(CHANNEL, onMessage);
    },
    publish: async (raw) => {
      await redis.client.publish(CHANNEL, raw);
    },
  };
}

export class CacheBus {
  private readonly listeners: Listener[] = [];
  /** Tags our own messages so we do not apply them twice. */
  private readonly origin = randomUUID();
  /** Broadcasts still on their way: a short-lived process (the CLI) must not close before they left. */
  private readonly sending = new Set<Promise<void>>();

  constructor(private readonly transport?: BusTransport) {}

  async start(): Promise<void> {
    await this.transport?.subscribe(
      (raw) => {
        try {
          const { origin, msg } = JSON.parse(raw) as { origin: string; msg: Invalidation };
          if (origin !== this.origin) this.deliver(msg);
        } catch {
          /* not ours */
        }
      },
      () => this.deliver({ type: 'resync' }),
    );
  }

  /** Waits for broadcasts in flight, then stops listening. */
  async close(): Promise<void> {
    await Promise.all(this.sending);
    await this.transport?.close?.();
  }

  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Applies locally (synchronously) and broadcasts to the fleet. */
  publish(msg: Exclude<Invalidation, { type: 'resync' }>): void {
    this.deliver(msg);
    if (!this.transport) return;
    const sent: Promise<void> = this.transport
      .publish(JSON.stringify({ origin: this.origin, msg }))
      .catch(() => {})
      .finally(() => this.sending.delete(sent));
    this.sending.add(sent);
  }

  private deliver(msg: Invalidation): void {
    for (const l of this.listeners) l(msg);
  }
}
