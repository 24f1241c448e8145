// The embedded database's wire server: PostgreSQL's protocol on a Unix socket, answered by PGlite.
//
// Why not @electric-sql/pglite-socket's server: it hands PGlite one protocol message at a time and writes
// every reply separately, so a parameterized query (Parse, Bind, Describe, Execute, Sync) cost five
// WebAssembly calls and about five socket writes, each waking the gateway's thread. Here every complete message that has arrived
// goes to PGlite in one call, and everything PGlite answers leaves in one write.
//
// One client at a time (PGlite is a single session); a client that leaves has its open transaction rolled
// back and its prepared statements dropped, so the next connection starts clean. Plain JS: the worker runs
// without a TypeScript loader.
import { createServer } from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const TERMINATE = 0x58; // 'X'
const ROLLBACK = simpleQuery('rollback');
// Prepared statements are session state, and PGlite's one session outlives each connection: a new client
// (the pool replacing one that failed) would find its statement names taken.
const DEALLOCATE_ALL = simpleQuery('deallocate all');

function simpleQuery(text) {
  const body = Buffer.from(`${text}\0`);
  const message = Buffer.alloc(5 + body.length);
  message[0] = 0x51; // 'Q'
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return message;
}

/**
 * Splits what a connection has buffered into whole messages: `take` bytes make up complete messages,
 * `terminate` says a Terminate message ends them (it and anything after it is not passed on), `invalid`
 * that a message declares an impossible length (the stream cannot be followed any further).
 */
export function completeMessages(buffer) {
  let at = 0;
  while (buffer.length - at >= 5) {
    if (buffer[at] === TERMINATE) return { take: at, terminate: true, invalid: false };
    const length = buffer.readInt32BE(at + 1);
    if (length < 4) return { take: at, terminate: false, invalid: true };
    const end = at + 1 + length;
    if (end > buffer.length) break;
    at = end;
  }
  return { take: at, terminate: false, invalid: false };
}

class Connection {
  constructor(db, socket, onClose) {
    this.db = db;
    this.socket = socket;
    this.pending = Buffer.alloc(0);
    this.started = false;
    this.busy = false;
    this.closed = false;
    /** Set by Terminate, a cancel request or a malformed message: close once what came before is answered. */
    this.ending = false;
    socket.setNoDelay?.(true);
    socket.on('data', (chunk) => {
      this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      void this.drain();
    });
    socket.on('error', () => socket.destroy());
    /** Settles once the socket has closed and anything it left open has been rolled back. */
    this.done = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        void this.release().finally(() => {
          onClose();
          resolve();
        });
      });
    });
  }

  /** Answers every complete message buffered, in order; one pass at a time. */
  async drain() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed) {
        const batch = this.started ? this.nextMessages() : this.nextStartup();
        if (!batch) break;
        if (batch.length) await this.exec(batch);
        if (this.ending) {
          this.socket.end();
          break;
        }
      }
    } catch (err) {
      // PGlite itself failed (not an SQL error, which it answers on the wire): drop the connection.
      this.socket.destroy(err);
    } finally {
      this.busy = false;
    }
  }

  /** Before startup: SSL and GSS encryption are refused with 'N', cancel requests are not supported. */
  nextStartup() {
    if (this.pending.length < 8) return undefined;
    const length = this.pending.readInt32BE(0);
    if (length < 8) {
      this.ending = true;
      return [];
    }
    if (this.pending.length < length) return undefined;
    const code = this.pending.readInt32BE(4);
    const message = this.pending.subarray(0, length);
    this.pending = this.pending.subarray(length);
    if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
      this.socket.write('N');
      return [];
    }
    if (code === CANCEL_REQUEST) {
      this.ending = true;
      return [];
    }
    this.started = true;
    return message;
  }

  nextMessages() {
    const { take, terminate, invalid } = completeMessages(this.pending);
    if (terminate || invalid) this.ending = true;
    if (!take && !this.ending) return undefined;
    const batch = this.pending.subarray(0, take);
    this.pending = this.ending ? Buffer.alloc(0) : this.pending.subarray(take);
    return batch;
  }

  async exec(message) {
    const out = [];
    await this.db.runExclusive(() => this.db.execProtocolRawStream(message, { onRawData: (data) => out.push(Buffer.from(data)) }));
    if (this.closed || !this.socket.writable || !out.length) return;
    // PGlite may answer in several pieces (one per flush); they leave in one write.
    this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
  }

  /** A client gone must not leave a transaction open or statement names taken for the next one. */
  async release() {
    while (this.busy) await new Promise((r) => setImmediate(r));
    try {
      if (!this.started) return;
      if (this.db.isInTransaction()) await this.db.runExclusive(() => this.db.execProtocolRawStream(ROLLBACK, { onRawData: () => {} }));
      await this.db.runExclusive(() => this.db.execProtocolRawStream(DEALLOCATE_ALL, { onRawData: () => {} }));
    } catch {
      // The database is closing or broken: there is no session left to clean.
    }
  }
}

/** Serves `db` on the Unix socket `path`, one connection at a time. */
export async function serveWire(db, path) {
  const connections = new Set();
  const server = createServer((socket) => {
    const conn = new Connection(db, socket, () => connections.delete(conn));
    connections.add(conn);
  });
  server.maxConnections = 1;
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(path, () => {
      server.off('error', fail);
      ok();
    });
  });
  return {
    async stop() {
      const open = [...connections];
      for (const c of open) c.socket.destroy();
      await new Promise((ok) => server.close(() => ok()));
      await Promise.all(open.map((c) => c.done));
    },
  };
}
