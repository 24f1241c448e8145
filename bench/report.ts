/**
 * Turns a run into verdicts on the performance budget (issue 6), a console table and bench/RESULTS.md.
 */
import type { MachineInfo } from './machine.ts';
import type { BenchOptions } from './options.ts';
import type { PipelineFeatures } from './pipeline-setup.ts';
import type { ProfileResult } from './profile.ts';
import type { LatencyFigures, ScenarioResult, StreamFigures, ThroughputFigures } from './scenarios.ts';
import type { TargetName } from './targets.ts';

export interface RunReport {
  command: string;
  date: string;
  revision: string;
  /** 1-minute load average before the run started and when it ended. */
  loadBefore: number;
  loadAfter: number;
  machine: MachineInfo;
  versions: Record<string, string>;
  options: BenchOptions;
  features: PipelineFeatures;
  /** Switchyard's RSS right after start, before load, MB. */
  idleRssMb?: number;
  /** The same a few seconds later, after the server's first malloc trim (src/http/memory-trim.ts), MB. */
  settledRssMb?: number;
  /** Peak RSS of the very first start on a fresh data directory (initdb + migrations), MB. */
  firstStartPeakRssMb?: number;
  /** RSS of that first start once it served (after the pipeline set-up), MB. */
  firstStartRssMb?: number;
  scenarios: ScenarioResult[];
  profiles: ProfileResult[];
  notes: string[];
  wallS: number;
  /** bench/ANALYTICS.md (the 1M-row analytics run, made by analytics-seed.ts), carried into RESULTS.md. */
  analytics?: string;
}

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export interface TargetCheck {
  goal: string;
  measured: string;
  verdict: Verdict;
}

const f = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const int = (n: number | undefined) => f(n, 0);

function scenario<K extends ScenarioResult['kind']>(r: RunReport, name: string, kind: K): Extract<ScenarioResult, { kind: K }> | undefined {
  const s = r.scenarios.find((x) => x.name === name && x.kind === kind);
  return s as Extract<ScenarioResult, { kind: K }> | undefined;
}

function byTarget<T extends { target: TargetName }>(list: T[], name: TargetName): T | undefined {
  return list.find((x) => x.target === name);
}

