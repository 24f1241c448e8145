/**
 * The embedded database: PGlite in a worker thread, served on a private Unix socket by embedded-wire.mjs, so
 * the app talks to it with the same `pg` driver it uses for PostgreSQL.
 */
import { Worker } from 'node:worker_threads';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface EmbeddedDatabase {
  /** Connection settings for `pg`: the socket directory and the port in the socket file's name. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

const SOCKET_PORT = 5432;

/** Starts PGlite with data under `dataDir`, or in memory when `dataDir` is undefined. */
export async function startEmbeddedDatabase(dataDir: string | undefined): Promise<EmbeddedDatabase> {
  const pgData = dataDir ? resolve(dataDir, 'pglite') : undefined;
  if (pgData) mkdirSync(pgData, { recursive: true, mode: 0o700 });
  // A fresh 0700 directory in tmp: short enough for the Unix socket path limit, private to this user.
  const socketDir = mkdtempSync(join(tmpdir(), 'switchyard-pg-'));
  const worker = new Worker(new URL('./embedded-worker.mjs', import.meta.url), {
    workerData: { dataDir: pgData, socketPath: join(socketDir, `.s.PGSQL.${SOCKET_PORT}`) },
  });
  await new Promise<void>((ok, fail) => {
    const onMessage = (msg: { type: string; message?: string }) => {
      if (msg.type === 'ready') ok();
      else if (msg.type === 'error') fail(new Error(`embedded database failed to start: ${msg.message}`));
    };
    worker.on('message', onMessage);
    worker.once('error', fail);
    worker.once('exit', (code) => fail(new Error(`embedded database worker exited with code ${code}`)));
  });
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
