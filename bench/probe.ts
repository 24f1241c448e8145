/**
 * In-process probe for every process under test (fake upstream, Switchyard, Portkey). Importing this module
 * installs it (Portkey gets it with `node --import`): it watches event-loop delay with
 * `monitorEventLoopDelay`, resident memory (VmRSS / VmHWM from /proc/self/status, with VmHWM reset per
 * measurement window through /proc/self/clear_refs) and CPU time, and answers the parent over the IPC
 * channel:
 *
 *   parent -> child  { probe: 'reset' }           start a new measurement window
 *   parent -> child  { probe: 'read', id }        -> { probe: 'stats', id, stats: ProbeStats }
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync, writeFileSync } from 'node:fs';

export interface ProbeStats {
  /** Longest event-loop stall in the window, ms. */
  loopMaxMs: number;
  loopP99Ms: number;
  loopMeanMs: number;
  rssMb: number;
  /** Highest resident set size in the window, MB. */
  peakRssMb: number;
  /** Highest resident set size since the process started, MB. */
  lifetimePeakRssMb: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Wall time of the window, ms. */
  windowMs: number;
  /** process.hrtime at the read, in microseconds (the clock V8's CPU profiler stamps samples with). */
  monotonicUs: number;
}

export type ProbeRequest = { probe: 'reset' } | { probe: 'read'; id: number };
export type ProbeReply = { probe: 'stats'; id: number; stats: ProbeStats };

const MB = 1024 * 1024;

function statusKb(field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux >= 4.0); false where that is not allowed. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

class Probe {
  private readonly loop = monitorEventLoopDelay({ resolution: 5 });
  private readonly sampler: NodeJS.Timeout;
  private canResetPeak = false;
  private windowStart = performance.now();
  private cpuStart = process.cpuUsage();
  private sampledPeak = 0;
  private lifetimePeak = 0;

  constructor() {
    this.loop.enable();
    // Sampling backs up VmHWM where it cannot be reset; 10 reads a second cost nothing measurable.
    this.sampler = setInterval(() => {
      const rss = process.memoryUsage.rss();
      if (rss > this.sampledPeak) this.sampledPeak = rss;
    }, 100);
    this.sampler.unref();
    this.reset();
  }

  reset(): void {
    this.loop.reset();
    this.canResetPeak = resetPeakRss();
    this.sampledPeak = process.memoryUsage.rss();
    this.windowStart = performance.now();
    this.cpuStart = process.cpuUsage();
  }

  read(): ProbeStats {
    const rss = process.memoryUsage.rss();
    const hwmKb = statusKb('VmHWM');
    const windowPeak = Math.max(this.sampledPeak, rss, this.canResetPeak && hwmKb ? hwmKb * 1024 : 0);
    this.lifetimePeak = Math.max(this.lifetimePeak, windowPeak, hwmKb ? hwmKb * 1024 : 0);
    const cpu = process.cpuUsage(this.cpuStart);
    const [s, ns] = process.hrtime();
    const max = this.loop.max;
    return {
      // The histogram holds nanoseconds; an untouched one reports huge sentinels, shown as 0.
      loopMaxMs: this.loop.count ? max / 1e6 : 0,
      loopP99Ms: this.loop.count ? this.loop.percentile(99) / 1e6 : 0,
      loopMeanMs: this.loop.count ? this.loop.mean / 1e6 : 0,
      rssMb: rss / MB,
      peakRssMb: windowPeak / MB,
      lifetimePeakRssMb: this.lifetimePeak / MB,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      windowMs: performance.now() - this.windowStart,
      monotonicUs: s * 1e6 + ns / 1e3,
    };
  }
}

function isProbeRequest(msg: unknown): msg is ProbeRequest {
  return typeof msg === 'object' && msg !== null && 'probe' in msg;
}

declare global {
  // eslint-disable-next-line no-var
  var __switchyardBenchProbe: Probe | undefined;
}

/** Installs the probe once per process; without an IPC channel it does nothing. */
export function installProbe(): void {
  if (globalThis.__switchyardBenchProbe || !process.send) return;
  const probe = new Probe();
  globalThis.__switchyardBenchProbe = probe;
  process.on('message', (msg: unknown) => {
    if (!isProbeRequest(msg)) return;
    if (msg.probe === 'reset') probe.reset();
    else if (msg.probe === 'read') process.send!({ probe: 'stats', id: msg.id, stats: probe.read() } satisfies ProbeReply);
  });
}

installProbe();
