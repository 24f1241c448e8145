/**
 * Optional Redis (REDIS_URL): one command client and one subscriber, for state shared by a fleet
 * (rate limits, cache invalidation). Nothing here holds business rules.
 */
import { createClient, type RedisClientType } from 'redis';

export type RedisClient = RedisClientType;

export interface RedisHandle {
  client: RedisClient;
  /** A dedicated connection in subscriber mode. */
  subscriber: RedisClient;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRedis(url: string, onError: (err: unknown) => void): Promise<RedisHandle> {
  const client: RedisClient = createClient({ url, socket: { connectTimeout: 5000, reconnectStrategy: (retries) => Math.min(retries * 100, 3000) } });
  client.on('error', onError);
  await client.connect();
  const subscriber = client.duplicate();
  subscriber.on('error', onError);
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
      await Promise.allSettled([subscriber.quit(), client.quit()]);
    },
  };
}
