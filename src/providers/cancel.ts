/**
 * Cancellation for the request path. `CancelSignal` is the part of AbortSignal the pipeline uses, and undici
 * accepts anything with addEventListener as a request signal. `Cancellation` implements it without
 * AbortController: creating an AbortSignal costs about 10 µs in Node 20, and every request needs two
 * (the client leaving, the total deadline).
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  throwIfAborted(): void;
}

export class Cancellation implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  /** Aborts once; listeners run once each (as with `{ once: true }`), in the order they were added. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const fn of listeners ?? []) {
      try {
        fn();
      } catch {
        // A listener's failure must not keep the others from hearing of the abort.
      }
    }
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners!.splice(i, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** A cancellation that follows `parent` (aborts with its reason) until `unlink` is called. */
  static linked(parent: CancelSignal): { cancel: Cancellation; unlink: () => void } {
    const cancel = new Cancellation();
    if (parent.aborted) {
      cancel.abort(parent.reason);
      return { cancel, unlink: () => {} };
    }
    const follow = () => cancel.abort(parent.reason);
    parent.addEventListener('abort', follow, { once: true });
    return { cancel, unlink: () => parent.removeEventListener('abort', follow) };
  }
}
