// Reading the platform's event streams (text/event-stream): each event is
// one `data: <json>` line and a blank line. Lines are split on bytes and
// decoded only once whole, so a character cut between reads is not broken.

import { LapError } from "./errors.js";

// One event larger than this is not an answer's delta but a broken or
// hostile stream; the platform's biggest (a whole part) is far smaller.
export const MAX_EVENT_BYTES = 8 << 20;

const NEWLINE = 0x0a;

// TooLarge is a stream that brought more than lap holds: an event, or an
// answer, past its bound. Following such a stream again would bring it again.
export class TooLarge extends LapError {}

// EventReader turns chunks of bytes into the JSON values of complete events.
export class EventReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private data: string[] = [];
  private dataBytes = 0;

  constructor(private readonly maxBytes = MAX_EVENT_BYTES) {}

  // push returns the events completed by chunk. A data line that is not
  // JSON is skipped: a proxy's comment must not end the chat.
  push(chunk: Uint8Array): unknown[] {
    const events: unknown[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
      this.keep(chunk.subarray(from, nl));
      const line = Buffer.concat(this.pending).toString("utf8").replace(/\r$/, "");
      this.pending = [];
      this.pendingBytes = 0;
      const event = this.line(line);
      if (event !== undefined) events.push(event);
      from = nl + 1;
    }
    this.keep(chunk.subarray(from));
    return events;
  }

  private keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.pendingBytes += bytes.length;
    if (this.pendingBytes + this.dataBytes > this.maxBytes) throw new TooLarge(`an event of the stream is over ${this.maxBytes} bytes`);
    this.pending.push(Buffer.from(bytes));
  }

  private line(line: string): unknown {
    if (line === "") {
      if (this.data.length === 0) return undefined;
      const text = this.data.join("\n");
      this.data = [];
      this.dataBytes = 0;
      try {
        return JSON.parse(text);
      } catch {
        return undefined;
      }
    }
    if (line.startsWith("data:")) {
      const value = line.slice(5).replace(/^ /, "");
      this.data.push(value);
      this.dataBytes += value.length;
    }
    // Comments (":"), event:, id: and retry: lines carry nothing lap uses.
    return undefined;
  }
}

// readEvents yields the events of a stream's body until it ends.
export async function* readEvents(body: AsyncIterable<Uint8Array>, maxBytes = MAX_EVENT_BYTES): AsyncGenerator<unknown> {
  const reader = new EventReader(maxBytes);
  for await (const chunk of body) {
    for (const event of reader.push(chunk)) yield event;
  }
}

// Following a session's events (`lap logs -f`, a chat whose stream was
// cut): the platform cuts each stream after 600 s, and a stream may drop.
// A stream is opened at most once a FOLLOW_RETRY_MS, and FOLLOW_ATTEMPTS in
// a row that failed or brought nothing end the following: a platform that
// closes every stream at once is not asked again and again.
export const FOLLOW_ATTEMPTS = 5;
export const FOLLOW_RETRY_MS = 1_000;

// What reading one stream came to: the following is over, or it goes on
// after a stream that brought something, or one that brought nothing.
export type Followed = "over" | "brought" | "empty";

// follow calls readOnce, one stream each, until it says "over" or signal
// fires. A failure past the last attempt, or once signal fired, is thrown;
// so is nothing() when every attempt brought nothing.
export async function follow(readOnce: () => Promise<Followed>, signal: AbortSignal, nothing: () => Error, retryMs = FOLLOW_RETRY_MS): Promise<void> {
  for (let failures = 0; ; ) {
    const opened = Date.now();
    let got: Followed;
    try {
      got = await readOnce();
    } catch (err) {
      if (signal.aborted || err instanceof TooLarge || ++failures >= FOLLOW_ATTEMPTS) throw err;
      await sleep(retryMs, signal);
      continue;
    }
    if (got === "over" || signal.aborted) return;
    if (got === "brought") failures = 0;
    else if (++failures >= FOLLOW_ATTEMPTS) throw nothing();
    await sleep(opened + retryMs - Date.now(), signal);
  }
}

// sleep waits ms, or less if signal aborts; either way it leaves no
// listener behind on the signal.
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
