/**
 * Builds the server as plain JavaScript: `npm run build` writes dist/main.js, which `npm start` runs with
 * node alone. Running through tsx costs a loader thread, a transpile on every start and about 90 MB of
 * resident memory; tests and the CLI keep using tsx, where that does not matter.
 *
 * One esbuild bundle per entry, with npm packages left as imports. Every output sits directly in its folder
 * (dist/, or the benchmark's dist-bench/), one level below the repository like src/, so the files src/ reads
 * next to itself (resolved from `import.meta.url`) are copied beside the bundles and `../package.json` still
 * finds the package.
 *
 *   npm run build       (npx tsx scripts/build.ts)   dist/main.js; the benchmark adds its own entries (bench/build.ts)
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DIST = resolve(ROOT, 'dist');
/** The benchmark's bundles: a folder of their own, so a bench run never clears the dist/ that a server runs from. */
export const BENCH_DIST = resolve(ROOT, 'dist-bench');

/** Files the code opens relative to its own module (`new URL('./x', import.meta.url)`). */
const ASSETS = ['src/store/embedded-worker.mjs', 'src/store/embedded-wire.mjs', 'src/gateway/routers/code-tiers.json', 'src/domain/catalog/seed-catalog.json'];

export interface Entry {
  /** Source, relative to the repository. */
  in: string;
  /** Output name in the output folder, without `.js`. */
  out: string;
}

export const SERVER: Entry = { in: 'src/main.ts', out: 'main' };

/** Bundles `entries` into `dir` (cleared first) and copies the assets beside them; returns the output paths. */
export async function buildDist(entries: Entry[] = [SERVER], dir = DIST): Promise<Record<string, string>> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: entries.map((e) => ({ in: e.in, out: e.out })),
    outdir: dir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  for (const asset of ASSETS) copyFileSync(resolve(ROOT, asset), resolve(dir, basename(asset)));
  return Object.fromEntries(entries.map((e) => [e.out, resolve(dir, `${e.out}.js`)]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await buildDist();
  console.log(`built dist/main.js in ${Math.round(performance.now() - started)} ms`);
}
