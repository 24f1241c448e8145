import { createRequire } from 'node:module';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';

/**
 * Returns the free pages of glibc's malloc arenas to the kernel, once soon after start-up and then every
 * MEMORY_TRIM_INTERVAL_S seconds, through the switchyard-malloc-trim addon (native/malloc-trim).
 *
 * Why: glibc gives threads that contend for malloc arenas of their own and shrinks an arena only from its top.
 * V8's compiler and GC helper threads allocate and free tens of megabytes there (compiling the embedded
 * database's WebAssembly at start-up, marking the heap under load). That memory is free but stays resident behind
 * a few live chunks: 13-90 MB of an idle server's 220-260 MB (bench/RESULTS.md). malloc_trim(0) hands it back; its pages are only faulted in again if malloc reuses them.
 *
 * The trim runs on libuv's thread pool, so the event loop never waits on the arenas' locks (a first trim takes
 * about 5 ms). Without the addon (not built: no compiler at install time) or without glibc, nothing runs.
 */

interface MallocTrimAddon {
  supported: boolean;
  trim(): boolean;
  trimAsync(callback: (err: null, released: boolean) => void): void;
}

/** The first trim waits for start-up's allocations to settle (the database's compiler threads tier up). */
export const FIRST_TRIM_AFTER_MS = 5_000;

let loaded: MallocTrimAddon | null | undefined;

/** The addon, or null when it is not built or the C library is not glibc. */
export function mallocTrimAddon(): MallocTrimAddon | null {
  if (loaded === undefined) {
    let addon: MallocTrimAddon | null = null;
    try {
      addon = createRequire(import.meta.url)('switchyard-malloc-trim') as MallocTrimAddon | null;
    } catch {
      addon = null;
    }
    loaded = addon?.supported ? addon : null;
  }
  return loaded;
}

export interface MemoryTrimmer {
  /** Runs one trim now (on the thread pool); resolves with whether any memory was released. */
  trimNow(): Promise<boolean>;
  stop(): void;
}

export function startMemoryTrim(opts: { intervalS: number; log: Logger; metrics: Metrics; firstAfterMs?: number }): MemoryTrimmer | undefined {
  if (opts.intervalS === 0) return undefined;
  const addon = mallocTrimAddon();
  if (!addon) {
    opts.log.info('malloc_trim unavailable (switchyard-malloc-trim not built, or not glibc); free malloc memory stays with the process');
    return undefined;
  }
  let running: Promise<boolean> | undefined;
  const trimNow = (): Promise<boolean> => {
    // One at a time: a slow trim (arenas busy) must not pile up behind the interval.
    running ??= new Promise<boolean>((resolve) => {
      const rssBefore = process.memoryUsage.rss();
      addon.trimAsync((_err, released) => {
        running = undefined;
        opts.metrics.memoryTrims.inc({ released: String(released) });
        opts.log.debug({ released, rss_before: rssBefore, rss_after: process.memoryUsage.rss() }, 'malloc_trim');
        resolve(released);
      });
    });
    return running;
  };
  const tick = (): void => void trimNow();
  const first = setTimeout(tick, Math.min(opts.firstAfterMs ?? FIRST_TRIM_AFTER_MS, opts.intervalS * 1000));
  const every = setInterval(tick, opts.intervalS * 1000);
  first.unref();
  every.unref();
  return {
    trimNow,
    stop() {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}
