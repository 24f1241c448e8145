/**
 * The total deadline of one request, as a signal that aborts when the client leaves or time runs out.
 * One controller and one timer per request (cheaper than AbortSignal.timeout + AbortSignal.any on the hot
 * path); dispose() when the request ends.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onClientAbort: () => void;
  /** True once the time ran out (as opposed to the client leaving). */
  expired = false;
  /** ms epoch at which it expires. */
  readonly at: number;

  constructor(
    private readonly client: AbortSignal,
    ms: number,
  ) {
    this.at = Date.now() + ms;
    this.onClientAbort = () => this.controller.abort(client.reason);
    if (client.aborted) this.controller.abort(client.reason);
    else client.addEventListener('abort', this.onClientAbort, { once: true });
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new DOMException('total deadline exceeded', 'TimeoutError'));
    }, ms);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.client.removeEventListener('abort', this.onClientAbort);
  }
}