export function checkTargets(r: RunReport): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const chat = scenario(r, 'chat', 'throughput');
  const sy = chat && byTarget(chat.figures, 'switchyard');
  const pk = chat && byTarget(chat.figures, 'portkey');
  checks.push(
    sy && pk && pk.rps > 0
      ? {
          goal: 'Non-streaming throughput >= 5x Portkey (same run)',
          measured: `${int(sy.rps)} vs ${int(pk.rps)} req/s = ${f(sy.rps / pk.rps, 1)}x${sy.sustainedRps !== undefined && sy.drainS ? `; ${f(sy.sustainedRps / pk.rps, 1)}x counting the ${f(sy.drainS, 1)} s the database needed to catch up` : ''}`,
          verdict: sy.rps >= 5 * pk.rps ? 'PASS' : 'MISS',
        }
      : { goal: 'Non-streaming throughput >= 5x Portkey (same run)', measured: chat ? 'Portkey not measured' : 'scenario not run', verdict: 'n/a' },
  );

  const off = chat && byTarget(chat.figures, 'switchyard-credits-off');
  if (sy && off && off.rps > 0) {
    const cost = (100 * (off.rps - sy.rps)) / off.rps;
    // Below zero, the credits-off process happened to be the slower one: billing's cost is lost in the noise.
    const noise = cost < 0 ? '; below zero, so within run-to-run noise' : '';
    checks.push({ goal: 'Billing (reservation, settlement, ledger) costs < 10% of throughput (issue 4)', measured: `${f(cost, 1)}% (${int(sy.rps)} req/s with credits vs ${int(off.rps)} with CREDITS_MODE=off${noise})`, verdict: cost < 10 ? 'PASS' : 'MISS' });
  }

  const lat = scenario(r, 'chat-latency', 'latency');
  const at = (name: TargetName) => lat?.figures.find((x) => x.target === name && x.rate === 500);
  const d = at('direct');
  const s = at('switchyard');
  if (d && s) {
    const p50 = s.latency.p50 - d.latency.p50;
    const p99 = s.latency.p99 - d.latency.p99;
    // Through the gateway faster than direct means the baseline itself was disturbed: no verdict.
    const verdict = (added: number, limit: number): Verdict => (added < -0.5 ? 'n/a' : added <= limit && s.failed === 0 ? 'PASS' : 'MISS');
    const noisy = (added: number) => (added < -0.5 ? ' (negative: the direct baseline was disturbed, no verdict)' : '');
    checks.push({ goal: 'Added latency p50 <= 1 ms at 500 req/s', measured: `${f(p50, 2)} ms (${f(s.latency.p50, 2)} vs ${f(d.latency.p50, 2)} direct)${noisy(p50)}`, verdict: verdict(p50, 1) });
    checks.push({ goal: 'Added latency p99 <= 5 ms at 500 req/s', measured: `${f(p99, 2)} ms (${f(s.latency.p99, 2)} vs ${f(d.latency.p99, 2)} direct)${noisy(p99)}`, verdict: verdict(p99, 5) });
  } else {
    for (const goal of ['Added latency p50 <= 1 ms at 500 req/s', 'Added latency p99 <= 5 ms at 500 req/s']) checks.push({ goal, measured: 'not measured at 500 req/s', verdict: 'n/a' });
  }

  const st = scenario(r, 'stream-200', 'streams');
  const ss = st && byTarget(st.figures, 'switchyard');
  const sd = st && byTarget(st.figures, 'direct');
  if (ss) {
    const expected = ss.streams * r.options.rounds;
    // Completing is not enough: the streams must also have been open together, not admitted a few at a time.
    const all = ss.failed === 0 && ss.completed === expected && ss.peakOpen >= ss.streams;
    const scale = ss.streams >= 1000 ? '' : ` (only ${ss.streams} streams in this run; the goal is 1,000)`;
    const together = `at most ${int(ss.peakOpen)} open at once${sd ? ` (direct: ${int(sd.peakOpen)})` : ''}`;
    checks.push({ goal: '1,000 concurrent 200-chunk streams complete without errors', measured: `${int(ss.completed)}/${int(expected)} complete, ${int(ss.failed)} failed, ${together}${scale}`, verdict: all && ss.streams >= 1000 ? 'PASS' : all ? 'n/a' : 'MISS' });
    if (sd) {
      const added = ss.ttft.p50 - sd.ttft.p50;
      checks.push({ goal: 'Added time to first token p50 <= 2 ms', measured: `${f(added, 2)} ms (${f(ss.ttft.p50, 2)} vs ${f(sd.ttft.p50, 2)} direct)`, verdict: added <= 2 ? 'PASS' : 'MISS' });
    }
    const rss = ss.process?.peakRssMb;
    checks.push({ goal: 'Gateway RSS < 300 MB during the streams', measured: rss === undefined ? 'not read' : `${int(rss)} MB peak`, verdict: rss === undefined ? 'n/a' : rss < 300 ? 'PASS' : 'MISS' });
  } else {
    checks.push({ goal: '1,000 concurrent 200-chunk streams complete without errors', measured: 'scenario not run', verdict: 'n/a' });
  }

  let worst = -1;
  let where = '';
  for (const sc of r.scenarios) {
    for (const fig of sc.figures as Array<ThroughputFigures | LatencyFigures | StreamFigures>) {
      if (fig.target === 'switchyard' && fig.process && fig.process.loopMaxMs > worst) {
        worst = fig.process.loopMaxMs;
        where = sc.name;
      }
    }
  }
  checks.push(
    worst >= 0
      ? { goal: 'No event-loop stall > 50 ms in any scenario', measured: `longest ${f(worst, 1)} ms (${where})`, verdict: worst <= 50 ? 'PASS' : 'MISS' }
      : { goal: 'No event-loop stall > 50 ms in any scenario', measured: 'not read', verdict: 'n/a' },
  );
  return checks;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** CPU time of the target's process per streamed event (for `direct`, the upstream's cost of producing it). */
function cpuPerEventUs(x: StreamFigures): number | undefined {
  const events = x.completed * x.eventsPerStream;
  return x.process && events ? (x.process.cpuMs * 1000) / events : undefined;
}

