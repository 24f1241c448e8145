/**
 * Summarizes a V8 `.cpuprofile` (from `node --cpu-prof`): self time aggregated by function + file, and by
 * package or source area, optionally restricted to a time window (the load phase, so that start-up does
 * not count). Usable on its own:
 *
 *   npx tsx bench/cpuprofile-summary.ts bench/.out/profiles/chat/chat-main.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeRow {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** Sampled time in the window, idle excluded, ms. */
  busyMs: number;
  idleMs: number;
  functions: SelfTimeRow[];
  areas: SelfTimeRow[];
  /** Total (self + callees) time of the project's own functions (src/), i.e. what each pipeline stage costs. */
  inclusiveSrc: SelfTimeRow[];
}

/** Microsecond timestamps on the clock V8 stamps samples with (process.hrtime's). */
export interface Window {
  fromUs: number;
  toUs: number;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function shortUrl(url: string): string {
  let u = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (u.startsWith(ROOT)) u = u.slice(ROOT.length);
  const nm = u.lastIndexOf('node_modules/');
  return nm === -1 ? u : u.slice(nm + 'node_modules/'.length);
}

/** Where time went, coarsely: a package, an area of src/, node's internals or V8's own buckets. */
function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const u = shortUrl(url);
  if (u.startsWith('src/')) return u.split('/').slice(0, 2).join('/');
  if (u.startsWith('bench/')) return 'bench';
  const parts = u.split('/');
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  return frame.url ? `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}` : name;
}

function top(map: Map<string, number>, busyUs: number, n: number): SelfTimeRow[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, percent: busyUs ? (100 * us) / busyUs : 0 }));
}

export function summarizeProfile(profile: CpuProfile, opts: { top?: number; window?: Window } = {}): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const onStack = new Set<string>();
  // Use the window only when it overlaps the profile (same clock); otherwise keep every sample.
  const w = opts.window && opts.window.toUs > profile.startTime && opts.window.fromUs < profile.endTime ? opts.window : undefined;
  let t = profile.startTime;
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    // A sample stands for the interval until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (w && (t < w.fromUs || t > w.toUs)) continue;
    const node = byId.get(profile.samples[i]);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const fk = functionKey(node.callFrame);
    byFunction.set(fk, (byFunction.get(fk) ?? 0) + dt);
    const ak = areaOf(node.callFrame);
    byArea.set(ak, (byArea.get(ak) ?? 0) + dt);
    // Each src/ function on the stack gets the sample once, however deep its recursion.
    onStack.clear();
    for (let id: number | undefined = node.id; id !== undefined; id = parentOf.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.url && shortUrl(frame.url).startsWith('src/')) onStack.add(functionKey(frame));
    }
    for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
  const n = opts.top ?? 25;
  return { busyMs: busy / 1000, idleMs: idle / 1000, functions: top(byFunction, busy, n), areas: top(byArea, busy, 15), inclusiveSrc: top(inclusive, busy, 15) };
}

export function summarizeProfileFile(path: string, opts: { top?: number; window?: Window } = {}): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, opts);
}

export function formatSummary(s: ProfileSummary): string {
  const rows = (list: SelfTimeRow[]) => list.map((r) => `${r.ms.toFixed(1).padStart(9)} ms ${r.percent.toFixed(1).padStart(5)}%  ${r.name}`).join('\n');
  return `busy ${s.busyMs.toFixed(0)} ms, idle ${s.idleMs.toFixed(0)} ms\n\nself time by function:\n${rows(s.functions)}\n\nself time by area:\n${rows(s.areas)}\n\ntotal time of src/ functions:\n${rows(s.inclusiveSrc)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
  for (const file of positionals) process.stdout.write(`== ${file}\n${formatSummary(summarizeProfileFile(file, { top: Number(values.top) }))}\n`);
}
