/**
 * The server-sent-events wire format, parsed from text as it arrives. EventSource would do this,
 * but it cannot send the Authorization header, so the console reads the stream with fetch and
 * feeds the decoded text here (stream.ts). Pure: no DOM, no I/O.
 *
 * It follows the WHATWG parsing rules the API's streams use: lines end with LF, CRLF or CR; a line
 * starting with `:` is a comment (the server's keep-alive); `field: value` loses one leading space
 * of its value; `data` lines are joined with LF; a blank line ends the frame; a frame without
 * `data` is not dispatched; a chunk may end anywhere, even between the CR and the LF of one line
 * ending, and the rest of the line comes with the next chunk.
 *
 * One difference from EventSource: a frame's `id` is set only when that frame has an `id:` line
 * (the build stream's `view` frames have none), so the caller decides what the last id seen is.
 */

export interface SseFrame {
  /** The `id:` line of this frame, if it had one. */
  id?: string;
  /** The `event:` line; `message` when the frame had none. */
  event: string;
  data: string;
  /** The `retry:` line (milliseconds), if any: the server's reconnection delay. */
  retry?: number;
}

export class SseParser {
  #buffer = '';
  #started = false;
  #data: string[] = [];
  #event = '';
  #id: string | undefined;
  #retry: number | undefined;

  /** Takes the next piece of decoded text; answers the frames it completed, in order. */
  push(text: string): SseFrame[] {
    let chunk = text;
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      // A byte-order mark may open the stream, never a line.
      if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
    }
    this.#buffer += chunk;
    const frames: SseFrame[] = [];
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start);
      const lf = this.#buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
        if (cr === this.#buffer.length - 1) break;
        end = cr;
        next = this.#buffer[cr + 1] === '\n' ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      const frame = this.#line(this.#buffer.slice(start, end));
      if (frame) frames.push(frame);
      start = next;
    }
    this.#buffer = this.#buffer.slice(start);
    return frames;
  }

  /**
   * The stream ended. A frame not closed by a blank line is dropped, as EventSource drops it, and
   * so is a trailing CR the parser was holding back: the next stream starts clean.
   */
  end(): void {
    this.#buffer = '';
    this.#reset();
  }

  #line(line: string): SseFrame | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        // An id with a NUL is ignored, per the standard.
        if (!value.includes('\0')) this.#id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#retry = Number(value);
        break;
      default:
        // Unknown fields are ignored, per the standard.
        break;
    }
    return undefined;
  }

  #dispatch(): SseFrame | undefined {
    const frame: SseFrame | undefined =
      this.#data.length === 0
        ? undefined
        : {
            event: this.#event || 'message',
            data: this.#data.join('\n'),
            ...(this.#id === undefined ? {} : { id: this.#id }),
            ...(this.#retry === undefined ? {} : { retry: this.#retry }),
          };
    this.#reset();
    return frame;
  }

  #reset(): void {
    this.#data = [];
    this.#event = '';
    this.#id = undefined;
    this.#retry = undefined;
  }
}