function scenarioMarkdown(s: ScenarioResult, r: RunReport): string {
  if (s.kind === 'throughput') {
    const direct = byTarget(s.figures, 'direct');
    const rows = s.figures.map((x) => [
      x.target,
      int(x.rps),
      x.roundsRps.map(int).join(' / '),
      direct && x.target !== 'direct' ? `${f((100 * x.rps) / direct.rps, 0)}%` : '',
      f(x.latencyP50, 0),
      f(x.latencyP99, 0),
      int(x.failed),
      f(x.cpuMsPerRequest, 3),
      f(x.process?.loopMaxMs),
      int(x.process?.peakRssMb),
      x.backlogRows === undefined ? '' : `${int(x.backlogRows)} rows, ${f(x.drainS, 1)} s`,
      x.sustainedRps === undefined ? '' : int(x.sustainedRps),
      x.wrk ? `${int(x.wrk.rps)} req/s, p99 ${f(x.wrk.latencyP99Ms, 2)} ms` : '',
    ]);
    const head = ['target', 'req/s', 'per round', 'of direct', 'p50 ms', 'p99 ms', 'failed', 'CPU ms/req', 'loop max ms', 'peak RSS MB', 'DB behind at end', 'sustained req/s'];
    const withWrk = s.figures.some((x) => x.wrk);
    return table(withWrk ? [...head, 'wrk'] : head, withWrk ? rows : rows.map((r) => r.slice(0, -1)));
  }
  if (s.kind === 'latency') {
    const rows = s.figures.map((x) => {
      const d = s.figures.find((y) => y.target === 'direct' && y.rate === x.rate);
      const added = (p: 'p50' | 'p99') => (d && x.target !== 'direct' ? f(x.latency[p] - d.latency[p], 2) : '');
      return [x.target, int(x.rate), f(x.achievedRate, 0), f(x.latency.p50, 2), f(x.latency.p90, 2), f(x.latency.p99, 2), f(x.latency.max, 2), added('p50'), added('p99'), int(x.failed), f(x.process?.loopMaxMs), f(x.process?.loopP99Ms)];
    });
    return table(['target', 'rate', 'achieved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'added p50', 'added p99', 'failed', 'loop max ms', 'loop p99 ms'], rows);
  }
  const d = byTarget(s.figures, 'direct');
  const rows = s.figures.map((x) => [
    x.target,
    `${int(x.completed)}`,
    int(x.failed),
    int(x.peakOpen),
    f(x.headers.p50, 2),
    f(x.ttft.p50, 2),
    f(x.ttft.p99, 2),
    d && x.target !== 'direct' ? f(x.ttft.p50 - d.ttft.p50, 2) : '',
    f(x.completion.p50, 0),
    f(x.completion.p99, 0),
    f(x.eventsPerStream, 0),
    f(cpuPerEventUs(x), 1),
    f(x.loadCpuUsPerEvent, 1),
    int(x.process?.peakRssMb),
    f(x.process?.loopMaxMs),
    x.tcp ? int(x.tcp.listenOverflows) : '',
  ]);
  const head = ['target', 'complete', 'failed', 'peak open', 'headers p50 ms', 'TTFT p50 ms', 'TTFT p99 ms', 'added TTFT p50', 'total p50 ms', 'total p99 ms', 'events/stream', 'CPU µs/event', 'load generator µs/event', 'peak RSS MB', 'loop max ms', 'listen overflows'];
  return [table(head, rows), streamDemand(s.figures, r), insideGateway(s.figures), listenOverflows(s.figures)].filter(Boolean).join('\n\n');
}

/**
 * What the stream scenario asks of the machine, from the CPU per event each process spent: when the fake
 * upstream, the load generator and the gateway together need more than the machine's cores, the streams fall
 * behind their pacing and TTFT, stalls and RSS measure queueing rather than the gateway's own latency.
 */
function streamDemand(figures: StreamFigures[], r: RunReport): string {
  const d = byTarget(figures, 'direct');
  const sy = byTarget(figures, 'switchyard');
  const upstream = d && cpuPerEventUs(d);
  const gateway = sy && cpuPerEventUs(sy);
  const load = sy?.loadCpuUsPerEvent;
  if (!sy || upstream === undefined || gateway === undefined || load === undefined) return '';
  const o = r.options;
  const perSecond = (sy.streams * sy.eventsPerStream) / ((o.streamChunks * o.chunkIntervalMs) / 1000);
  const cores = (us: number) => (perSecond * us) / 1e6;
  const total = cores(upstream + load + gateway);
  const verdict = total > r.machine.cpus ? `more than the machine's ${r.machine.cpus} cores: the streams cannot keep their pacing here, and the gateway's TTFT, stall and RSS include queueing` : `within the machine's ${r.machine.cpus} cores`;
  return `Demand at the nominal pace (${int(perSecond)} events/s): fake upstream ${f(cores(upstream), 2)} cores (${f(upstream, 1)} µs/event, direct run), load generator ${f(cores(load), 2)} (${f(load, 1)} µs/event), Switchyard ${f(cores(gateway), 2)} (${f(gateway, 1)} µs/event); together ${f(total, 2)} cores, ${verdict}.`;
}

/**
 * Where Switchyard's TTFT went: its request log times each stream from the request reaching its handler, so the
 * client's TTFT minus that is the time before the handler: in the listen queue, then read and parsed.
 */
function insideGateway(figures: StreamFigures[]): string {
  const sy = byTarget(figures, 'switchyard');
  const own = sy?.ownTtft;
  if (!sy || !own) return '';
  const before = sy.ttft.p50 - own.p50;
  return `Inside Switchyard (its request log: from the request reaching its handler to the first token), TTFT p50 ${f(own.p50, 0)} ms, p99 ${f(own.p99, 0)} ms, over ${int(own.count)} streams. The client's p50 was ${f(sy.ttft.p50, 0)} ms: about ${f(Math.max(0, before), 0)} ms at the median passed before the request reached its handler (waiting to be accepted, then read and parsed).`;
}

/**
 * Streams whose connection attempt overflowed a full accept queue: the kernel dropped the handshake and the
 * client tried again after 1 s, so their TTFT holds that second before the target ever saw the request.
 */
function listenOverflows(figures: StreamFigures[]): string {
  const hit = figures.filter((x) => x.tcp && x.tcp.listenOverflows > 0);
  if (!hit.length) return '';
  const each = hit.map((x) => `${x.target} ${int(x.tcp!.listenOverflows)} (${int(x.tcp!.synRetransmits)} SYNs retransmitted)`).join(', ');
  return `Listen-queue overflows during each target's runs (Linux \`TcpExt\` counters, machine-wide): ${each}. An overflowing connection attempt is dropped by the kernel and retried by the client after 1 s (then 3 s), so the TTFT of those streams includes at least a second spent before the server accepted them.`;
}

function profileMarkdown(p: ProfileResult): string {
  const perRequest = p.requests ? (p.summary.busyMs * 1000) / p.requests : NaN;
  const fn = table(['self ms', '%', 'function (file:line)'], p.summary.functions.slice(0, 20).map((x) => [f(x.ms), f(x.percent), `\`${x.name}\``]));
  const areas = table(['self ms', '%', 'area'], p.summary.areas.map((x) => [f(x.ms), f(x.percent), `\`${x.name}\``]));
  const stages = table(['total ms', '%', 'src/ function (self + callees, synchronous part)'], p.summary.inclusiveSrc.slice(0, 12).map((x) => [f(x.ms), f(x.percent), `\`${x.name}\``]));
  const threads = p.otherThreads.length ? ` Other threads in the same window: ${p.otherThreads.map((t) => `\`${t.file}\` ${f(t.busyMs, 0)} ms`).join(', ')} (the embedded database worker, and tsx's loader thread for the profiled source run).` : '';
  return `### ${p.scenario}: ${p.load}\n\nProfile \`${p.file}\`; load window only: ${f(p.summary.busyMs, 0)} ms on CPU (main thread), ${f(p.summary.idleMs, 0)} ms idle, ${int(p.requests)} requests = ${f(perRequest, 0)} µs of main-thread CPU per request.${threads}\n\nBy area (package or src/ folder):\n\n${areas}\n\nTop functions by self time:\n\n${fn}\n\nPipeline stages:\n\n${stages}\n`;
}

const STATIC_NOTES = [
  'All processes share the 2 cores: the load generator (this process), the fake upstream, and the gateway under test. Figures are therefore relative: `direct` is the same load sent straight to the upstream, and "added" figures subtract it at the same percentile.',
  'Closed-loop latencies come from autocannon, whose histogram has 1 ms resolution; open-loop latencies (chat-latency) are measured by the harness from each request\'s scheduled send time (no coordinated omission) at microsecond resolution.',
  '`CPU ms/req` is the CPU time (user + system) of the target\'s process divided by the requests it served; for `direct` it is the fake upstream\'s own cost.',
  'Peak RSS is VmHWM of the process, reset at the start of every measured run (/proc/self/clear_refs), so it is the peak of that scenario, not of start-up. For Switchyard it includes the embedded PGlite worker thread.',
  'Portkey runs with its default configuration (`node build/start-server.js --port=N`); it needs `@hono/node-server` pinned to 1.13.8 (an npm override in bench/.portkey/package.json): with 1.14 and later its streaming and embeddings answers fail with `TypeError: immutable` (Portkey issues #1389, #1550). Its node process carries the same probe (`--import dist-bench/bench-probe.js`). Portkey adds a fixed 25 ms pause before the first streamed event on purpose (its stream transformer waits 25 ms on the first chunk), which shows in its TTFT.',
  'Every measured process runs bundled JavaScript (`scripts/build.ts` into `dist-bench/`), as `npm start` runs the server: no TypeScript loader in any of them. The profiles are taken from the TypeScript sources through tsx instead, so that they name src/ files.',
  'Switchyard is measured on a data directory initialized by a first start (initdb and migrations), as a server restarts in production; the first start\'s peak is reported separately.',
  'V8\'s `--cpu-prof` samples the main thread on wall time: `writev` includes the moments the kernel ran another process during the syscall (a loopback write wakes its reader, which on a busy 2-core machine often preempts the writer). It overstates the syscall\'s own CPU cost; the CPU figures from the probe (`CPU ms/req`, `CPU µs/event`) are CPU time.',
  'The stream scenario moves streams x (chunks + 4) events per 200 x interval ms: with 1,000 streams at 50 ms (the default) that is about 20,000 SSE events per second through the gateway, each one a read from the upstream and a write to the client; at 20 ms over a 1 s ramp (`--chunk-interval 20 --ramp 1000`), about 50,000, which with the upstream and the load generator asks 2.4-3.1 cores of a 2-core machine.',
  '`peak open` is the most streams the load generator had open at the same moment (response headers received, end not yet), the lowest over the rounds; `headers p50` is the time from a stream\'s scheduled start to its response headers. A Node server whose event loop is busy accepts one new connection per listening handle per loop turn (libuv 1.45 and later), so under load new connections wait in the listen queue, and a target can complete every stream without ever holding them all at once. Switchyard accepts on 16 handles of its socket (`ACCEPT_HANDLES`); Portkey on one. When a loop turn relays hundreds of events, it lasts tens to hundreds of milliseconds, so the rate at which new connections are accepted falls just when the ramp brings the most; once the queue holds its backlog (511 in Node), the kernel drops further attempts (`listen overflows`, counted from /proc/net/netstat around each run).',
];

export function renderMarkdown(r: RunReport, checks: TargetCheck[]): string {
  const m = r.machine;
  const feat = r.features;
  const on = (b: boolean) => (b ? 'on' : 'off (not built yet)');
  const parts: string[] = [];
  parts.push(`# Switchyard benchmark results\n`);
  parts.push(`Generated by \`bench/run.ts\`; rerun with the command below. Everything here is measured on one machine with the upstream on loopback; read the notes before comparing with other machines.\n`);
  parts.push(`- Command: \`${r.command}\``);
  parts.push(`- Date: ${r.date} (run took ${f(r.wallS / 60, 1)} min); code measured: ${r.revision}`);
  parts.push(`- Machine: ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, Linux ${m.kernel}, Node ${m.node}; load average ${f(r.loadBefore, 2)} before the run, ${f(r.loadAfter, 2)} at its end${r.loadBefore > 0.5 * m.cpus ? ' (**the machine was busy with other work when the run started: figures are pessimistic and noisy**)' : ''}`);
  parts.push(`- Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  parts.push(`- Database: ${r.options.database === 'postgres' ? 'PostgreSQL (fresh schema)' : 'embedded PGlite on disk (worker thread)'}; Redis: ${r.options.redisUrl ? 'on' : 'off'}`);
  parts.push(`- Switchyard pipeline: auth ${feat.auth}; user keys ${on(feat.userKeys)}; credits ${on(feat.credits)}; rate limits ${on(feat.rateLimits)}; request log ${feat.requestLog ? 'on' : 'off'}; metrics ${feat.metrics ? 'on' : 'off'}`);
  parts.push(`- Load: ${r.options.rounds} alternating round(s) of ${r.options.durationS} s per target, after ${r.options.warmupS} s warm-up; upstream latency ${r.options.upstreamLatencyMs} ms`);
  if (r.idleRssMb !== undefined) parts.push(`- Switchyard RSS when idle after start: ${int(r.idleRssMb)} MB${r.settledRssMb !== undefined ? `, ${int(r.settledRssMb)} MB once its first malloc trim had run` : ''}${r.firstStartPeakRssMb ? `; first start on a fresh data directory peaked at ${int(r.firstStartPeakRssMb)} MB (initdb, in a worker that then exits)${r.firstStartRssMb ? ` and held ${int(r.firstStartRssMb)} MB once serving` : ''}` : ''}`);
  parts.push('');
  parts.push(`## Performance budget (issue 6)\n`);
  parts.push(table(['goal', 'measured', 'result'], checks.map((c) => [c.goal, c.measured, `**${c.verdict}**`])));
  parts.push('');
  parts.push(`## Scenarios\n`);
  for (const s of r.scenarios) parts.push(`### ${s.name}: ${s.title}\n\n${scenarioMarkdown(s, r)}\n`);
  if (r.profiles.length) {
    parts.push(`## Hot-path profiles (Switchyard, \`--cpu-prof\`)\n`);
    parts.push(`Summaries by \`bench/cpuprofile-summary.ts\` (self time by function and by area, load window only). Open the \`.cpuprofile\` files in Chrome DevTools or speedscope for flame graphs.\n`);
    for (const p of r.profiles) parts.push(profileMarkdown(p));
  }
  if (r.analytics) {
    // Its own run (PostgreSQL, seeded): carried over verbatim with headings one level down.
    parts.push(r.analytics.trim().replace(/^(#+) /gm, '#$1 ') + '\n');
    parts.push(`_(From \`bench/ANALYTICS.md\`, written by \`bench/analytics-seed.ts\`; not rerun by \`npm run bench\`.)_\n`);
  }
  parts.push(`## Notes\n`);
  for (const n of [...r.notes, ...STATIC_NOTES]) parts.push(`- ${n}`);
  parts.push('');
  return parts.join('\n');
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

/** A compact plain-text table for the terminal. */
export function renderConsole(r: RunReport, checks: TargetCheck[]): string {
  const lines: string[] = [];
  for (const s of r.scenarios) {
    lines.push('', `${s.name}: ${s.title}`);
    let head: string[];
    let rows: string[][];
    if (s.kind === 'throughput') {
      head = ['target', 'req/s', 'p50 ms', 'p99 ms', 'failed', 'CPU ms/req', 'loop max', 'RSS MB', 'sustained'];
      rows = s.figures.map((x) => [x.target, int(x.rps), f(x.latencyP50, 0), f(x.latencyP99, 0), int(x.failed), f(x.cpuMsPerRequest, 3), f(x.process?.loopMaxMs), int(x.process?.peakRssMb), x.sustainedRps === undefined ? '' : int(x.sustainedRps)]);
    } else if (s.kind === 'latency') {
      head = ['target', 'rate', 'p50 ms', 'p99 ms', 'max ms', 'failed', 'loop max'];
      rows = s.figures.map((x) => [x.target, int(x.rate), f(x.latency.p50, 2), f(x.latency.p99, 2), f(x.latency.max, 2), int(x.failed), f(x.process?.loopMaxMs)]);
    } else {
      head = ['target', 'complete', 'failed', 'peak open', 'TTFT p50', 'TTFT p99', 'total p50', 'CPU µs/event', 'RSS MB', 'loop max'];
      rows = s.figures.map((x) => [x.target, int(x.completed), int(x.failed), int(x.peakOpen), f(x.ttft.p50, 2), f(x.ttft.p99, 2), f(x.completion.p50, 0), f(cpuPerEventUs(x), 1), int(x.process?.peakRssMb), f(x.process?.loopMaxMs)]);
    }
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    lines.push(pad(head, widths), ...rows.map((row) => pad(row, widths)));
  }
  lines.push('', 'performance budget:');
  for (const c of checks) lines.push(`  ${c.verdict.padEnd(4)}  ${c.goal}: ${c.measured}`);
  const feat = r.features;
  lines.push('', `pipeline: auth ${feat.auth}, credits ${feat.credits ? 'on' : 'off'}, rate limits ${feat.rateLimits ? 'on' : 'off'}, request log ${feat.requestLog ? 'on' : 'off'}, metrics ${feat.metrics ? 'on' : 'off'}`);
  return lines.join('\n');
}
