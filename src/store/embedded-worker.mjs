// Runs PGlite and its socket server in a worker thread, so the database never blocks the HTTP event loop.
// Plain JS so the worker needs no TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { serveWire } from './embedded-wire.mjs';

// `initOnly`: create the data directory (initdb), close it and report `initialized`; the worker then exits.
// `template` (in-memory databases only): a file holding a freshly initialized data directory (PGlite's
// dumpDataDir). Loading it takes a tenth of initdb's time; when it is missing or unreadable, initdb runs and
// its result is saved there for the next in-memory database.
const { dataDir, socketPath, initOnly, template } = workerData;
let db;
let server;

// A small buffer cache: the embedded database serves one gateway, and its memory counts against the process.
// No full-page images in the WAL: they guard against torn pages after an OS crash, which PGlite (fsync off)
// does not survive anyway; they were a large share of the WAL written for the request log's indexes.
const options = { postgresqlconf: ['shared_buffers = 16MB', 'full_page_writes = off'] };

/** An in-memory database, from the template when there is one; `source` says which way it started. */
async function createInMemory() {
  if (!template) return { db: await PGlite.create(options), source: 'initdb' };
  try {
    const saved = readFileSync(template);
    return { db: await PGlite.create({ ...options, loadDataDir: new Blob([saved]) }), source: 'template' };
  } catch {
    // No template yet, or one this PGlite cannot load: initdb, then save the result.
  }
  const created = await PGlite.create(options);
  try {
    const image = Buffer.from(await (await created.dumpDataDir('none')).arrayBuffer());
    // Written aside and renamed: a concurrent reader sees the whole file or none.
    const partial = `${template}.${process.pid}.${Date.now()}.partial`;
    writeFileSync(partial, image, { mode: 0o600 });
    try {
      renameSync(partial, template);
    } finally {
      rmSync(partial, { force: true });
    }
  } catch {
    // The template only saves time: a database that started without it is as good.
  }
  return { db: created, source: 'initdb' };
}

try {
  let source = 'existing';
  if (dataDir) db = await PGlite.create(dataDir, options);
  else ({ db, source } = await createInMemory());
  if (initOnly) {
    await db.close();
    parentPort.postMessage({ type: 'initialized' });
  } else {
    server = await serveWire(db, socketPath);
    parentPort.postMessage({ type: 'ready', source });
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
