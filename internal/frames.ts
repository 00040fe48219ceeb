// Recorded frames: one WebSocket of a terminal session as JSON lines, so
// real sessions become golden files that replay against the bridge. The
// first line is the header {"lap_frames":1,"cols","rows","note"}; then one
// line a frame, {"t" (ms since the start), "from" ("client" or "server"),
// "type": "text" with "data", or "binary" with "b64"}; the last line is the
// close, {"t","from","type":"close","code","reason"}. The recorder
// (record.ts), the local platform and the golden harness all read and
// write it through this module.

import buffer from "node:buffer";
import fs from "node:fs";
import type { Size } from "./tty.js";

// The format's version, in every header; a reader refuses any other.
export const FORMAT_VERSION = 1;

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

// elapsed is a frame's time: ms since start, to the microsecond.
export function elapsed(start: number, now = performance.now()): number {
  return Math.round((now - start) * 1000) / 1000;
}

export interface Header {
  // 0x0: the client had no terminal size, so it sent no resize.
  cols: number;
  rows: number;
  note: string;
}


export type Event =
  | { line: number; t: number; from: Side; type: "text" | "binary"; bytes: Buffer }
  | { line: number; t: number; from: Side; type: "close"; code: number; reason: string };

export type Close = Extract<Event, { type: "close" }>;

export interface Recording {
  file: string;
  header: Header;
  // Frames in order; the last one is the close.
  events: Event[];
}

// FormatError names the file and the line (1-based) a recording breaks the format at.
export class FormatError extends Error {
  constructor(file: string, line: number, why: string) {
    super(`${file}:${line}: ${why}`);
    this.name = "FormatError";
  }
}

const HEADER_KEYS = ["lap_frames", "cols", "rows", "note"];
const FRAME_KEYS = { text: ["t", "from", "type", "data"], binary: ["t", "from", "type", "b64"], close: ["t", "from", "type", "code", "reason"] };
// Larger than any terminal; a bigger number is a broken recording.
const MAX_SIZE = 9_999;
// The close codes a peer may send (RFC 6455 §7.4), plus 1005 (closed without
// a code) and 1006 (the connection dropped), which a recording may hold.
const MIN_CLOSE = 1000;
const MAX_CLOSE = 4999;
// A close frame carries at most 125 bytes: the code and 123 of reason.
const MAX_REASON_BYTES = 123;

export const isUtf8: (b: Buffer) => boolean =
  (buffer as { isUtf8?: (b: Buffer) => boolean }).isUtf8 ?? ((b) => Buffer.from(b.toString("utf8"), "utf8").equals(b));

// readRecording reads and parses a recording file; FormatError when it is not one.
export function readRecording(file: string): Recording {
  return parseRecording(fs.readFileSync(file), file);
}

// parseRecording accepts exactly the format and nothing else: one
// JSON object a line, the header first, times that never go back, and one
// close, last.
export function parseRecording(data: Buffer | string, file: string): Recording {
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const lines = splitLines(bytes);
  if (lines.length === 0) throw new FormatError(file, 1, "empty: the first line must be the header");
  const header = parseHeader(parseLine(lines[0]!, file, 1), file);
  const events: Event[] = [];
  for (let i = 1; i < lines.length; i++) {
    const n = i + 1;
    const prev = events.at(-1);
    if (prev?.type === "close") throw new FormatError(file, n, `nothing may follow the close on line ${prev.line}`);
    const ev = parseEvent(parseLine(lines[i]!, file, n), file, n);
    if (prev && ev.t < prev.t) throw new FormatError(file, n, `t goes back in time: ${ev.t} after ${prev.t}`);
    events.push(ev);
  }
  if (events.at(-1)?.type !== "close") throw new FormatError(file, lines.length, "no close: a recording ends with a close line");
  return { file, header, events };
}

function splitLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(0x0a); nl >= 0; nl = bytes.indexOf(0x0a, start)) {
    lines.push(bytes.subarray(start, nl));
    start = nl + 1;
  }
  // The final newline ends the last line; text after it is a line of its own.
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

