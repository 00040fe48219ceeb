// LAP_RECORD_FRAMES: a Link that writes everything crossing the WebSocket to
// a SPEC §4 recording while passing it on unchanged, so real sessions become
// golden files (internal/golden.ts replays them). The token is spent by dial()
// before a Link exists, so it cannot reach a recording.

import * as buffer from "node:buffer";
import fs from "node:fs";
import path from "node:path";
import { LapError } from "./errors.js";
import type { Size } from "./tty.js";
import type { Link } from "./ws.js";

export const FORMAT_VERSION = 1;

// The recording holds everything typed, passwords included: owner only.
const FILE_MODE = 0o600;
const NOTE = "recorded by lap (LAP_RECORD_FRAMES), client side; server frames that are valid UTF-8 are written as text";

// buffer.isUtf8 arrived in Node 18.14; the fallback round-trips the bytes.
const isUtf8: (b: Buffer) => boolean =
  (buffer as { isUtf8?: (b: Buffer) => boolean }).isUtf8 ?? ((b) => Buffer.from(b.toString("utf8"), "utf8").equals(b));

export type Side = "client" | "server";

// headerLine is the first line of a recording. A size of 0x0 means the
// client had no terminal size (output not a terminal), so sent no resize.
export function headerLine(size: Size | null, note: string): string {
  return JSON.stringify({ lap_frames: FORMAT_VERSION, cols: size?.cols ?? 0, rows: size?.rows ?? 0, note });
}

// frameLine is one frame: text frames as a string, binary ones as base64.
export function frameLine(t: number, from: Side, payload: Buffer | string, binary: boolean): string {
  if (binary) return JSON.stringify({ t, from, type: "binary", b64: Buffer.from(payload).toString("base64") });
  return JSON.stringify({ t, from, type: "text", data: payload.toString() });
}

export function closeLine(t: number, from: Side, code: number, reason: string): string {
  return JSON.stringify({ t, from, type: "close", code, reason });
}

// recorder gives a wrapper for each link a session opens: the first is
// recorded to file, later ones (reconnects) to NAME-2.jsonl, NAME-3.jsonl...
// since one recording is one WebSocket.
export function recorder(file: string): (link: Link, size: Size | null) => Link {
  let n = 0;
  return (link, size) => {
    n++;
    return recording(link, n === 1 ? file : numbered(file, n), size);
  };
}

function numbered(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}-${n}${ext}`;
}

// recording wraps an open link. Every frame is written (synchronously, so
// nothing is lost when lap exits right after the bridge) before it is passed
// on; the file is complete once either side has closed.
export function recording(link: Link, file: string, size: Size | null): Link {
  let fd: number;
  try {
    fd = fs.openSync(file, "w", FILE_MODE);
  } catch (err) {
    link.close(1000, "");
    throw new LapError(`LAP_RECORD_FRAMES: cannot write ${file}: ${(err as Error).message}`);
  }
  const start = performance.now();
  let open = true;
  const write = (line: string) => {
    if (open) fs.writeSync(fd, line + "\n");
  };
  const finish = (from: Side, code: number, reason: string) => {
    if (!open) return;
    write(closeLine(elapsed(start), from, code, reason));
    open = false;
    fs.closeSync(fd);
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
        close(code, reason, error) {
          finish("server", code, reason);
          h.close(code, reason, error);
        },
      });
    },
  };
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 1000) / 1000;
}
