// --record: the session written as an asciicast v2 file, which `asciinema
// play` plays back (https://docs.asciinema.org/manual/asciicast/v2/): a JSON
// header line, then one JSON array a line per event — [seconds, "o", text]
// for output, [seconds, "r", "COLSxROWS"] for a resize, and [seconds, "i",
// text] for input only when asked for (it holds everything typed).

import fs from "node:fs";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { LapError } from "./errors.js";
import type { Size } from "./tty.js";

export const CAST_VERSION = 2;

// The file holds the whole screen, maybe secrets: owner only.
const FILE_MODE = 0o600;
// asciicast needs a size; this is what a terminal without one is taken as.
const FALLBACK_SIZE: Size = { cols: 80, rows: 24 };
// Event times are written to the microsecond, as asciinema does.
const TIME_DIGITS = 6;

export interface CastOptions {
  // Record what is typed as "i" events too.
  input: boolean;
  // Replace a file that exists (--overwrite); without it one is refused.
  overwrite?: boolean;
  // TERM of the recording terminal, for the header.
  term?: string;
  // Monotonic milliseconds and wall-clock milliseconds; tests fix them.
  now?: () => number;
  wallClock?: () => number;
}

export interface Cast {
  // Writes the header and starts the clock: call right before the bridge starts.
  begin(size: Size | null): void;
  output(data: Buffer): void;
  input(data: Buffer): void;
  resize(size: Size): void;
  // Flushes and closes the file; resolves with why writing failed, or null.
  close(): Promise<string | null>;
}

// checkCastPath fails early, before any session is made, when the file
// could not be written or exists and overwrite was not asked for.
export function checkCastPath(file: string, overwrite = false): void {
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(file);
  } catch {
    // nothing there yet
  }
  const exists = st !== null;
  try {
    // A symbolic link is refused now, before a session is started, as it
    // would be when opened (O_NOFOLLOW).
    if (st?.isSymbolicLink()) throw Object.assign(new Error("a link"), { code: "ELOOP" });
    if (st && !writable(st)) throw notAFile();
    if (exists && !overwrite) throw Object.assign(new Error("exists"), { code: "EEXIST" });
    if (exists) fs.accessSync(file, fs.constants.W_OK);
    else fs.accessSync(path.dirname(path.resolve(file)), fs.constants.W_OK);
  } catch (err) {
    throw cannotWrite(file, err);
  }
}

// A recording goes to a regular file, or a device such as /dev/null; a FIFO
// would hold lap in open() until something reads it, deaf to signals.
function writable(st: fs.Stats): boolean {
  return st.isFile() || st.isCharacterDevice();
}

function notAFile(): Error {
  return Object.assign(new Error("not a regular file"), { code: "ENOTFILE" });
}

function cannotWrite(file: string, err: unknown): LapError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOTFILE" || e.code === "ENXIO") return new LapError(`the recording ${file} is not a regular file`, "give --record the path of a regular file");
  if (e.code === "EEXIST") return new LapError(`the recording ${file} exists`, "give --overwrite to replace it, or another path");
  if (e.code === "ELOOP") return new LapError(`the recording ${file} is a symbolic link: lap does not write through one`, "give --record the path of a regular file");
  const why = e.code === "ENOENT" ? "no such directory" : e.code === "EACCES" ? "permission denied" : e.message;
  return new LapError(`cannot write the recording ${file}: ${why}`, "give --record a path in a directory you can write to");
}

// Recordings hold the whole screen and maybe what is typed: owner only,
// created afresh (O_EXCL) so a file or link another user placed at a
// predictable path is never written through, and never through a symbolic
// link (O_NOFOLLOW) even with overwrite. O_NONBLOCK: a FIFO put in the
// file's place fails to open (ENXIO) or is refused below, never waited on.
const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

// createPrivate opens file for a new recording, mode 0600 whatever existed
// before; an existing file is an EEXIST error unless overwrite.
export function createPrivate(file: string, overwrite: boolean): number {
  const fd = fs.openSync(file, CREATE | (overwrite ? fs.constants.O_TRUNC : fs.constants.O_EXCL), FILE_MODE);
  try {
    const st = fs.fstatSync(fd);
    if (!writable(st)) throw notAFile();
    // A device (/dev/null) is not a recording to make private.
    if (st.isFile() && (st.mode & 0o777) !== FILE_MODE) fs.fchmodSync(fd, FILE_MODE);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

// openCast creates the file (see createPrivate).
export function openCast(file: string, opts: CastOptions): Cast {
  let fd: number;
  try {
    fd = createPrivate(file, !!opts.overwrite);
  } catch (err) {
    throw cannotWrite(file, err);
  }
  const now = opts.now ?? (() => performance.now());
  const wallClock = opts.wallClock ?? Date.now;
  const stream = fs.createWriteStream(file, { fd });
  let failure: string | null = null;
  stream.on("error", (err) => {
    failure ??= err.message;
  });
  // Separate decoders: a character cut between two frames (or two reads)
  // is kept whole, and output and input never mix their halves.
  const out = new StringDecoder("utf8");
  const typed = new StringDecoder("utf8");
  let start = 0;
  let size = "";
  let begun = false;
  const event = (kind: "o" | "i" | "r", text: string) => {
    if (!begun || text === "" || failure) return;
    const t = Number(((now() - start) / 1000).toFixed(TIME_DIGITS));
    stream.write(JSON.stringify([t, kind, text]) + "\n");
  };
  return {
    begin(s) {
      if (begun) return;
      const { cols, rows } = s ?? FALLBACK_SIZE;
      size = `${cols}x${rows}`;
      start = now();
      const env = opts.term ? { TERM: opts.term } : {};
      stream.write(JSON.stringify({ version: CAST_VERSION, width: cols, height: rows, timestamp: Math.floor(wallClock() / 1000), env }) + "\n");
      begun = true;
    },
    output: (data) => event("o", out.write(data)),
    input: (data) => {
      if (opts.input) event("i", typed.write(data));
    },
    resize(s) {
      const next = `${s.cols}x${s.rows}`;
      if (next === size) return;
      size = next;
      event("r", next);
    },
    close() {
      event("o", out.end());
      if (opts.input) event("i", typed.end());
      return new Promise((resolve) => stream.end((err?: Error | null) => resolve(failure ?? err?.message ?? null)));
    },
  };
}
