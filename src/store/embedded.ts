/**
 * The embedded database: PGlite in a worker thread, served on a private Unix socket by embedded-wire.mjs, so
 * the app talks to it with the same `pg` driver it uses for PostgreSQL.
 */
import { Worker } from 'node:worker_threads';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** How the database came to be: initdb just ran, an in-memory one loaded the saved template, or it existed. */
export type EmbeddedSource = 'initdb' | 'template' | 'existing';

export interface EmbeddedDatabase {
  /** Connection settings for `pg`: the socket directory and the port in the socket file's name. */
  host: string;
  port: number;
  source: EmbeddedSource;
  stop(): Promise<void>;
}

const SOCKET_PORT = 5432;

interface WorkerData {
  dataDir: string | undefined;
  socketPath?: string;
  initOnly?: boolean;
  template?: string;
}

const require = createRequire(import.meta.url);

/** The installed PGlite's version (its package.json is not exported: found from its entry point up). */
function pgliteVersion(): string {
  let dir = dirname(require.resolve('@electric-sql/pglite'));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const { name, version } = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (name === '@electric-sql/pglite' && version) return version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the installed PGlite has no package.json');
    dir = parent;
  }
}

/**
 * Where in-memory databases keep the template of a fresh data directory (see embedded-worker.mjs): a directory
 * of this user's own in the temporary directory, one file per PGlite version. Undefined, and no template used,
 * when that directory cannot be made private: anyone who could write the template would choose the contents of
 * every in-memory database started from it.
 */
export function templatePath(): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  const dir = join(tmpdir(), `switchyard-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
    return join(dir, `pglite-${pgliteVersion()}.tar`);
  } catch {
    return undefined;
  }
}

/** Starts embedded-worker.mjs and waits for its `expect` message (`ready`, or `initialized` for initOnly). */
async function startWorker(workerData: WorkerData, expect: 'ready' | 'initialized'): Promise<{ worker: Worker; source?: EmbeddedSource }> {
  const worker = new Worker(new URL('./embedded-worker.mjs', import.meta.url), { workerData });
  let source: EmbeddedSource | undefined;
  await new Promise<void>((ok, fail) => {
    const onMessage = (msg: { type: string; message?: string; source?: EmbeddedSource }) => {
      if (msg.type === expect) {
        source = msg.source;
        ok();
      }
      else if (msg.type === 'error') fail(new Error(`embedded database failed to start: ${msg.message}`));
    };
    worker.on('message', onMessage);
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`embedded database worker exited with code ${code}`)));
  });
  return { worker, source };
}

/**
 * Creates a fresh data directory in a worker of its own. initdb grows PGlite's WebAssembly memory by about
 * 550 MB, and a WebAssembly memory never shrinks: created by the serving worker, it stayed resident for as long
 * as the server ran (680 MB RSS after a first start, against about 260 MB after a restart). Ending the worker
 * gives it back.
 */
async function initDataDir(pgData: string): Promise<void> {
  const { worker } = await startWorker({ dataDir: pgData, initOnly: true }, 'initialized');
  await worker.terminate();
}

/** Starts PGlite with data under `dataDir`, or in memory when `dataDir` is undefined. */
export async function startEmbeddedDatabase(dataDir: string | undefined): Promise<EmbeddedDatabase> {
  const pgData = dataDir ? resolve(dataDir, 'pglite') : undefined;
  let initialized = false;
  if (pgData) {
    mkdirSync(pgData, { recursive: true, mode: 0o700 });
    if (!existsSync(join(pgData, 'PG_VERSION'))) {
      await initDataDir(pgData);
      initialized = true;
    }
  }
  // A fresh 0700 directory in tmp: short enough for the Unix socket path limit, private to this user.
  const socketDir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  const socketPath = join(socketDir, `.s.PGSQL.${SOCKET_PORT}`);
  const { worker, source } = await startWorker({ dataDir: pgData, socketPath, template: pgData ? undefined : templatePath() }, 'ready');
  let stopped = false;
  return {
    host: socketDir,
    port: SOCKET_PORT,
    source: initialized ? 'initdb' : (source ?? 'existing'),
    async stop() {
      if (stopped) return;
      stopped = true;
      await new Promise<void>((ok) => {
        const timer = setTimeout(ok, 5000);
        worker.on('message', (msg) => {
          if (msg?.type === 'stopped') {
            clearTimeout(timer);
            ok();
          }
        });
        worker.postMessage({ type: 'stop' });
      });
      await worker.terminate();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
