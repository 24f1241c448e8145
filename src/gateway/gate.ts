/**
 * The global concurrency gate: at most `maxInFlight` inference requests run at once (a stream holds its slot
 * until it ends); up to `maxQueue` more wait in FIFO order for at most `queueTimeoutMs`; beyond that the answer is
 * 503 with Retry-After. Ops and admin routes never pass through it.
 */
import { unavailable } from '../errors.ts';
import type { CancelSignal } from '../providers/cancel.ts';
import type { Metrics } from '../telemetry/metrics.ts';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

export interface GateOptions {
  maxInFlight: number;
  maxQueue: number;
  queueTimeoutMs: number;
}

export class ConcurrencyGate {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  rejected = 0;

  constructor(
    readonly opts: GateOptions,
    private readonly metrics: Metrics,
  ) {}

  /** Resolves with a release function (call it exactly once); synchronous when a slot is free. */
  acquire(signal?: CancelSignal): (() => void) | Promise<() => void> {
    if (this.inFlight < this.opts.maxInFlight && this.queue.length === 0) {
      this.inFlight++;
      this.metrics.inferenceInFlight.set(this.inFlight);
      return this.releaser();
    }
    if (this.queue.length >= this.opts.maxQueue) {
      this.rejected++;
      throw unavailable('The gateway is at capacity; retry shortly.', 'gateway_overloaded', 1);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          this.inFlight++;
          this.metrics.inferenceInFlight.set(this.inFlight);
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          this.remove(waiter);
          this.rejected++;
          reject(unavailable('Timed out waiting for capacity; retry shortly.', 'gateway_overloaded', Math.max(1, Math.ceil(this.opts.queueTimeoutMs / 1000))));
        }, this.opts.queueTimeoutMs),
      };
      const onAbort = () => {
        this.remove(waiter);
        clearTimeout(waiter.timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.metrics.inferenceQueued.set(this.queue.length);
    });
  }

  private remove(w: Waiter): void {
    const i = this.queue.indexOf(w);
    if (i >= 0) this.queue.splice(i, 1);
    this.metrics.inferenceQueued.set(this.queue.length);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      const next = this.queue.shift();
      this.metrics.inferenceQueued.set(this.queue.length);
      if (next) next.grant();
      else this.metrics.inferenceInFlight.set(this.inFlight);
    };
  }

  stats() {
    return {
      in_flight: this.inFlight,
      queued: this.queue.length,
      max_in_flight: this.opts.maxInFlight,
      max_queue: this.opts.maxQueue,
      queue_timeout_ms: this.opts.queueTimeoutMs,
      utilization: this.opts.maxInFlight ? Math.round((this.inFlight / this.opts.maxInFlight) * 1000) / 1000 : 0,
      rejected_total: this.rejected,
    };
  }
}
