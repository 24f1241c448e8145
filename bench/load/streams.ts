/**
 * Streaming load: N concurrent SSE streams, started on a schedule spread over `rampMs` (so that the
 * listen backlog is not what is measured), each on its own connection. For every stream it records the
 * time to first token (first `data:` event whose delta has non-empty content) and the time to the end,
 * both from the stream's scheduled start, and checks the stream ended with `data: [DONE]`.
 *
 * It also records when each stream's response headers arrived and how many streams were open (headers
 * received, end not yet) at once: a busy Node server accepts one connection per event-loop turn (libuv
 * >= 1.45), so "N streams were started" does not mean the target ever held N at the same time.
 */
import { Pool } from 'undici';
import { Samples } from '../stats.ts';

export interface StreamLoadOptions {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  streams: number;
  rampMs: number;
}

export interface StreamLoadResult {
  ttft: Samples;
  /** From the scheduled start to the response headers. */
  headers: Samples;
  /** Most streams open at the same moment: response headers received, end not yet. */
  peakOpen: number;
  completion: Samples;
  completed: number;
  failed: number;
  /** Mean `data:` events per completed stream. */
  eventsPerStream: number;
  /** A few failure descriptions, for the report. */
  failures: string[];
  wallMs: number;
  /** CPU time of this (the load-generating) process during the run, ms: the harness's own share of the machine. */
  loadCpuMs: number;
}

const CONTENT = Buffer.from('"content":"');
const DATA = Buffer.from('data: ');
const ERROR = Buffer.from('{"error"');
const DONE = 'data: [DONE]';
const TAIL_BYTES = 64;
const QUOTE = 0x22;
const LF = 0x0a;

/** Occurrences of `pattern` in `chunk`, counting one that starts in the previous chunk's `carry` (its last bytes). */
function countAcross(carry: Buffer, chunk: Buffer, pattern: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(pattern); i !== -1; i = chunk.indexOf(pattern, i + pattern.length)) n++;
  // A match split at the boundary: the carry ends with the pattern's first k bytes, the chunk starts with the rest.
  // Frames end in a line feed, so a carry ending in one (almost every read) cannot hold a split match.
  if (carry.length === 0 || carry[carry.length - 1] === LF) return n;
  for (let k = Math.min(carry.length, pattern.length - 1); k > 0; k--) {
    if (chunk.length < pattern.length - k) continue;
    if (carry.compare(pattern, 0, k, carry.length - k) === 0 && chunk.compare(pattern, k, pattern.length, 0, pattern.length - k) === 0) {
      n++;
      break;
    }
  }
  return n;
}

/** Keeps the last `max` bytes seen, copying only when a chunk is shorter than that. */
function keepTail(tail: Buffer, chunk: Buffer, max: number): Buffer {
  if (chunk.length >= max) return chunk.subarray(chunk.length - max);
  const joined = Buffer.concat([tail, chunk]);
  return joined.length > max ? joined.subarray(joined.length - max) : joined;
}

/** Where the first content after `"content":"` starts (a non-empty delta), or -1. */
function firstContent(bytes: Buffer): number {
  for (let i = bytes.indexOf(CONTENT); i !== -1; i = bytes.indexOf(CONTENT, i + CONTENT.length)) {
    const at = i + CONTENT.length;
    if (at < bytes.length && bytes[at] !== QUOTE) return at;
  }
  return -1;
}

interface StreamOutcome {
  status: number;
  /** From the scheduled start to the response headers, ms. */
  headersMs?: number;
  ttftMs?: number;
  events: number;
  sawError: boolean;
  done: boolean;
  /** The body of a non-200 answer (truncated). */
  errorBody?: string;
}

/**
 * One stream through undici's dispatch handler: body bytes are scanned where they arrive, with no Readable,
 * async iterator or string conversion per read, so the load generator spends as little of the machine as it can.
 */
function streamOnce(pool: Pool, opts: StreamLoadOptions, scheduledAt: number, onHeaders: () => void): Promise<StreamOutcome> {
  return new Promise((resolve, reject) => {
    const out: StreamOutcome = { status: 0, events: 0, sawError: false, done: false };
    let contentCarry: Buffer = Buffer.alloc(0);
    let dataCarry: Buffer = Buffer.alloc(0);
    let tail: Buffer = Buffer.alloc(0);
    const errorParts: Buffer[] = [];
    pool.dispatch(
      { path: opts.path, method: 'POST', headers: opts.headers, body: opts.body },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          out.status = statusCode;
          out.headersMs = performance.now() - scheduledAt;
          onHeaders();
        },
        onResponseData(_controller, chunk) {
          if (out.status !== 200) {
            errorParts.push(chunk);
            return;
          }
          if (out.ttftMs === undefined) {
            const scan = contentCarry.length ? Buffer.concat([contentCarry, chunk]) : chunk;
            if (firstContent(scan) !== -1) out.ttftMs = performance.now() - scheduledAt;
            else contentCarry = Buffer.from(keepTail(contentCarry, chunk, CONTENT.length));
          }
          out.events += countAcross(dataCarry, chunk, DATA);
          dataCarry = keepTail(dataCarry, chunk, DATA.length - 1);
          if (!out.sawError && chunk.includes(ERROR)) out.sawError = true;
          tail = keepTail(tail, chunk, TAIL_BYTES);
        },
        onResponseEnd() {
          if (out.status !== 200) out.errorBody = Buffer.concat(errorParts).toString('utf8').slice(0, 160);
          out.done = tail.toString('latin1').includes(DONE);
          resolve(out);
        },
        onResponseError(_controller, err) {
          reject(err);
        },
      },
    );
  });
}

export async function runStreams(opts: StreamLoadOptions): Promise<StreamLoadResult> {
  const pool = new Pool(opts.origin, { connections: opts.streams, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 30_000, keepAliveTimeout: 60_000 });
  const ttft = new Samples();
  const headers = new Samples();
  let open = 0;
  let peakOpen = 0;
  const completion = new Samples();
  const failures: string[] = [];
  let completed = 0;
  let failed = 0;
  let events = 0;
  const fail = (why: string) => {
    failed++;
    if (failures.length < 5) failures.push(why);
  };

  const one = async (scheduledAt: number) => {
    let counted = false;
    try {
      const r = await streamOnce(pool, opts, scheduledAt, () => {
        counted = true;
        if (++open > peakOpen) peakOpen = open;
      }).finally(() => {
        if (counted) open--;
      });
      if (r.headersMs !== undefined) headers.push(r.headersMs);
      if (r.status !== 200) return fail(`HTTP ${r.status}: ${r.errorBody ?? ''}`);
      if (r.sawError || !r.done) return fail(r.sawError ? 'error event inside the stream' : `stream ended without [DONE] after ${r.events} events`);
      if (r.ttftMs !== undefined) ttft.push(r.ttftMs);
      completion.push(performance.now() - scheduledAt);
      events += r.events;
      completed++;
    } catch (err) {
      fail((err as Error).message);
    }
  };

  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const all: Promise<void>[] = [];
  const stepMs = opts.streams > 1 ? opts.rampMs / (opts.streams - 1) : 0;
  await new Promise<void>((done) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < opts.streams && started + next * stepMs <= now) all.push(one(started + next++ * stepMs));
      if (next >= opts.streams) return done();
      setTimeout(tick, Math.max(0, started + next * stepMs - performance.now()));
    };
    tick();
  });
  await Promise.all(all);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  await pool.close();
  return { ttft, headers, peakOpen, completion, completed, failed, eventsPerStream: completed ? events / completed : 0, failures, wallMs, loadCpuMs: (cpu.user + cpu.system) / 1000 };
}
