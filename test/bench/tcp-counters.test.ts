/**
 * The stream scenario reports how many connection attempts overflowed a full accept queue, from Linux's
 * /proc/net/netstat; a misread column would blame (or clear) the wrong target.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addCounters, countersSince, parseNetstat, readTcpCounters } from '../../bench/load/tcp-counters.ts';

// The layout of /proc/net/netstat: a line of names, then a line of values, per protocol (trimmed columns).
const NETSTAT = [
  'TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops TCPSynRetrans TCPReqQFullDrop',
  'TcpExt: 0 0 861 863 799 0',
  'IpExt: InNoRoutes InTruncatedPkts ListenOverflows',
  'IpExt: 0 0 5',
  '',
].join('\n');

describe('TCP counters for the stream scenario', () => {
  it('reads ListenOverflows, ListenDrops and TCPSynRetrans from the TcpExt lines by name', () => {
    assert.deepEqual(parseNetstat(NETSTAT), { listenOverflows: 861, listenDrops: 863, synRetransmits: 799 });
  });

  it('gives up when a counter is missing rather than report a zero', () => {
    assert.equal(parseNetstat('TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 2\n'), undefined);
    assert.equal(parseNetstat('IpExt: InNoRoutes\nIpExt: 0\n'), undefined);
    assert.equal(parseNetstat(''), undefined);
  });

  it('subtracts two readings and sums the rounds; a missing reading adds nothing', () => {
    const before = { listenOverflows: 10, listenDrops: 11, synRetransmits: 5 };
    const after = { listenOverflows: 510, listenDrops: 511, synRetransmits: 405 };
    const d = countersSince(before, after);
    assert.deepEqual(d, { listenOverflows: 500, listenDrops: 500, synRetransmits: 400 });
    assert.equal(countersSince(undefined, after), undefined);
    assert.deepEqual(addCounters(d, d), { listenOverflows: 1000, listenDrops: 1000, synRetransmits: 800 });
    assert.deepEqual(addCounters(undefined, d), d);
    assert.deepEqual(addCounters(d, undefined), d);
  });

  it('reads nothing where the file does not exist, and numbers from this machine on Linux', { skip: process.platform !== 'linux' }, () => {
    assert.equal(readTcpCounters('/nonexistent/netstat'), undefined);
    const now = readTcpCounters();
    assert.ok(now && Number.isInteger(now.listenOverflows) && now.listenOverflows >= 0);
  });
});
