/**
 * The server-sent-events wire format, parsed by eventsource-parser as the text arrives.
 * EventSource would parse it too, but it cannot send the Authorization header, so the console
 * reads the stream with fetch (stream.ts) and hands the decoded text here, a chunk at a time.
 *
 * A frame's `id` is set only when that frame has an `id:` line (the build stream's `view` frames
 * have none), so the caller decides what the last id seen is.
 */
import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseFrame {
  /** The `id:` line of this frame, if it had one. */
  id?: string;
  /** The `event:` line; `message` when the frame had none. */
  event: string;
  data: string;
}

export class SseParser {
  readonly #completed: SseFrame[] = [];
  readonly #parser: EventSourceParser = createParser({
    onEvent: ({ id, event, data }) => this.#completed.push({ event: event ?? 'message', data, ...(id === undefined ? {} : { id }) }),
  });

  /** Takes the next piece of decoded text; answers the frames it completed, in order. */
  push(text: string): SseFrame[] {
    this.#parser.feed(text);
    return this.#completed.splice(0);
  }

  /** The stream ended: a frame not closed by a blank line is dropped, as EventSource drops it, and the next stream starts clean. */
  end(): void {
    this.#parser.reset();
    this.#completed.length = 0;
  }
}
