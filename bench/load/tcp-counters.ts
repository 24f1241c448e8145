/**
 * Linux's TCP counters for connections that never reached a server's accept(): when a listening socket's accept
 * queue is full, the kernel drops the handshake (`ListenOverflows`, `ListenDrops`) and the client retransmits its
 * SYN (`TCPSynRetrans`) after TCP's initial retransmission timeout, 1 s, then 3 s. Such a stream's time to first
 * token includes that second, whatever the server does once it accepts. The counters are machine-wide: read
 * around one target's run, they cover its listener and the listeners it connects to (the upstream).
 */
import { readFileSync } from 'node:fs';

export interface TcpCounters {
  listenOverflows: number;
  listenDrops: number;
  synRetransmits: number;
}

const FIELDS: Record<string, keyof TcpCounters> = {
  ListenOverflows: 'listenOverflows',
  ListenDrops: 'listenDrops',
  TCPSynRetrans: 'synRetransmits',
};
const KEYS = Object.values(FIELDS);

/** a + sign * b, counter by counter. */
function combine(a: TcpCounters, b: TcpCounters, sign: 1 | -1): TcpCounters {
  const out = {} as TcpCounters;
  for (const k of KEYS) out[k] = a[k] + sign * b[k];
  return out;
}

/** Parses /proc/net/netstat: pairs of lines, a header line of names and a line of values, per protocol. */
export function parseNetstat(text: string): TcpCounters | undefined {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('TcpExt:') || !lines[i + 1].startsWith('TcpExt:')) continue;
    const names = lines[i].trim().split(/\s+/);
    const values = lines[i + 1].trim().split(/\s+/);
    const out: Partial<TcpCounters> = {};
    names.forEach((name, k) => {
      const field = FIELDS[name];
      if (field && values[k] !== undefined) out[field] = Number(values[k]);
    });
    return KEYS.every((k) => out[k] !== undefined) ? (out as TcpCounters) : undefined;
  }
  return undefined;
}

/** The counters now, or undefined where there is no /proc/net/netstat (not Linux) or it lacks them. */
export function readTcpCounters(path = '/proc/net/netstat'): TcpCounters | undefined {
  try {
    return parseNetstat(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** What the counters moved by between two readings (undefined if either is missing). */
export function countersSince(before: TcpCounters | undefined, after: TcpCounters | undefined): TcpCounters | undefined {
  return before && after ? combine(after, before, -1) : undefined;
}

/** Adds two deltas; a run whose counters could not be read adds nothing. */
export function addCounters(a: TcpCounters | undefined, b: TcpCounters | undefined): TcpCounters | undefined {
  return a && b ? combine(a, b, 1) : (a ?? b);
}
