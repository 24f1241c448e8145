import { setFlagsFromString } from 'node:v8';

/**
 * Garbage-collector settings for a serving process, applied once before it takes traffic.
 *
 * V8's allocation-site pretenuring watches which allocation sites' objects survive young-generation collections
 * and, past a threshold, allocates that site's objects straight in the old generation. Under load some
 * per-request sites cross it; from then on each request allocates objects in the old generation that die there,
 * and until the next full collection they keep the young objects they point at alive through every scavenge.
 * Measured at 500 req/s (bench/RESULTS.md): 1-2 MB promoted per scavenge in most runs with pretenuring, about
 * 0.3 MB in every run without, and scavenge pauses about halved. Whether the process falls into that state varies
 * from run to run; without pretenuring it does not.
 */
export function tuneGarbageCollection(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
