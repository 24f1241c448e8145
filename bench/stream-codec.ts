/**
 * Microbenchmark of the per-event JavaScript in a relayed OpenAI-wire stream, in one process with no network:
 * SSE framing (SseParser), the OpenAI stream decoder (framing + JSON.parse + checks), and decoder plus the
 * OpenAI-wire rendering (JSON.stringify into `data:` lines). The frames are the fake upstream's own (one
 * network read per event, as when chunks are paced). It isolates what src/ adds per event from the sockets,
 * undici and node:http around it, which the stream-200 scenario measures together.
 *
 *   npx tsx bench/stream-codec.ts [streams=300] [repeats=5]
 */
import { buildChatPayloads } from './upstream-payloads.ts';
import { SseParser } from '../src/providers/sse.ts';
import { openaiAdapter } from '../src/providers/openai/index.ts';
import type { UpstreamTarget, ChatRequest } from '../src/providers/types.ts';

const streams = Number(process.argv[2] ?? 300);
const repeats = Number(process.argv[3] ?? 5);
const { frames, doneFrame } = buildChatPayloads('bench-model', { chunks: 200, intervalMs: 0, latencyMs: 0 });
const wire = [...frames, doneFrame];

function perEvent(run: () => void): number {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / (streams * wire.length) / 1000;
}

const cases: Record<string, () => void> = {
  'SSE framing (SseParser)': () => {
    for (let s = 0; s < streams; s++) {
      const p = new SseParser();
      for (const f of wire) p.push(f);
    }
  },
  'OpenAI decoder (framing + JSON.parse)': () => {
    for (let s = 0; s < streams; s++) {
      const d = openaiAdapter.createStreamDecoder({} as UpstreamTarget, {} as ChatRequest);
      for (const f of wire) d.push(f);
    }
  },
  'decoder + rename + render (JSON.stringify)': () => {
    for (let s = 0; s < streams; s++) {
      const d = openaiAdapter.createStreamDecoder({} as UpstreamTarget, {} as ChatRequest);
      for (const f of wire) {
        let text = '';
        for (const chunk of d.push(f)) {
          chunk.model = 'bench-model';
          chunk.provider = 'bench';
          text += `data: ${JSON.stringify(chunk)}\n\n`;
        }
        if (text.length < 0) throw new Error('unreachable');
      }
    }
  },
};

console.log(`${streams} streams x ${wire.length} events, best of ${repeats} (after one warm-up pass), µs per event:`);
for (const [name, run] of Object.entries(cases)) {
  run();
  let best = Infinity;
  for (let r = 0; r < repeats; r++) best = Math.min(best, perEvent(run));
  console.log(`  ${name.padEnd(44)} ${best.toFixed(2)}`);
}
