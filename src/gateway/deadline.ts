import { Cancellation, type CancelSignal } from '../providers/cancel.ts';

/**
 * The total deadline of one request, as a signal that aborts when the client leaves or time runs out.
 * One cancellation and one timer per request (cheaper than AbortSignal.timeout + AbortSignal.any on the hot
 * path); dispose() when the request ends.
 */
export class Deadline {
  private readonly cancel: Cancellation;
  private readonly unlink: () => void;
  private readonly timer: NodeJS.Timeout;
  /** True once the time ran out (as opposed to the client leaving). */
  expired = false;
  /** ms epoch at which it expires. */
  readonly at: number;

  constructor(client: CancelSignal, ms: number) {
    this.at = Date.now() + ms;
    ({ cancel: this.cancel, unlink: this.unlink } = Cancellation.linked(client));
    this.timer = setTimeout(() => {
      this.expired = true;
      this.cancel.abort(new DOMException('total deadline exceeded', 'TimeoutError'));
    }, ms);
  }

  get signal(): CancelSignal {
    return this.cancel;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.unlink();
  }
}
