import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SseParser, type SseEvent } from '../../src/providers/sse.ts';

const enc = new TextEncoder();

/** Feeds each string as one push, then ends the stream; returns every event in order. */
function parse(...pieces: (string | Uint8Array)[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const piece of pieces) out.push(...p.push(typeof piece === 'string' ? enc.encode(piece) : piece));
  out.push(...p.end());
  return out;
}

function byteByByte(text: string): SseEvent[] {
  const bytes = enc.encode(text);
  return parse(...Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
}

const data = (d: string, event?: string): SseEvent => ({ event, data: d });

describe('SseParser line endings', () => {
  const expected = [data('one'), data('two', 'update')];

  it('splits events on LF', () => {
    assert.deepEqual(parse('data: one\n\nevent: update\ndata: two\n\n'), expected);
  });

  it('splits events on CRLF', () => {
    assert.deepEqual(parse('data: one\r\n\r\nevent: update\r\ndata: two\r\n\r\n'), expected);
  });

  it('splits events on bare CR', () => {
    assert.deepEqual(parse('data: one\r\revent: update\rdata: two\r\r'), expected);
  });

  it('accepts mixed line endings in one stream', () => {
    assert.deepEqual(parse('data: one\r\n\nevent: update\rdata: two\n\r\n'), expected);
  });

  it('treats CRLF split across pushes as one line end, not two', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: a\r')), []);
    // Had the CR been taken as a line end and the LF as a second one, "a" would dispatch here with "b" lost.
    assert.deepEqual(p.push(enc.encode('\ndata: b\r')), []);
    assert.deepEqual(p.push(enc.encode('\n\r')), []);
    assert.deepEqual(p.push(enc.encode('\n')), [data('a\nb')]);
    assert.deepEqual(p.end(), []);
  });

  it('dispatches on a blank CR line once the next byte shows it is not CRLF', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: a\r\r')), []);
    assert.deepEqual(p.push(enc.encode('data: b\r\r')), [data('a')]);
    assert.deepEqual(p.end(), [data('b')]);
  });

  it('gives the same events byte by byte as in one push, for every line ending', () => {
    for (const nl of ['\n', '\r\n', '\r']) {
      const text = `: hi${nl}event: delta${nl}data: {"x":1}${nl}data: {"y":2}${nl}${nl}data: last${nl}${nl}`;
      assert.deepEqual(byteByByte(text), parse(text), JSON.stringify(nl));
      assert.deepEqual(parse(text), [data('{"x":1}\n{"y":2}', 'delta'), data('last')]);
    }
  });
});

describe('SseParser fields', () => {
  it('joins multi-line data with \\n', () => {
    assert.deepEqual(parse('data: first\ndata: second\ndata:third\n\n'), [data('first\nsecond\nthird')]);
  });

  it('keeps empty data lines inside multi-line data', () => {
    assert.deepEqual(parse('data: a\ndata\ndata:\ndata: b\n\n'), [data('a\n\n\nb')]);
  });

  it('strips exactly one space after the colon', () => {
    assert.deepEqual(parse('data:  two spaces\n\ndata:none\n\n'), [data(' two spaces'), data('none')]);
  });

  it('names events with event: and resets the name after each dispatch', () => {
    assert.deepEqual(parse('event: message_start\ndata: {}\n\ndata: plain\n\nevent: ping\ndata: {"type":"ping"}\n\n'), [
      data('{}', 'message_start'),
      data('plain'),
      data('{"type":"ping"}', 'ping'),
    ]);
  });

  it('ignores comment lines, unknown fields, id and retry', () => {
    assert.deepEqual(parse(': OPENROUTER PROCESSING\n\n:\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n: inline comment\n\n'), [data('x')]);
  });

  it('does not emit events that carry no data', () => {
    assert.deepEqual(parse('event: ping\n\n\n\n: only a comment\n\n'), []);
  });

  it('keeps colons inside the value', () => {
    assert.deepEqual(parse('data: {"url":"https://example.com:8443/a"}\n\n'), [data('{"url":"https://example.com:8443/a"}')]);
  });
});

describe('SseParser end of stream', () => {
  it('returns a final event without a trailing blank line from end()', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: one\n\ndata: two')), [data('one')]);
    assert.deepEqual(p.end(), [data('two')]);
  });

  it('returns a final event that ended with a single line end, or with a lone CR', () => {
    assert.deepEqual(parse('event: done\ndata: [DONE]\n'), [data('[DONE]', 'done')]);
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: tail\r')), []);
    assert.deepEqual(p.end(), [data('tail')]);
  });

  it('returns nothing from end() when everything was already dispatched', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: one\n\n')), [data('one')]);
    assert.deepEqual(p.end(), []);
  });

  it('hands each event out once', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(enc.encode('data: one\n\n')), [data('one')]);
    assert.deepEqual(p.push(enc.encode('data: two\n\n')), [data('two')]);
    assert.deepEqual(p.push(new Uint8Array()), []);
  });
});

describe('SseParser UTF-8', () => {
  it('reassembles multi-byte characters split across pushes', () => {
    const text = 'data: héllo ☀️ 日本語 😀\n\n';
    const bytes = enc.encode(text);
    // Split inside every multi-byte sequence: byte by byte covers 2-, 3- and 4-byte characters.
    assert.deepEqual(byteByByte(text), [data('héllo ☀️ 日本語 😀')]);
    // And a split right in the middle of the 4-byte emoji.
    const emoji = bytes.indexOf(0xf0);
    assert.deepEqual(parse(bytes.subarray(0, emoji + 2), bytes.subarray(emoji + 2)), [data('héllo ☀️ 日本語 😀')]);
  });

  it('strips a leading byte-order mark, also when it arrives split across pushes', () => {
    assert.deepEqual(parse(new Uint8Array([0xef, 0xbb, 0xbf]), 'data: x\n\n'), [data('x')]);
    assert.deepEqual(parse(new Uint8Array([0xef]), new Uint8Array([0xbb]), new Uint8Array([0xbf, 0x64]), 'ata: y\n\n'), [data('y')]);
    // Only at the start of the stream: later, U+FEFF is content.
    assert.deepEqual(parse('data: a\n\n', new Uint8Array([0xef, 0xbb, 0xbf]), 'data: b\n\n'), [data('a')]);
  });

  it('replaces invalid UTF-8 with U+FFFD instead of failing', () => {
    assert.deepEqual(parse(new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0x61, 0xff, 0x62, 0x0a, 0x0a])), [data('a\ufffdb')]);
  });

  it('reads Uint8Array views at an offset into a larger buffer', () => {
    const whole = enc.encode('xxxxdata: view\n\nyyyy');
    assert.deepEqual(parse(whole.subarray(4, whole.length - 4)), [data('view')]);
  });
});
