// Runs PGlite and its socket server in a worker thread, so the database never blocks the HTTP event loop.
// Plain JS so the worker needs no TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { serveWire } from './embedded-wire.mjs';

// `initOnly`: create the data directory (initdb), close it and report `initialized`; the worker then exits.
const { dataDir, socketPath, initOnly } = workerData;
let db;
let server;
try {
  // A small buffer cache: the embedded database serves one gateway, and its memory counts against the process.
  // No full-page images in the WAL: they guard against torn pages after an OS crash, which PGlite (fsync off)
  // does not survive anyway; they were a large share of the WAL written for the request log's indexes.
  const options = { postgresqlconf: ['shared_buffers = 16MB', 'full_page_writes = off'] };
  db = dataDir ? await PGlite.create(dataDir, options) : await PGlite.create(options);
  if (initOnly) {
    await db.close();
    parentPort.postMessage({ type: 'initialized' });
  } else {
    server = await serveWire(db, socketPath);
    parentPort.postMessage({ type: 'ready' });
  }
} catch (err) {
  parentPort.postMessage({ type: 'error', message: err?.message ?? String(err) });
}

if (!initOnly) parentPort.on('message', async (msg) => {
  if (msg?.type !== 'stop') return;
  try {
    await server?.stop();
    await db?.close();
  } finally {
    parentPort.postMessage({ type: 'stopped' });
  }
});
