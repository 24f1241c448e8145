/**
 * Extra accept handles on the listening socket.
 *
 * Since libuv 1.45 (Node 20 ships 1.46) a listening handle accepts one connection per event-loop turn and waits
 * for the next poll (libuv PR #3696). Under load a turn takes tens of milliseconds, so a burst of new
 * connections (a thousand clients opening streams at once) queues in the kernel for seconds, and overflows its
 * backlog. Node 22.12's `reusePort` would give several listening sockets; on Node 20 the same socket gets
 * several descriptors instead, and each one's handle accepts once per turn.
 *
 * Node cannot dup() a descriptor itself, but a handle sent over an IPC channel arrives as a new descriptor of
 * the same socket. A throwaway child process echoes the raw handle back `count` times and exits. The raw
 * handle (not a net.Server) is sent so that the child never listens: it cannot take a connection meant for us.
 */
import { spawn } from 'node:child_process';
import type { Server as HttpServer } from 'node:http';
import net from 'node:net';

/** The child: sends every handle it receives straight back, and exits when the parent disconnects. */
const ECHO = `process.on('message', (m, h) => process.send(m, h)); process.on('disconnect', () => process.exit(0));`;

const ECHO_TIMEOUT_MS = 10_000;

interface NetServerInternals {
  _handle?: object | null;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** New descriptors for the listening socket, each as a raw handle. */
function echoHandles(handle: object, count: number): Promise<object[]> {
  return new Promise((resolve, reject) => {
    // Without NODE_OPTIONS: the child needs no loader, profiler or inspector of ours.
    const child = spawn(process.execPath, ['-e', ECHO], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, NODE_OPTIONS: '' } });
    const got: object[] = [];
    const timer = setTimeout(() => done(new Error('the handle-echo process did not answer')), ECHO_TIMEOUT_MS);
    const done = (err?: Error) => {
      clearTimeout(timer);
      child.removeAllListeners();
      if (child.connected) child.disconnect();
      if (err) {
        child.kill();
        reject(err);
      } else resolve(got);
    };
    child.on('error', (err) => done(err));
    child.on('exit', (code) => done(new Error(`the handle-echo process exited early (code ${code})`)));
    child.on('message', (_msg, h) => {
      if (!h) return done(new Error('the handle-echo process answered without a handle'));
      got.push(h);
      if (got.length === count) done();
    });
    for (let i = 0; i < count; i++) child.send('handle', handle as net.Server);
  });
}

export interface AcceptHandles {
  /** How many handles accept on the socket, the server's own included. */
  readonly count: number;
  /**
   * Stops the extra handles at once (the server's own is closed by the server); resolves once every connection
   * they accepted has closed. Those connections are the HTTP server's (its idle-connection closing covers them),
   * but its own close() waits only for the connections its own handle accepted.
   */
  close(): Promise<void>;
}

/**
 * Gives a listening HTTP server `total - 1` more accept handles on its socket. Their connections are handed to
 * the server as its own (`connection` event), so timeouts, keep-alive and connection tracking are the server's.
 */
export async function addAcceptHandles(server: HttpServer, total: number): Promise<AcceptHandles> {
  const own = server as unknown as NetServerInternals;
  const extras: net.Server[] = [];
  const closeAll = () => Promise.all(extras.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  if (total > 1 && own._handle && process.platform !== 'win32') {
    const handles = await echoHandles(own._handle, total - 1);
    try {
      for (const handle of handles) {
        const extra = net.createServer({ allowHalfOpen: true, noDelay: own.noDelay, keepAlive: own.keepAlive, keepAliveInitialDelay: own.keepAliveInitialDelay }, (socket) => server.emit('connection', socket));
        extras.push(extra);
        await new Promise<void>((resolve, reject) => {
          extra.once('error', reject);
          extra.listen(handle as net.Server, () => {
            extra.off('error', reject);
            resolve();
          });
        });
        // An accept failure (EMFILE, ...) is the server's, as it would be on its own handle.
        extra.on('error', (err) => server.emit('error', err));
      }
    } catch (err) {
      // None left listening: the server goes on with its own handle, and its close() must close the socket.
      void closeAll();
      for (const h of handles.slice(extras.length)) (h as { close?: () => void }).close?.();
      throw err;
    }
  }
  return {
    count: extras.length + 1,
    close: closeAll,
  };
}
