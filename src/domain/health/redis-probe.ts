/**
 * Redis reachability for /health: one lazily opened connection, pinged with a short timeout. A failed
 * connection is dropped and reopened on the next check, so a probe never retries in the background.
 */
import type { createClient } from 'redis';
import { loadRedis } from '../../store/redis.ts';

type Client = ReturnType<typeof createClient>;

export interface RedisStatus {
  ok: boolean;
  latency_ms: number | null;
  error: string | null;
}

export class RedisProbe {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 1000,
  ) {}

  private connect(): Promise<Client> {
    if (this.client?.isReady) return Promise.resolve(this.client);
    this.connecting ??= (async () => {
      const { createClient } = await loadRedis();
      const client: Client = createClient({ url: this.url, socket: { connectTimeout: this.timeoutMs, reconnectStrategy: false } });
      client.on('error', () => {}); // reported through ping(); never crash the process
      client.on('end', () => {
        if (this.client === client) this.client = undefined;
      });
      try {
        await client.connect();
      } catch (err) {
        client.destroy();
        throw err;
      }
      this.client = client;
      return client;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async ping(): Promise<RedisStatus> {
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      const pong = await Promise.race([this.connect().then((c) => c.ping()), timeout]);
      return { ok: pong === 'PONG', latency_ms: Math.round((performance.now() - t0) * 100) / 100, error: null };
    } catch (err) {
      // The message says what failed (refused, timeout) without echoing the URL and its password.
      return { ok: false, latency_ms: null, error: ((err as Error).message ?? 'unreachable').replace(/redis(s)?:\/\/\S+/g, '<redis>') };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const c = this.client ?? (await this.connecting?.catch(() => undefined));
    this.client = undefined;
    if (c) c.destroy();
  }
}
