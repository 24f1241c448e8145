/**
 * ChatStream: a streaming chat response as the gateway reads it. Pull-based and batched: `read()` hands out
 * every chunk decoded since the last call (one upstream read, usually), so the relay costs one promise per
 * network read rather than a chain of async generators per chunk.
 */
import type { ChatChunk, StreamDecoder, Usage } from './types.ts';
import type { BodyConsumer, BodyControl } from './transport.ts';

export interface ChatStream {
  /** Usage reported by the upstream; final once `read()` returned undefined. */
  readonly usage: Usage | undefined;
  /** The chunks that arrived since the last call (waits for at least one); undefined once the stream ended. Rejects on failure. */
  read(): Promise<ChatChunk[] | undefined>;
  /** Stops reading and releases the upstream connection (the consumer left early). Idempotent. */
  close(): void;
}

/** Decoded chunks waiting for the reader beyond which the upstream socket is paused. */
const HIGH_WATER_CHUNKS = 256;

/** A ChatStream over an HTTP response body, delivered by the transport, and the wire format's decoder. */
export class DecodedBodyStream implements ChatStream, BodyConsumer {
  private queue: ChatChunk[] = [];
  private ended = false;
  private paused = false;
  private failure: unknown;
  private waiter: { resolve: (chunks: ChatChunk[] | undefined) => void; reject: (err: unknown) => void } | undefined;

  constructor(
    private readonly control: BodyControl,
    private readonly decoder: StreamDecoder,
  ) {}

  get usage(): Usage | undefined {
    return this.decoder.usage;
  }

  read(): Promise<ChatChunk[] | undefined> {
    if (this.queue.length) {
      const out = this.queue;
      this.queue = [];
      if (this.paused && !this.ended) {
        this.paused = false;
        this.control.resume();
      }
      return Promise.resolve(out);
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.control.abort();
  }

  data(bytes: Buffer): void {
    if (this.ended) return;
    let chunks: ChatChunk[];
    try {
      chunks = this.decoder.push(bytes);
    } catch (err) {
      return this.fail(err);
    }
    if (chunks.length === 0) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      return waiter.resolve(chunks);
    }
    for (let i = 0; i < chunks.length; i++) this.queue.push(chunks[i]);
    if (this.queue.length >= HIGH_WATER_CHUNKS && !this.paused) {
      this.paused = true;
      this.control.pause();
    }
  }

  end(): void {
    if (this.ended) return;
    let rest: ChatChunk[];
    try {
      rest = this.decoder.end();
    } catch (err) {
      return this.fail(err);
    }
    this.ended = true;
    for (let i = 0; i < rest.length; i++) this.queue.push(rest[i]);
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    const out = this.queue.length ? this.queue : undefined;
    this.queue = [];
    waiter.resolve(out);
  }

  error(err: unknown): void {
    if (this.ended) return;
    this.fail(err);
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.ended = true;
    // Frees the connection; chunks already queued are still handed out before the failure.
    this.control.abort();
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    waiter.reject(err);
  }
}

/** A ChatStream over chunks produced in-process (the mock provider): one chunk per read. */
export function iteratorStream(chunks: AsyncIterator<ChatChunk>, usage: () => Usage | undefined): ChatStream {
  return {
    get usage() {
      return usage();
    },
    read: () => chunks.next().then((r) => (r.done ? undefined : [r.value])),
    close: () => void chunks.return?.(),
  };
}
