/** The console's server-sent-event parsing (eventsource-parser): the frames the API writes, however the network cuts them. */
import { describe, expect, it } from 'vitest';
import { SseParser, type SseFrame } from '../web/src/sse.ts';

const parse = (...chunks: string[]): SseFrame[] => {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
};

const envelope = JSON.stringify({ id: '01JD0ZQ8X3V7K2M4N6P8R0T2W4', type: 'region.synced', version: 5, data: { region: 'eu-west-1' } });
/** What the build stream writes: an event frame, a keep-alive comment, a view frame (no id). */
const wire = `id: 5\nevent: region.synced\ndata: ${envelope}\n\n: waiting\n\nevent: view\ndata: {"status":"IN_PROGRESS"}\n\n`;
const expected: SseFrame[] = [
  { id: '5', event: 'region.synced', data: envelope },
  { event: 'view', data: '{"status":"IN_PROGRESS"}' },
];

describe('SseParser', () => {
  it('reads event frames and view frames, and skips comments', () => {
    expect(parse(wire)).toEqual(expected);
  });

  it('reads the same frames however the text is cut into chunks', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      expect(parse(wire.slice(0, cut), wire.slice(cut)), `cut at ${cut}`).toEqual(expected);
    }
    expect(parse(...wire.split(''))).toEqual(expected);
  });

  it('accepts CRLF and CR line endings, even with a CRLF split between chunks', () => {
    const crlf = wire.replaceAll('\n', '\r\n');
    for (let cut = 0; cut <= crlf.length; cut++) expect(parse(crlf.slice(0, cut), crlf.slice(cut)), `cut at ${cut}`).toEqual(expected);
    expect(parse(wire.replaceAll('\n', '\r'), 'x')).toEqual(expected);
  });

  it('holds a frame back until its blank line arrives', () => {
    const parser = new SseParser();
    expect(parser.push('id: 1\nevent: build.started\ndata: {}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ id: '1', event: 'build.started', data: '{}' }]);
  });

  it('joins data lines with a newline and removes one leading space from a value', () => {
    expect(parse('data:  two spaces\ndata:none\ndata\n\n')).toEqual([{ event: 'message', data: ' two spaces\nnone\n' }]);
  });

  it('dispatches nothing for a frame without data, and ignores unknown fields', () => {
    expect(parse('event: view\n\nfoo: bar\nid: 3\n\n: only a comment\n\n')).toEqual([]);
    expect(parse('event: x\nfoo: bar\ndata: d\n\n')).toEqual([{ event: 'x', data: 'd' }]);
  });

  it('does not carry a frame\'s id or event type over to the next frame', () => {
    expect(parse('id: 7\nevent: a\ndata: 1\n\ndata: 2\n\n')).toEqual([
      { id: '7', event: 'a', data: '1' },
      { event: 'message', data: '2' },
    ]);
  });

  it('ignores retry and an id with a NUL, and drops a byte-order mark at the start', () => {
    expect(parse('\uFEFFretry: 3000\nid: a\0b\ndata: x\n\n')).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('drops an unterminated frame when the stream ends', () => {
    const parser = new SseParser();
    expect(parser.push('data: half')).toEqual([]);
    parser.end();
    expect(parser.push('\n\ndata: next\n\n')).toEqual([{ event: 'message', data: 'next' }]);
  });
});
