/**
 * A background pass on an unref'd timer: the first `firstMs` after start, then `everyMs` after each one ends
 * (passes never overlap); a failed pass is reported and the schedule kept. `run()` starts a pass on demand,
 * shared with one already running; `stop()` ends the schedule and waits for the pass in progress, which can
 * check `stopped` to end early.
 */
export interface PeriodicJobOptions {
  firstMs: number;
  everyMs: number;
  onError: (err: unknown) => void;
}

export class PeriodicJob<T> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<T> | undefined;
  private ended = false;

  constructor(
    private readonly pass: (now: number) => Promise<T>,
    private readonly opts: PeriodicJobOptions,
  ) {}

  get stopped(): boolean {
    return this.ended;
  }

  start(): void {
    const schedule = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.run()
          .catch(this.opts.onError)
          .finally(() => !this.ended && schedule(this.opts.everyMs));
      }, ms);
      this.timer.unref();
    };
    schedule(this.opts.firstMs);
  }

  run(now = Date.now()): Promise<T> {
    this.running ??= this.pass(now).finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}
