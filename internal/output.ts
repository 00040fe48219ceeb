// The only way text reaches the user. Every message, table, report and JSON
// document lap prints passes through here, so a string that came from the
// server (names, ids, phases, reasons, bodies, close reasons) can never move
// the cursor, retitle the window, write the clipboard, reorder text or forge
// a line, whichever call site printed it. Colour is added here too, and only
// to lap's own marks. The remote terminal's bytes never come this way.

import { LapError } from "./errors.js";
import type { IO, Out } from "./io.js";
import type { Env } from "./settings.js";

// What a terminal may obey or reorder: C0 controls (ESC, BEL, CR, ...), DEL,
// C1 controls (CSI U+009B works like ESC [ on some terminals), the line and
// paragraph separators, and the bidirectional overrides and isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// The same without newline and tab, for whole messages that lap composed.
const UNSAFE_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// Inside JSON strings: what JSON.stringify leaves raw but a terminal obeys.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  if (c === "\n") return "\\n";
  if (c === "\r") return "\\r";
  if (c === "\t") return "\\t";
  const code = c.charCodeAt(0);
  return code > 0xff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\x${code.toString(16).padStart(2, "0")}`;
}

// visible makes one value from the network safe to show inside a line:
// every control character, newlines included, is written as an escape, and
// anything longer than max is cut.
export function visible(s: unknown, max = 300): string {
  let text = typeof s === "string" ? s : printable(s);
  if (text.length > max) text = text.slice(0, max) + "…";
  return text.replace(UNSAFE, escape);
}

// isPlain tells a string that visible would leave as it is: nothing in it a
// terminal obeys or reorders.
const UNSAFE_ANYWHERE = new RegExp(UNSAFE.source);

export function isPlain(s: string): boolean {
  return !UNSAFE_ANYWHERE.test(s);
}

// A word a shell takes as it is, anywhere on a command line: no quotes,
// spaces, $, backquotes, globs, redirections or separators, and not one
// that starts like a flag.
const SHELL_WORD = /^[A-Za-z0-9_][A-Za-z0-9_.:@%+=,/-]*$/;

export function isShellWord(word: string): boolean {
  return SHELL_WORD.test(word);
}

// shellQuoted is a word from the server as lap writes it into a command
// it suggests: as it is when a shell takes it so, else in single quotes,
// so that pasting the suggestion runs nothing but lap.
export function shellQuoted(word: string): string {
  return isShellWord(word) ? word : `'${visible(word).replace(/'/g, `'\\''`)}'`;
}

// printable is a value that is not a string as text; a value too deeply
// nested to print (a hostile answer) is named, not thrown.
function printable(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return "(unprintable value)";
  }
}

// cleanText neutralises a whole message on its way out: lap's own lines
// keep their newlines and tabs, and nothing else a terminal obeys survives.
export function cleanText(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, escape);
}

// Characters a terminal draws two columns wide (East Asian Wide and
// Full-width): CJK, Hangul, full-width forms and emoji. A line counted
// short would wrap, and break a table or the picker's list.
const WIDE = new RegExp("[\\u1100-\\u115f\\u231a-\\u231b\\u2329-\\u232a\\u23e9-\\u23ec\\u23f0\\u23f3\\u25fd-\\u25fe\\u2614-\\u2615" +
  "\\u2648-\\u2653\\u267f\\u2693\\u26a1\\u26aa-\\u26ab\\u26bd-\\u26be\\u26c4-\\u26c5\\u26ce\\u26d4\\u26ea\\u26f2-\\u26f3\\u26f5\\u26fa" +
  "\\u26fd\\u2705\\u270a-\\u270b\\u2728\\u274c\\u274e\\u2753-\\u2755\\u2757\\u2795-\\u2797\\u27b0\\u27bf\\u2b1b-\\u2b1c\\u2b50\\u2b55" +
  "\\u2e80-\\ua4cf\\uac00-\\ud7a3\\uf900-\\ufaff\\ufe30-\\ufe4f\\uff00-\\uff60\\uffe0-\\uffe6" +
  "\\u{1f004}\\u{1f0cf}\\u{1f18e}\\u{1f191}-\\u{1f19a}\\u{1f200}-\\u{1f2ff}\\u{1f300}-\\u{1faff}\\u{20000}-\\u{3fffd}]", "u");

// cellWidth is how many columns s takes on a terminal.
export function cellWidth(s: string): number {
  let n = 0;
  for (const c of s) n += WIDE.test(c) ? 2 : 1;
  return n;
}

// fit cuts a line to width columns, marking the cut with "…".
export function fit(s: string, width: number): string {
  if (cellWidth(s) <= width) return s;
  let out = "";
  let used = 0;
  for (const c of s) {
    const w = WIDE.test(c) ? 2 : 1;
    if (used + w > width - 1) break;
    out += c;
    used += w;
  }
  return width <= 0 ? "" : out + "…";
}

// fitWidth cuts a line to a terminal's width (less one column, so the
// cursor never wraps); 0 or unknown: as it is.
export function fitWidth(line: string, columns: number | undefined): string {
  return columns ? fit(line, columns - 1) : line;
}

// say writes one line for the user to stderr.
export function say(io: { stderr: Out }, line: string): void {
  io.stderr.write(cleanText(line) + "\n");
}

// print writes text lap composed (tables, reports) to stdout, with the
// marks that start lines coloured when stdout is a terminal that may have it.
export function print(io: Pick<IO, "stdout" | "stdoutIsTTY" | "settings">, text: string): void {
  const clean = cleanText(text);
  io.stdout.write(io.stdoutIsTTY && io.settings.colour ? paintMarks(clean) : clean);
}

// json is the text of a --json document: indented (with indent 0, one
// line, as a chat's turns are), and with the characters a terminal obeys
// but JSON.stringify leaves raw written as \u escapes, so `lap sessions
// --json` on a terminal is as safe as the table.
export function json(value: unknown, indent = 2): string {
  let text: string;
  try {
    text = JSON.stringify(value, null, indent);
  } catch {
    // Only an answer nested deeper than the stack can go gets here.
    throw new LapError("the platform's answer is nested too deeply to print as JSON", "see it without --json");
  }
  return text.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) + "\n";
}

// table lays rows out in aligned columns under a header; every cell is
// made safe, since most come from the server.
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((r) => r.map((cell) => visible(cell, 80)))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => cellWidth(r[i]))));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(widths[i] - cellWidth(cell)))).join("  ")).join("\n") + "\n";
}

// since words the time from an ISO date to now the way ps and kubectl do:
// 45s, 12m, 5h, 3d. "-" when the date is missing or unreadable.
export function since(iso: string | null | undefined, now: number): string {
  const t = Date.parse(iso ?? "");
  if (Number.isNaN(t)) return "-";
  return duration(Math.max(0, now - t));
}

// duration words milliseconds as since does; "-" past a century, which
// only a broken or hostile date or timeout gives.
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (!(s < 100 * 365 * 86400)) return "-";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// asFlag words a wait lap was given the way --timeout takes it: 400ms,
// 45s, 10m; a part second is shown as whole seconds.
export function asFlag(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

// Colour: only the mark that starts a line (✗ red, ✓ green, ! yellow), only
// on a terminal, never with NO_COLOR set (https://no-color.org) or on a dumb
// terminal.
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

// painted passes everything written on to out, with the marks at the start
// of lines coloured. Used for stderr, where lap writes whole lines. Bytes
// (never lap's own messages) pass untouched, so a character split across
// writes is not broken.
export function painted(out: Out): Out {
  return { write: (chunk) => out.write(typeof chunk === "string" ? paintMarks(chunk) : chunk) };
}
