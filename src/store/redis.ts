/**
 * Optional Redis (REDIS_URL): one command client and one subscriber, for state shared by a fleet
 * (rate limits, cache invalidation). Nothing here holds business rules.
 */
import { createHash } from 'node:crypto';
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
  /**
   * Runs a command of the request path (rate limits, credit reservations) on the command connection, without
   * node-redis's per-command timer; it fails with node-redis's TimeoutError (a 503) if Redis has not answered
   * within REQUEST_COMMAND_TIMEOUT_MS. See CommandDeadlines.
   */
  request<T>(command: (client: RedisClient) => Promise<T>): Promise<T>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** How long a request-path command may wait for Redis's answer: node-redis's default command timeout. */
export const REQUEST_COMMAND_TIMEOUT_MS = 5000;
/** How often CommandDeadlines looks for overdue commands: a timeout fires up to this much late. */
const DEADLINE_SWEEP_MS = 250;

interface Waiting {
  at: number;
  reject: (err: unknown) => void;
}

/**
 * Deadlines for request-path commands, checked by one sweep. node-redis arms an `AbortSignal.timeout` for every
 * command, which took about 7% of the gateway's CPU with five commands per request, and it only covers the wait
 * before the command is written: a command sent to a Redis that stopped answering waited forever. These
 * deadlines cover the whole wait for the answer, for the price of a set entry.
 */
export class CommandDeadlines {
  private readonly waiting = new Set<Waiting>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly overdue: () => Error,
  ) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(DEADLINE_SWEEP_MS, timeoutMs));
    this.sweeper.unref();
  }

  within<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = { at: Date.now() + this.timeoutMs, reject };
      this.waiting.add(w);
      command.then(
        (value) => {
          this.waiting.delete(w);
          resolve(value);
        },
        (err: unknown) => {
          this.waiting.delete(w);
          reject(err);
        },
      );
    });
  }

  sweep(now: number): void {
    for (const w of this.waiting) {
      if (w.at > now) continue;
      this.waiting.delete(w);
      w.reject(this.overdue());
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
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

/** Start-up could not reach Redis: the process should stop with this one-line message. */
export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/** The URL without its credentials, for messages. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid REDIS_URL)';
  }
}

async function connectBefore(url: string, timeoutMs: number, ...clients: RedisClient[]): Promise<void> {
  let lastError: unknown;
  const note = (err: unknown) => (lastError = err);
  for (const c of clients) c.on('error', note);
  let timer: NodeJS.Timeout | undefined;
  const TIMEOUT = Symbol('timeout');
  const connecting = Promise.all(clients.map((c) => c.connect()));
  try {
    await Promise.race([connecting, new Promise((_, reject) => (timer = setTimeout(() => reject(TIMEOUT), timeoutMs)))]);
  } catch (err) {
    connecting.catch(() => {}); // destroyed below
    for (const c of clients) if (c.isOpen) c.destroy();
    const advice = 'Start it, or unset REDIS_URL to run as a single instance.';
    if (err !== TIMEOUT) throw new RedisUnreachableError(`Redis at ${safeUrl(url)} refused the connection: ${(err as Error).message}. ${advice}`);
    const last = lastError as { message?: string; code?: string } | undefined;
    throw new RedisUnreachableError(`Redis at ${safeUrl(url)} did not answer within ${timeoutMs >= 10_000 ? Math.round(timeoutMs / 1000) : Math.round(timeoutMs / 100) / 10} s (${last?.code ?? last?.message ?? 'no answer'}). ${advice}`);
  } finally {
    clearTimeout(timer);
    for (const c of clients) c.off('error', note);
  }
}

export async function openRedis(url: string, onError: (err: unknown, heldBack: number) => void, startupTimeoutMs: number): Promise<RedisHandle> {
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
  const subscriber = client.duplicate();
  subscriber.on('error', report);
  // connect() retries until Redis answers: at start-up that would wait forever, so it gets a deadline.
  await connectBefore(url, startupTimeoutMs, client, subscriber);
  const { TimeoutError } = await loadRedis();
  // The same connection, with node-redis's per-command timer off (timeout 0): the deadlines stand in for it.
  const untimed = client.withCommandOptions({ timeout: 0 }) as unknown as RedisClient;
  const deadlines = new CommandDeadlines(REQUEST_COMMAND_TIMEOUT_MS, () => new TimeoutError());
  return {
    client,
    subscriber,
    request: (command) => deadlines.within(command(untimed)),
    async ping() {
      try {
        const pong = await Promise.race([client.ping(), new Promise<string>((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000))]);
        return pong === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      deadlines.close();
      // QUIT waits for Redis to answer; during an outage it would hold shutdown forever, so it gets two seconds.
      let timer: NodeJS.Timeout | undefined;
      const patience = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([Promise.allSettled([subscriber.quit(), client.quit()]), patience]);
      clearTimeout(timer);
      for (const c of [subscriber, client]) if (c.isOpen) c.destroy();
    },
  };
}

/**
 * A Lua script run by its SHA1 (EVALSHA), so each call sends a few bytes instead of the source and Redis skips
 * hashing it; the first call on a server that does not know it yet (a restart, a failover, SCRIPT FLUSH) falls
 * back to EVAL, which also caches it there.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script as a request-path command (RedisHandle.request). */
  async run(redis: RedisHandle, keys: string[], args: string[]): Promise<unknown> {
    const options = { keys, arguments: args };
    try {
      return await redis.request((c) => c.evalSha(this.sha, options));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.request((c) => c.eval(this.source, options));
    }
  }
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
