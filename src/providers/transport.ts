/**
 * HTTP transport to upstreams: one undici Agent with keep-alive pools per origin, and the mapping of
 * network failures onto UpstreamError.
 */
import { Agent, type Dispatcher } from 'undici';
import type { UpstreamRequest } from './types.ts';
import { upstreamTimeout, upstreamUnreachable, UpstreamError } from './errors.ts';
import { Cancellation, type CancelSignal } from './cancel.ts';

/** One keep-alive agent per connect timeout in use (almost always just the default one). */
const agents = new Map<number, Agent>();
let defaultConnectTimeoutMs = 10_000;

/** Sets the connect timeout used when a provider sets none (UPSTREAM_CONNECT_TIMEOUT_MS). */
export function configureTransport(opts: { connectTimeoutMs: number }): void {
  defaultConnectTimeoutMs = opts.connectTimeoutMs;
}

function dispatcher(connectTimeoutMs = defaultConnectTimeoutMs): Agent {
  let agent = agents.get(connectTimeoutMs);
  if (!agent) {
    agent = new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: connectTimeoutMs } });
    agents.set(connectTimeoutMs, agent);
  }
  return agent;
}

/** Closes pooled upstream connections (graceful shutdown, tests). */
export async function closeTransport(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

export interface SendOptions {
  signal?: CancelSignal;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs?: number;
}

/** undici's own timers tick about once a second; shorter first-byte timeouts get a precise timer of ours. */
const PRECISE_BELOW_MS = 2000;
const FIRST_BYTE = Symbol('first-byte timeout');

/**
 * The signal a request runs under: the caller's, or for a short first-byte timeout a cancellation linked to it
 * that our own timer aborts. It stays linked for the body: a client that leaves mid-stream still aborts the read.
 */
function requestSignal(opts: SendOptions): { signal: CancelSignal | undefined; timer: NodeJS.Timeout | undefined } {
  if (opts.firstByteTimeoutMs >= PRECISE_BELOW_MS) return { signal: opts.signal, timer: undefined };
  const own = opts.signal ? Cancellation.linked(opts.signal).cancel : new Cancellation();
  return { signal: own, timer: setTimeout(() => own.abort(FIRST_BYTE), opts.firstByteTimeoutMs) };
}

/** A failure of the request as the pipeline sees it: our first-byte timer, the caller's abort, or the network. */
function requestFailure(err: unknown, signal: CancelSignal | undefined, opts: SendOptions): unknown {
  if (signal?.reason === FIRST_BYTE) return upstreamTimeout('before the first byte');
  return mapNetworkError(err, opts.signal);
}

/** Receives a response body chunk by chunk. Failures arrive mapped (UpstreamError, or the caller's abort reason). */
export interface BodyConsumer {
  data(chunk: Buffer): void;
  end(): void;
  error(err: unknown): void;
}

/** Flow control over a response body being delivered. */
export interface BodyControl {
  pause(): void;
  resume(): void;
  /** Stops the response and frees its connection; nothing more is delivered. */
  abort(): void;
}

/**
 * A whole response body as text, for answers that are not streamed. A failure mid-body rejects `text` (already
 * mapped, as every consumer's failures are) unless `lenient`, when `text` is whatever arrived.
 */
export class TextBody implements BodyConsumer {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private resolve!: (text: string) => void;
  private reject!: (err: unknown) => void;
  readonly text = new Promise<string>((resolve, reject) => {
    this.resolve = resolve;
    this.reject = reject;
  });

  constructor(
    readonly statusCode: number,
    readonly headers: Record<string, string | string[] | undefined>,
    private readonly limit = Number.POSITIVE_INFINITY,
    private readonly lenient = false,
  ) {
    // A failure before anyone awaits the text must not count as an unhandled rejection; awaiting still sees it.
    this.text.catch(() => {});
  }

  data(chunk: Buffer): void {
    if (this.size >= this.limit) return;
    this.parts.push(chunk);
    this.size += chunk.length;
  }

  end(): void {
    this.resolve(this.parts.length === 1 ? this.parts[0].toString('utf8') : Buffer.concat(this.parts).toString('utf8'));
  }

  error(err: unknown): void {
    if (this.lenient) this.end();
    else this.reject(err);
  }
}

/** The body of an error status, as text: bounded (it is read for its message only), and whatever arrived if the read failed. */
export class ErrorBody extends TextBody {
  constructor(statusCode: number, headers: Record<string, string | string[] | undefined>, limit = 64 * 1024) {
    super(statusCode, headers, limit, true);
  }
}

class ConsumerGone extends Error {
  constructor() {
    super('the response body is no longer wanted');
  }
}

/**
 * Sends a request and hands its body to a consumer straight from undici's parser, with no Readable in between
 * (a relayed stream reads one small chunk per event; without the stream machinery, reading one costs about 14%
 * less user CPU, and a whole answer skips undici's request() layer). `accept` sees the status and headers and
 * returns the consumer; the promise resolves with it once the headers arrived, or rejects with a failure before
 * them. Timeouts: `firstByteTimeoutMs` until the headers (precise below 2 s), `idleTimeoutMs` between body chunks.
 * The caller's abort, and network failures mapped to UpstreamError, reach the consumer's `error` (or reject).
 */
export function dispatchStream<T extends BodyConsumer>(req: UpstreamRequest, opts: SendOptions, accept: (statusCode: number, headers: Record<string, string | string[] | undefined>, control: BodyControl) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const { signal, timer } = requestSignal(opts);
    let controller: Dispatcher.DispatchController | undefined;
    let consumer: T | undefined;
    let done = false;
    const onAbort = () => controller?.abort(new ConsumerGone());
    const finish = () => {
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const control: BodyControl = {
      pause: () => controller?.pause(),
      resume: () => controller?.resume(),
      abort: () => {
        if (done) return;
        finish();
        controller?.abort(new ConsumerGone());
      },
    };
    if (signal?.aborted) return reject(requestFailure(signal.reason, signal, opts));
    signal?.addEventListener('abort', onAbort, { once: true });
    const url = new URL(req.url);
    dispatcher(opts.connectTimeoutMs).dispatch(
      { origin: url.origin, path: url.pathname + url.search, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body, headersTimeout: opts.firstByteTimeoutMs, bodyTimeout: opts.idleTimeoutMs },
      {
        onRequestStart(c) {
          controller = c;
          if (signal?.aborted) c.abort(new ConsumerGone());
        },
        onResponseStart(_c, statusCode, headers) {
          if (statusCode < 200 || consumer) return; // 1xx informational
          clearTimeout(timer);
          try {
            consumer = accept(statusCode, headers, control);
          } catch (err) {
            finish();
            controller?.abort(new ConsumerGone());
            return reject(err);
          }
          resolve(consumer);
        },
        onResponseData(_c, chunk) {
          if (!done) consumer?.data(chunk);
        },
        onResponseEnd() {
          if (done) return;
          finish();
          consumer?.end();
        },
        onResponseError(_c, err) {
          if (done) return;
          finish();
          const failure = requestFailure(err, signal, opts);
          if (consumer) consumer.error(failure);
          else reject(failure);
        },
      },
    );
  });
}

/** Network-level failures (not HTTP statuses) as UpstreamErrors; a caller's own abort passes through. */
export function mapNetworkError(err: unknown, signal?: CancelSignal): unknown {
  if (err instanceof UpstreamError) return err;
  if (signal?.aborted) return signal.reason ?? err;
  const e = err as { code?: string; message?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return upstreamTimeout('before the first byte');
  if (code === 'UND_ERR_BODY_TIMEOUT') return upstreamTimeout('waiting for more data');
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return upstreamTimeout('connecting');
  if (e?.name === 'AbortError') return err;
  return upstreamUnreachable(code ? `${code}${e.message ? ` (${e.message})` : ''}` : (e?.message ?? String(err)));
}
