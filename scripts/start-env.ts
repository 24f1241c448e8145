/**
 * The environment `npm start` gives the server, read from package.json's start script, so that the benchmark
 * measures and the tests check what users run.
 *
 * MALLOC_MMAP_THRESHOLD_ pins glibc's mmap threshold at its default of 128 KiB. Unpinned, glibc raises the
 * threshold each time a block above it is freed, up to 32 MiB, and from then on serves blocks up to that size
 * from its heap arenas, which keep freed memory resident (only an arena's top is handed back). The server frees
 * large blocks from its first second (such as the embedded database's 9 MB WebAssembly file, and argon2's
 * 19 MiB per password hash), so unpinned it kept tens of megabytes it no longer used: pinned, the idle RSS was
 * 15-25 MB lower and the peak under 1,000 streams 50-60 MB lower (bench/RESULTS.md). Other C libraries ignore it.
 */
import { readFileSync } from 'node:fs';

const PACKAGE_JSON = new URL('../package.json', import.meta.url);

export function startMmapThreshold(): string {
  const start: string = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')).scripts.start;
  const m = /MALLOC_MMAP_THRESHOLD_=\$\{MALLOC_MMAP_THRESHOLD_:-(\d+)\}/.exec(start);
  if (!m) throw new Error('package.json: the start script no longer sets MALLOC_MMAP_THRESHOLD_');
  return m[1];
}