function parseLine(line: Buffer, file: string, n: number): Record<string, unknown> {
  if (!isUtf8(line)) throw new FormatError(file, n, "not UTF-8");
  let value: unknown;
  try {
    value = JSON.parse(line.toString("utf8"));
  } catch (err) {
    throw new FormatError(file, n, `not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FormatError(file, n, "not a JSON object");
  return value as Record<string, unknown>;
}

function exactKeys(obj: Record<string, unknown>, keys: string[], what: string, file: string, n: number): void {
  for (const k of keys) if (!(k in obj)) throw new FormatError(file, n, `${what} lacks "${k}"`);
  for (const k of Object.keys(obj)) if (!keys.includes(k)) throw new FormatError(file, n, `${what} has an unknown field "${k}"`);
}

function parseHeader(obj: Record<string, unknown>, file: string): Header {
  if (!("lap_frames" in obj)) throw new FormatError(file, 1, `the first line must be the header {"lap_frames":${FORMAT_VERSION},...}`);
  exactKeys(obj, HEADER_KEYS, "the header", file, 1);
  if (obj.lap_frames !== FORMAT_VERSION) throw new FormatError(file, 1, `unknown format version lap_frames=${JSON.stringify(obj.lap_frames)} (this reads ${FORMAT_VERSION})`);
  for (const k of ["cols", "rows"] as const) {
    const v = obj[k];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_SIZE) {
      throw new FormatError(file, 1, `"${k}" must be an integer from 0 to ${MAX_SIZE}, got ${JSON.stringify(v)}`);
    }
  }
  if ((obj.cols === 0) !== (obj.rows === 0)) throw new FormatError(file, 1, "cols and rows are both 0 (no size) or neither");
  if (typeof obj.note !== "string") throw new FormatError(file, 1, `"note" must be a string, got ${JSON.stringify(obj.note)}`);
  return { cols: obj.cols as number, rows: obj.rows as number, note: obj.note };
}

function parseEvent(obj: Record<string, unknown>, file: string, n: number): Event {
  const { t, from, type } = obj;
  if (type !== "text" && type !== "binary" && type !== "close") {
    throw new FormatError(file, n, `"type" must be "text", "binary" or "close", got ${JSON.stringify(type)}`);
  }
  exactKeys(obj, FRAME_KEYS[type], `a ${type} line`, file, n);
  if (typeof t !== "number" || !Number.isFinite(t) || t < 0) throw new FormatError(file, n, `"t" must be a number of ms >= 0, got ${JSON.stringify(t)}`);
  if (from !== "client" && from !== "server") throw new FormatError(file, n, `"from" must be "client" or "server", got ${JSON.stringify(from)}`);
  if (type === "text") {
    const data = obj.data;
    // A string with a lone surrogate has no UTF-8 form, so no frame carried it.
    if (typeof data !== "string" || Buffer.from(data, "utf8").toString("utf8") !== data) {
      throw new FormatError(file, n, '"data" must be a string of well-formed text');
    }
    return { line: n, t, from, type, bytes: Buffer.from(data, "utf8") };
  }
  if (type === "binary") {
    const b64 = obj.b64;
    const bytes = typeof b64 === "string" ? Buffer.from(b64, "base64") : null;
    // Buffer.from skips what is not base64; a round trip catches it.
    if (bytes === null || bytes.toString("base64") !== b64) throw new FormatError(file, n, '"b64" must be standard padded base64');
    return { line: n, t, from, type, bytes };
  }
  const { code, reason } = obj;
  if (typeof code !== "number" || !Number.isInteger(code) || code < MIN_CLOSE || code > MAX_CLOSE) {
    throw new FormatError(file, n, `"code" must be a close code from ${MIN_CLOSE} to ${MAX_CLOSE}, got ${JSON.stringify(code)}`);
  }
  if (typeof reason !== "string" || Buffer.byteLength(reason) > MAX_REASON_BYTES) {
    throw new FormatError(file, n, `"reason" must be a string of at most ${MAX_REASON_BYTES} bytes`);
  }
  return { line: n, t, from, type, code, reason };
}
