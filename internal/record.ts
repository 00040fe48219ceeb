// LAP_RECORD_FRAMES: a Link that writes everything crossing the WebSocket to
// a recording (frames.ts) while passing it on unchanged, so real sessions
// become golden files (the golden harness replays them). The token is spent
// by dial() before a Link exists, so it cannot reach a recording.

import fs from "node:fs";
import path from "node:path";
import { createPrivate } from "./cast.js";
import { LapError } from "./errors.js";
import { closeLine, elapsed, frameLine, headerLine, isUtf8, type Side } from "./frames.js";
import type { Size } from "./tty.js";
import type { Link } from "./ws.js";

const NOTE = "recorded by lap (LAP_RECORD_FRAMES), client side; server frames that are valid UTF-8 are written as text";

export interface RecordOptions {
  // Replace files that exist (--overwrite); without it they are refused.
  overwrite?: boolean;
  // Told once when writing fails; recording then stops, the session goes on.
  onFailure?: (why: string) => void;
}

// recorder gives a wrapper for each link a session opens: the first is
// recorded to file, later ones (reconnects) to NAME-2.jsonl, NAME-3.jsonl...
// since one recording is one WebSocket.
export function recorder(file: string, opts: RecordOptions = {}): (link: Link, size: Size | null) => Link {
  let n = 0;
  return (link, size) => {
    n++;
    return recording(link, n === 1 ? file : numbered(file, n), size, opts);
  };
}

function numbered(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${n}${ext}`;
}

// recording wraps an open link. Every frame is written (synchronously, so
// nothing is lost when lap exits right after the bridge) before it is passed
// on; the file is complete once either side has closed. A write that fails
// (a full disk, a file size limit) stops the recording, never the session.
export function recording(link: Link, file: string, size: Size | null, opts: RecordOptions = {}): Link {
  let fd: number;
  try {
    fd = createPrivate(file, !!opts.overwrite);
  } catch (err) {
    link.close(1000, "");
    const e = err as NodeJS.ErrnoException;
    const why = e.code === "EEXIST" ? "the file exists (--overwrite replaces it)" : e.code === "ELOOP" ? "it is a symbolic link"
      : e.code === "ENOTFILE" || e.code === "ENXIO" ? "it is not a regular file" : e.message;
    throw new LapError(`LAP_RECORD_FRAMES: cannot write ${file}: ${why}`);
  }
  const start = performance.now();
  let open = true;
  const stop = () => {
    open = false;
    try {
      fs.closeSync(fd);
    } catch {
      // already unusable: nothing more to lose
    }
  };
  const write = (line: string) => {
    if (!open) return;
    try {
      fs.writeSync(fd, line + "\n");
    } catch (err) {
      stop();
      opts.onFailure?.(`${file}: ${(err as Error).message}`);
    }
  };
  const finish = (from: Side, code: number, reason: string) => {
    if (!open) return;
    write(closeLine(elapsed(start), from, code, reason));
    if (open) stop();
  };
  write(headerLine(size, NOTE));

  return {
    sendBytes(data, done) {
      write(frameLine(elapsed(start), "client", data, true));
      link.sendBytes(data, done);
    },
    sendControl(message) {
      // The same text ws.ts puts in the frame.
      write(frameLine(elapsed(start), "client", JSON.stringify(message), false));
      link.sendControl(message);
    },
    close(code, reason) {
      finish("client", code, reason ?? "");
      link.close(code, reason);
    },
    pause: () => link.pause(),
    resume: () => link.resume(),
    ping: () => link.ping(),
    terminate() {
      // Dropped by us (a dead peer): no close frame is sent, the socket sees 1006.
      finish("client", 1006, "");
      link.terminate();
    },
    get bufferedAmount() {
      return link.bufferedAmount;
    },
    get isOpen() {
      return link.isOpen;
    },
    listen(h) {
      link.listen({
        message(data) {
          // A Link hands over bytes, not the frame type: valid UTF-8 is written
          // as text (what the harness sends), anything else as binary, so the
          // bytes are always kept exactly.
          write(frameLine(elapsed(start), "server", data, !isUtf8(data)));
          h.message(data);
        },
        pong: () => h.pong(),
        close(code, reason, error, broken) {
          finish("server", code, reason);
          h.close(code, reason, error, broken);
        },
      });
    },
  };
}
