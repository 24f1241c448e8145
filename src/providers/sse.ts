/**
 * A small incremental Server-Sent Events parser over bytes (WHATWG framing: LF, CRLF or CR line ends,
 * multi-line `data`, `event` names, comment lines). Each complete event is handed out once.
 */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

export class SseParser {
  private readonly decoder = new TextDecoder();
  private buffer = '';
  private eventName: string | undefined;
  private data: string[] = [];

  /** Feeds bytes; returns the events they completed. */
  push(bytes: Uint8Array): SseEvent[] {
    this.buffer += this.decoder.decode(bytes, { stream: true });
    return this.drain(false);
  }

  /** Ends the stream; returns a final event that was not terminated by a blank line, if any. */
  end(): SseEvent[] {
    this.buffer += this.decoder.decode();
    const events = this.drain(true);
    if (this.buffer.length) {
      this.line(this.buffer, events);
      this.buffer = '';
    }
    this.dispatch(events);
    return events;
  }

  private drain(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    const buf = this.buffer;
    for (let i = 0; i < buf.length; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the very end may be the first half of CRLF: wait for more bytes unless the stream ended.
      if (c === 13 && i === buf.length - 1 && !final) break;
      this.line(buf.slice(start, i), events);
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buffer = buf.slice(start);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line.length === 0) return this.dispatch(events);
    if (line.charCodeAt(0) === 58 /* ':' */) return; // comment / heartbeat
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.eventName = value;
  }

  private dispatch(events: SseEvent[]): void {
    if (this.data.length) events.push({ event: this.eventName, data: this.data.length === 1 ? this.data[0] : this.data.join('\n') });
    this.data = [];
    this.eventName = undefined;
  }
}
