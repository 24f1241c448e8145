/**
 * The embedded database: PGlite in a worker thread, served on a private Unix socket by embedded-wire.mjs, so
 * the app talks to it with the same `pg` driver it uses for PostgreSQL.
 */
import { Worker } from 'node:worker_threads';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface EmbeddedDatabase {
  /** Connection settings for `pg`: the socket directory and the port in the socket file's name. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

const SOCKET_PORT = 5432;

interface WorkerData {
  dataDir: string | undefined;
  socketPath?: string;
  initOnly?: boolean;
}

/** Starts embedded-worker.mjs and waits for its `expect` message (`ready`, or `initialized` for initOnly). */
async function startWorker(workerData: WorkerData, expect: 'ready' | 'initialized'): Promise<Worker> {
  const worker = new Worker(new URL('./embedded-worker.mjs', import.meta.url), { workerData });
  await new Promise<void>((ok, fail) => {
    const onMessage = (msg: { type: string; message?: string }) => {
      if (msg.type === expect) ok();
      else if (msg.type === 'error') fail(new Error(`embedded database failed to start: ${msg.message}`));
    };
    worker.on('message', onMessage);
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`embedded database worker exited with code ${code}`)));
  });
  return worker;
}

/**
 * Creates a fresh data directory in a worker of its own. initdb grows PGlite's WebAssembly memory by about
 * 550 MB, and a WebAssembly memory never shrinks: created by the serving worker, it stayed resident for as long
 * as the server ran (680 MB RSS after a first start, against about 260 MB after a restart). Ending the worker
 * gives it back.
 */
async function initDataDir(pgData: string): Promise<void> {
  const worker = await startWorker({ dataDir: pgData, initOnly: true }, 'initialized');
  await worker.terminate();
}

/** Starts PGlite with data under `dataDir`, or in memory when `dataDir` is undefined. */
export async function startEmbeddedDatabase(dataDir: string | undefined): Promise<EmbeddedDatabase> {
  const pgData = dataDir ? resolve(dataDir, 'pglite') : undefined;
  if (pgData) {
    mkdirSync(pgData, { recursive: true, mode: 0o700 });
    if (!existsSync(join(pgData, 'PG_VERSION'))) await initDataDir(pgData);
  }
  // A fresh 0700 directory in tmp: short enough for the Unix socket path limit, private to this user.
  const socketDir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  const worker = await startWorker({ dataDir: pgData, socketPath: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`) }, 'ready');
  let stopped = false;
  return {
    host: socketDir,
    port: SOCKET_PORT,
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
