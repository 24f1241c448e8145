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
 *
 * After a full collection V8 lets the old generation grow to several times what survived it before the next
 * one. A gateway's old generation is mostly promoted garbage (objects of requests and stream events that outlived
 * two scavenges), so under load the heap ran at 150-195 MB for 40-60 MB of live objects, and that alone put 1,000
 * streams over the 300 MB budget. Growing by half keeps it near 100 MB. The price is more full collections:
 * about 3% more CPU per request in the chat scenario and up to 10% in stream-20. At 20% the price was 20%
 * (bench/RESULTS.md).
 */
export const HEAP_GROWING_PERCENT = 50;

export function tuneGarbageCollection(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
