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
}

const FIRST_CONTENT = /"content":"[^"]/;
const CONTENT_CARRY = 11; // '"content":"' is 11 characters: enough to catch it across two reads
const DATA = 'data: ';

function countOccurrences(text: string, pattern: string): number {
  let n = 0;
  for (let i = text.indexOf(pattern); i !== -1; i = text.indexOf(pattern, i + pattern.length)) n++;
  return n;
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
      const res = await pool.request({ path: opts.path, method: 'POST', headers: opts.headers, body: opts.body });
      headers.push(performance.now() - scheduledAt);
      counted = true;
      if (++open > peakOpen) peakOpen = open;
      if (res.statusCode !== 200) {
        fail(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 160)}`);
        return;
      }
      let first: number | undefined;
      let contentCarry = '';
      let dataCarry = '';
      let tail = '';
      let streamEvents = 0;
      let sawError = false;
      for await (const chunk of res.body) {
        const text = (chunk as Buffer).toString('latin1');
        if (first === undefined) {
          if (FIRST_CONTENT.test(contentCarry + text)) first = performance.now() - scheduledAt;
          else contentCarry = (contentCarry + text).slice(-CONTENT_CARRY);
        }
        streamEvents += countOccurrences(dataCarry + text, DATA);
        dataCarry = text.slice(-(DATA.length - 1));
        if (!sawError && text.includes('{"error"')) sawError = true;
        tail = (tail + text).slice(-64);
      }
      if (sawError || !tail.includes('data: [DONE]')) {
        fail(sawError ? 'error event inside the stream' : `stream ended without [DONE] after ${streamEvents} events`);
        return;
      }
      if (first !== undefined) ttft.push(first);
      completion.push(performance.now() - scheduledAt);
      events += streamEvents;
      completed++;
    } catch (err) {
      fail((err as Error).message);
    } finally {
      if (counted) open--;
    }
  };

  const started = performance.now();
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
  await pool.close();
  return { ttft, headers, peakOpen, completion, completed, failed, eventsPerStream: completed ? events / completed : 0, failures, wallMs };
}
