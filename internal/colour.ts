// When lap colours its own messages, and how: only the mark that starts a
// line (✗ red, ✓ green, ! yellow), only on a terminal, never with NO_COLOR
// set (https://no-color.org) or on a dumb terminal. The remote terminal's
// bytes are never touched.

import { Writable } from "node:stream";
import type { Env } from "./config.js";

const RED = "\x1b[31m";
const GREEN = "\x1b[32m";
const YELLOW = "\x1b[33m";
const RESET = "\x1b[39m";

const MARKS: Record<string, string> = { "✗": RED, "✓": GREEN, "!": YELLOW };

// colourWanted says whether output going to a stream may be coloured.
export function colourWanted(isTTY: boolean, env: Env): boolean {
  if (!isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

// paintMarks colours the mark at the start of each line of text.
export function paintMarks(text: string): string {
  return text.replace(/^([✗✓!]) /gm, (_all, mark: string) => `${MARKS[mark]}${mark}${RESET} `);
}

// paintedStream passes everything written on to out, with the marks at the
// start of lines coloured. Used for stderr, where lap writes whole lines.
export function paintedStream(out: Writable): Writable {
  return new Writable({
    // Strings stay strings; bytes (never lap's own messages) pass untouched,
    // so a character split across writes is not broken.
    decodeStrings: false,
    // Handed on at once, so nothing waits in this wrapper: lap.ts waits for
    // out itself to flush before exiting, and a message must not be lost.
    write(chunk: Buffer | string, _enc, done) {
      out.write(typeof chunk === "string" ? paintMarks(chunk) : chunk);
      done();
    },
  });
}
