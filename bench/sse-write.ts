/**
 * Microbenchmark of the client-side write of a relayed stream: the server's CPU per SSE event when written
 * with Node's `res.write` (which frames a chunk as four writes and corks the socket until the next tick)
 * against the gateway's `openEventStream` (src/http/v1/sse.ts: one framed string onto the socket once the
 * headers are out). A node:http server paces the same OpenAI-wire events to many connections; a child process
 * reads them, so the server's `process.cpuUsage()` counts only the writing side. Rounds alternate.
 *
 *   npx tsx bench/sse-write.ts [connections=500] [rounds=3]
 */
import { createServer, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import { openEventStream } from '../src/http/v1/sse.ts';
import { buildChatPayloads } from './upstream-payloads.ts';

const PACE_MS = 20;

if (process.argv[2] === '--client') {
  // The reading side: opens the connections, reads until each terminating chunk, then exits.
  const [port, connections] = [Number(process.argv[3]), Number(process.argv[4])];
  let done = 0;
  for (let i = 0; i < connections; i++) {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n'));
    let tail = '';
    socket.on('data', (d: Buffer) => {
      tail = (tail + d.toString('latin1')).slice(-16);
      if (tail.endsWith('\r\n0\r\n\r\n')) {
        socket.destroy();
        if (++done === connections) process.exit(0);
      }
    });
  }
} else {
  const connections = Number(process.argv[2] ?? 500);
  const rounds = Number(process.argv[3] ?? 3);
  const { frames, doneFrame } = buildChatPayloads('bench-model', { chunks: 200, intervalMs: 0, latencyMs: 0 });
  const events = frames.map((f) => f.toString('utf8'));
  const done = doneFrame.toString('utf8');

  type Writer = (res: ServerResponse) => { write(text: string): void; end(text: string): void };
  const writers: Record<string, Writer> = {
    "res.write (Node's chunked path)": (res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      return { write: (t) => void res.write(t), end: (t) => res.end(t) };
    },
    'openEventStream (framed onto the socket)': (res) => {
      const reply = { raw: res, hijack() {}, getHeaders: () => ({}) } as unknown as FastifyReply;
      const stream = openEventStream(reply, {}, 60_000, ': ping\n\n');
      return {
        write: (t) => void stream.write(t),
        end: (t) => {
          stream.end(t);
          stream.close();
        },
      };
    },
  };

  async function round(name: string): Promise<number> {
    const server = createServer((_req, res) => {
      const w = writers[name](res);
      let i = 0;
      const timer = setInterval(() => {
        if (i < events.length) return w.write(events[i++]);
        clearInterval(timer);
        w.end(done);
      }, PACE_MS);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const before = process.cpuUsage();
    const child = fork(fileURLToPath(import.meta.url), ['--client', String(port), String(connections)]);
    await new Promise((resolve) => child.on('exit', resolve));
    const used = process.cpuUsage(before);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    return (used.user + used.system) / (connections * (events.length + 1));
  }

  const results: Record<string, number[]> = Object.fromEntries(Object.keys(writers).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const name of Object.keys(writers)) results[name].push(await round(name));
  console.log(`${connections} connections x ${events.length + 1} events, ${PACE_MS} ms apart; server CPU (user + system) per event, per round:`);
  for (const [name, values] of Object.entries(results)) console.log(`  ${name.padEnd(42)} ${values.map((v) => `${v.toFixed(1)} µs`).join('  ')}`);
  // Rounds run back to back, so a drifting host moves both alike: the per-round difference is the figure to read.
  const [base, framed] = Object.values(results);
  const diffs = base.map((v, i) => v - framed[i]).sort((a, b) => a - b);
  console.log(`  saved per event: median ${diffs[Math.floor(diffs.length / 2)].toFixed(1)} µs, range ${diffs[0].toFixed(1)} to ${diffs.at(-1)!.toFixed(1)} µs`);
}
