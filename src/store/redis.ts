/**
 * Optional Redis (REDIS_URL): one command client and one subscriber, for state shared by a fleet
 * (rate limits, cache invalidation). Nothing here holds business rules.
 */
import type { RedisClientType } from 'redis';

/**
 * The client library loads with the first connection (about 25 MB of RSS): a gateway without REDIS_URL never
 * pays for it, and then no error can be a Redis one.
 */
type RedisModule = typeof import('redis');
let redisModule: RedisModule | undefined;
export async function loadRedis(): Promise<RedisModule> {
  redisModule ??= await import('redis');
  return redisModule;
}

export type RedisClient = RedisClientType;

export interface RedisHandle {
  client: RedisClient;
  /** A dedicated connection in subscriber mode. */
  subscriber: RedisClient;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Connection errors, reported without flooding: while Redis is down the client retries every few seconds and
 * fails each time, on both connections. The first error of an outage is reported at once; after that at most
 * one per `everyMs`, with how many were held back. A reconnect starts afresh (`recovered`).
 */
export class ErrorThrottle {
  private lastAt = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly report: (err: unknown, heldBack: number) => void,
    private readonly everyMs = 60_000,
  ) {}

  error(err: unknown, now = Date.now()): void {
    if (now - this.lastAt < this.everyMs) {
      this.held++;
      return;
    }
    this.report(err, this.held);
    this.lastAt = now;
    this.held = 0;
  }

  recovered(): void {
    this.lastAt = Number.NEGATIVE_INFINITY;
    this.held = 0;
  }
}

export async function openRedis(url: string, onError: (err: unknown, heldBack: number) => void): Promise<RedisHandle> {
  const { createClient } = await loadRedis();
  const errors = new ErrorThrottle(onError);
  // No offline queue on the command client: while Redis is unreachable a command fails at once (and the
  // request gets a 503) instead of waiting for a reconnect that may take minutes.
  const client: RedisClient = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(retries * 100, 3000) },
  });
  const report = (err: unknown) => errors.error(err);
  client.on('error', report);
  client.on('ready', () => errors.recovered());
  await client.connect();
  const subscriber = client.duplicate();
  subscriber.on('error', report);
  await subscriber.connect();
  return {
    client,
    subscriber,
    async ping() {
      try {
        const pong = await Promise.race([client.ping(), new Promise<string>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000))]);
        return pong === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      // QUIT waits for Redis to answer; during an outage it would hold shutdown forever, so it gets two seconds.
      let timer: NodeJS.Timeout | undefined;
      const patience = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([Promise.allSettled([subscriber.quit(), client.quit()]), patience]);
      clearTimeout(timer);
      for (const c of [subscriber, client]) if (c.isOpen) c.destroy();
    },
  };
}

/** Deletes every key matching `pattern` (SCAN, in pages: never a blocking KEYS). */
export async function deleteKeys(redis: RedisHandle, pattern: string): Promise<void> {
  for await (const keys of redis.client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
    if (keys.length) await redis.client.del(keys);
  }
}

/** True when `err` says Redis could not be reached (as opposed to a command Redis refused). */
export function isRedisUnavailable(err: unknown): boolean {
  const r = redisModule;
  if (!r || !(err instanceof Error)) return false;
  return (
    err instanceof r.ClientOfflineError ||
    err instanceof r.ClientClosedError ||
    err instanceof r.ConnectionTimeoutError ||
    err instanceof r.SocketClosedUnexpectedlyError ||
    err instanceof r.SocketTimeoutError ||
    err instanceof r.TimeoutError ||
    err instanceof r.ReconnectStrategyError ||
    err instanceof r.DisconnectsClientError
  );
}
