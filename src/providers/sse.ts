/**
 * A small incremental Server-Sent Events parser over bytes (WHATWG framing: LF, CRLF or CR line ends,
 * multi-line `data`, `event` names, comment lines). Each complete event is handed out once.
 *
 * It scans bytes and decodes one complete line at a time: CR and LF never occur inside a UTF-8 sequence, so a
 * line is always whole characters, and only an unfinished line is carried to the next push. This runs once per
 * upstream read of every stream, so it avoids a streaming TextDecoder and re-scanning a growing string.
 */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

const LF = 10;
const CR = 13;
const COLON = 58;
const SPACE = 32;
const BOM = [0xef, 0xbb, 0xbf];

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `data:` at `s`, as bytes. */
function isDataField(buf: Buffer, s: number, e: number): boolean {
  return e - s >= 5 && buf[s] === 100 && buf[s + 1] === 97 && buf[s + 2] === 116 && buf[s + 3] === 97 && buf[s + 4] === COLON;
}

export class SseParser {
  /** Bytes of an unfinished line (a copy), carried to the next push. */
  private rest: Buffer | undefined;
  /** A leading byte-order mark is dropped once, as TextDecoder does. */
  private atStart = true;
  private eventName: string | undefined;
  private data: string[] = [];

  /** Feeds bytes; returns the events they completed. */
  push(bytes: Uint8Array): SseEvent[] {
    const events: SseEvent[] = [];
    if (bytes.byteLength === 0) return events;
    const buf = this.rest ? Buffer.concat([this.rest, bytes]) : asBuffer(bytes);
    this.rest = undefined;
    let start = 0;
    if (this.atStart) {
      // A BOM split across pushes: wait for its last byte.
      if (buf.length < BOM.length && buf.every((b, i) => b === BOM[i])) {
        this.rest = Buffer.from(buf);
        return events;
      }
      this.atStart = false;
      if (buf[0] === BOM[0] && buf[1] === BOM[1] && buf[2] === BOM[2]) start = BOM.length;
    }
    start = this.lines(buf, start, false, events);
    if (start < buf.length) this.rest = Buffer.from(buf.subarray(start));
    return events;
  }

  /** Ends the stream; returns a final event that was not terminated by a blank line, if any. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    const buf = this.rest;
    this.rest = undefined;
    if (buf) {
      const start = this.lines(buf, 0, true, events);
      if (start < buf.length) this.line(buf, start, buf.length, events);
    }
    this.dispatch(events);
    return events;
  }

  /** Handles every complete line from `start`; returns where the unfinished rest begins. */
  private lines(buf: Buffer, start: number, final: boolean, events: SseEvent[]): number {
    if (buf.indexOf(CR, start) === -1) {
      // LF-only framing (nearly every upstream): the native search finds each line end.
      for (let nl = buf.indexOf(LF, start); nl !== -1; nl = buf.indexOf(LF, start)) {
        this.line(buf, start, nl, events);
        start = nl + 1;
      }
      return start;
    }
    for (let i = start; i < buf.length; i++) {
      const c = buf[i];
      if (c !== LF && c !== CR) continue;
      // A CR at the very end may be the first half of CRLF: wait for more bytes unless the stream ended.
      if (c === CR && i === buf.length - 1 && !final) break;
      this.line(buf, start, i, events);
      if (c === CR && buf[i + 1] === LF) i++;
      start = i + 1;
    }
    return start;
  }

  /** One line, bytes `s` to `e` (its line end excluded). */
  private line(buf: Buffer, s: number, e: number, events: SseEvent[]): void {
    if (s === e) return this.dispatch(events);
    if (buf[s] === COLON) return; // comment / heartbeat
    if (isDataField(buf, s, e)) {
      const v = buf[s + 5] === SPACE ? s + 6 : s + 5;
      this.data.push(buf.toString('utf8', v, e));
      return;
    }
    const line = buf.toString('utf8', s, e);
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === SPACE) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length) {
      events.push({ event: this.eventName, data: this.data.length === 1 ? this.data[0] : this.data.join('\n') });
      this.data = [];
    }
    this.eventName = undefined;
  }
}
