// Detach keys: docker's --detach-keys syntax ("ctrl-p,ctrl-q", "ctrl-]",
// "none") parsed into the rule the bridge runs over every read of stdin
// (BridgeOptions.detach). The rule also knows the keys in the two extended
// keyboard encodings a full-screen program may switch the terminal to:
// kitty's CSI <code>;<mods>u and xterm's modifyOtherKeys CSI 27;<mods>;<code>~.

import { visible } from "./output.js";
import { EXIT_USAGE, LapError } from "./errors.js";

export type DetachRule = (chunk: Buffer) => { send: Buffer; detach: boolean };

export const DEFAULT_DETACH_KEYS = "ctrl-d";

export interface DetachKeys {
  // Each key as the byte a terminal sends for it by default; empty for "none".
  keys: number[];
  // How messages name them: "Ctrl-D", "Ctrl-P Ctrl-Q"; "" for none.
  label: string;
}

const HINT = "use ctrl-a … ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_ or a single character, " +
  "comma-separated (e.g. ctrl-p,ctrl-q), or none";

// The control characters docker names by symbol. "ctrl-\\" is accepted too,
// as users copy it from docker's documentation.
const CTRL_SYMBOLS: Record<string, number> = { "@": 0x00, "[": 0x1b, "\\": 0x1c, "\\\\": 0x1c, "]": 0x1d, "^": 0x1e, "_": 0x1f };
const SYMBOL_OF: Record<number, string> = { 0x00: "@", 0x1b: "[", 0x1c: "\\", 0x1d: "]", 0x1e: "^", 0x1f: "_" };

const CTRL_D = 0x04;
const ESC = 0x1b;
const LEFT_BRACKET = 0x5b;

// parseDetachKeys reads a spec such as "ctrl-p,ctrl-q". A bad spec is a
// LapError naming what (the flag, or the config file's key); code is its exit
// status (usage for a flag).
export function parseDetachKeys(spec: string, what = "--detach-keys", code = EXIT_USAGE): DetachKeys {
  const bad = (why: string) => new LapError(`${what} '${visible(spec)}': ${why}`, HINT, code);
  const text = spec.trim();
  if (text.toLowerCase() === "none") return { keys: [], label: "" };
  if (text === "") throw bad("no keys given");
  const keys = text.split(",").map((part) => {
    const key = part.trim();
    const byte = keyByte(key);
    if (byte === null) throw bad(key === "" ? "an empty key between commas" : `'${visible(key)}' is not a key`);
    return byte;
  });
  return { keys, label: keys.map(keyName).join(" ") };
}

function keyByte(key: string): number | null {
  if (key.length === 1) {
    const c = key.charCodeAt(0);
    return c > 0x20 && c < 0x7f ? c : null;
  }
  const m = /^ctrl-(.+)$/i.exec(key);
  if (!m) return null;
  const name = m[1].toLowerCase();
  if (/^[a-z]$/.test(name)) return name.charCodeAt(0) - 0x60;
  return CTRL_SYMBOLS[name] ?? null;
}

function keyName(byte: number): string {
  if (byte >= 1 && byte <= 26) return `Ctrl-${String.fromCharCode(byte + 0x40)}`;
  if (byte in SYMBOL_OF) return `Ctrl-${SYMBOL_OF[byte]}`;
  return String.fromCharCode(byte);
}

// detachRule is the rule for the keys:
//  - the default, Ctrl-D alone, keeps lap's first rule exactly: a read that
//    is just the key detaches, and a paste that contains it is sent;
//  - a sequence (or any other key) is looked for in the stream of keys,
//    whatever the read boundaries; a partial match is held back until the
//    next key shows whether it continues, then sent unchanged if it does not.
//    Keys inside a bracketed paste never count;
//  - none: every byte is sent.
//
// Both extended encodings are recognised always, not only once the remote
// program is seen to switch them on (ModeTracker.keyboardExtended): the
// switch may have happened on an earlier connection to the same session, a
// reattach does not replay it, and a human cannot type those sequences by
// accident, so accepting them costs nothing.
export function detachRule(keys: DetachKeys): DetachRule {
  if (keys.keys.length === 0) return (chunk) => ({ send: chunk, detach: false });
  if (keys.keys.length === 1 && keys.keys[0] === CTRL_D) return loneKeyRule(CTRL_D);
  const matcher = new SequenceMatcher(keys.keys);
  return (chunk) => matcher.feed(chunk);
}

const EMPTY = Buffer.alloc(0);
const DETACH = { send: EMPTY, detach: true };

function loneKeyRule(key: number): DetachRule {
  return (chunk) => {
    // The common cases cost a length check or one comparison.
    if (chunk.length === 1) return chunk[0] === key ? DETACH : { send: chunk, detach: false };
    if (chunk[0] !== ESC) return { send: chunk, detach: false };
    return isLoneKey(chunk, key) ? DETACH : { send: chunk, detach: false };
  };
}

// isLoneKey: the read is one encoded press of the key, give or take key
// releases and modifier-key events.
function isLoneKey(chunk: Buffer, key: number): boolean {
  let found = false;
  for (let i = 0; i < chunk.length; ) {
    const tok = readToken(chunk, i);
    if (tok.kind === "partial") return false;
    i += tok.len;
    if (transparent(tok)) continue;
    if (found || !matches(tok, key)) return false;
    found = true;
  }
  return found;
}

// ---- tokens: one key, or one escape sequence, at a time ----

type Token =
  | { kind: "byte"; len: 1; byte: number }
  // A key reported by an extended keyboard protocol. mods is the bit set
  // (shift 1, alt 2, ctrl 4, ...) without the lock keys; event 1 press,
  // 2 repeat, 3 release.
  | { kind: "key"; len: number; code: number; mods: number; event: number }
  | { kind: "paste"; len: number; start: boolean }
  // Any other complete escape sequence (arrow keys, terminal replies).
  | { kind: "other"; len: number }
  // An escape sequence cut off by the end of the read.
  | { kind: "partial" };

// Longer than this, an escape sequence is not one a key sends: its ESC is
// taken as a byte instead of waiting for more.
const MAX_SEQUENCE = 32;
const SHIFT = 1;
const CTRL = 4;
// Caps Lock and Num Lock bits: reported by kitty, but they do not change which key it is.
const LOCK_BITS = 64 | 128;
// kitty's codes for keys that are only modifiers or locks (Shift, Ctrl,
// Caps Lock, ...): with "report all keys" on they arrive between the keys of
// a sequence and must not break it.
const isModifierKey = (code: number) => (code >= 57358 && code <= 57360) || (code >= 57441 && code <= 57454);

const KITTY_KEY = /^(\d+)(?::\d*)*(?:;(\d*)(?::(\d+))?(?:;[\d:]*)?)?$/;
const MODIFY_OTHER_KEYS = /^27;(\d+);(\d+)$/;

function readToken(data: Buffer, i: number): Token {
  const byte = data[i];
  if (byte !== ESC) return { kind: "byte", len: 1, byte };
  if (i + 1 >= data.length) return { kind: "partial" };
  if (data[i + 1] !== LEFT_BRACKET) return { kind: "byte", len: 1, byte };
  // CSI: parameter bytes 0x30-0x3f, intermediates 0x20-0x2f, a final 0x40-0x7e.
  let j = i + 2;
  while (j < data.length && j - i < MAX_SEQUENCE && data[j] >= 0x20 && data[j] <= 0x3f) j++;
  if (j - i >= MAX_SEQUENCE) return { kind: "byte", len: 1, byte };
  if (j >= data.length) return { kind: "partial" };
  const final = data[j];
  if (final < 0x40 || final > 0x7e) return { kind: "byte", len: 1, byte };
  const len = j + 1 - i;
  const params = data.toString("latin1", i + 2, j);
  if (final === 0x75 /* u */) {
    const m = KITTY_KEY.exec(params);
    if (m) return keyToken(len, Number(m[1]), m[2], m[3]);
  } else if (final === 0x7e /* ~ */) {
    if (params === "200" || params === "201") return { kind: "paste", len, start: params === "200" };
    const m = MODIFY_OTHER_KEYS.exec(params);
    if (m) return keyToken(len, Number(m[2]), m[1], undefined);
  }
  return { kind: "other", len };
}

function keyToken(len: number, code: number, mods: string | undefined, event: string | undefined): Token {
  const bits = (Number(mods || "1") - 1) & ~LOCK_BITS;
  return { kind: "key", len, code, mods: bits, event: Number(event || "1") };
}

function transparent(tok: Token): boolean {
  return tok.kind === "key" && (tok.event === 3 || isModifierKey(tok.code));
}

// matches tells whether a token is a press of the key given as its byte.
function matches(tok: Token, key: number): boolean {
  if (tok.kind === "byte") return tok.byte === key;
  if (tok.kind !== "key" || tok.event === 3) return false;
  if (key < 0x20) return tok.mods === CTRL && ctrlCodes(key).includes(tok.code);
  // A printable key, reported as such with kitty's "report all keys" on.
  if (key >= 0x41 && key <= 0x5a) return tok.mods === SHIFT && tok.code === key + 0x20;
  return tok.mods === 0 && tok.code === key;
}

// The codes an extended protocol reports, with Ctrl held, for the key that
// sends this control byte: the lowercase letter for Ctrl-A…Z, the symbol
// otherwise (and Space for Ctrl-@, as Ctrl-Space is how NUL is usually typed).
function ctrlCodes(byte: number): number[] {
  if (byte >= 1 && byte <= 26) return [byte + 0x60];
  if (byte === 0) return [0x40, 0x20];
  return [SYMBOL_OF[byte].charCodeAt(0)];
}

// ---- the matcher for anything but the default ----

interface Held {
  raw: Buffer;
  tok: Token;
}

class SequenceMatcher {
  private readonly keys: number[];
  // The keys matched so far (with any releases between them), not yet sent.
  private held: Held[] = [];
  private pos = 0;
  // An escape sequence cut by the end of the previous read.
  private carry: Buffer = EMPTY;
  private inPaste = false;

  constructor(keys: number[]) {
    this.keys = keys;
  }

  feed(chunk: Buffer): { send: Buffer; detach: boolean } {
    // Typing and output-free reads without the first key or ESC pass as they are.
    if (this.pos === 0 && this.carry.length === 0 && !this.inPaste && chunk.indexOf(ESC) < 0 && chunk.indexOf(this.keys[0]) < 0) {
      return { send: chunk, detach: false };
    }
    const data = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = EMPTY;
    const out: Buffer[] = [];
    for (let i = 0; i < data.length; ) {
      const tok = readToken(data, i);
      if (tok.kind === "partial") {
        const rest = data.subarray(i);
        // A lone ESC ending a read is the Escape key as typed: it must not
        // wait for the next key (vim), unless it may be the start of the
        // next key of a sequence under way, or of a paste's end.
        if (rest.length === 1 && !this.inPaste && (this.pos === 0 || this.keys[this.pos] === ESC)) {
          if (this.step({ kind: "byte", len: 1, byte: ESC }, rest, out)) return { send: Buffer.concat(out), detach: true };
          break;
        }
        // The rest of a cut escape sequence is on its way: hold it. ESC [
        // alone is Alt-[ as typed, and is sent unless a sequence is under way.
        if (rest.length > 2 || this.pos > 0 || this.inPaste) this.carry = Buffer.from(rest);
        else out.push(rest);
        break;
      }
      const raw = data.subarray(i, i + tok.len);
      i += tok.len;
      if (this.step(tok, raw, out)) return { send: Buffer.concat(out), detach: true };
    }
    return { send: out.length === 1 ? out[0] : Buffer.concat(out), detach: false };
  }

  // step takes one token; true when it completes the sequence. Bytes to send
  // are appended to out, in order.
  private step(tok: Token, raw: Buffer, out: Buffer[]): boolean {
    if (this.inPaste || tok.kind === "paste") {
      if (tok.kind === "paste") this.inPaste = tok.start;
      this.flush(out);
      out.push(raw);
      return false;
    }
    if (this.pos > 0 && transparent(tok)) {
      this.held.push({ raw, tok });
      return false;
    }
    if (matches(tok, this.keys[this.pos])) {
      this.held.push({ raw, tok });
      this.pos++;
      if (this.pos < this.keys.length) return false;
      this.held = [];
      this.pos = 0;
      return true;
    }
    if (this.pos === 0) {
      out.push(raw);
      return false;
    }
    // Not the next key: the first held key goes out as typed, and the match
    // starts again from the key after it (ctrl-p ctrl-p ctrl-q still detaches
    // on ctrl-p,ctrl-q).
    const [first, ...rest] = this.held;
    this.held = [];
    this.pos = 0;
    out.push(first.raw);
    for (const h of rest) if (this.step(h.tok, h.raw, out)) return true;
    return this.step(tok, raw, out);
  }

  private flush(out: Buffer[]): void {
    for (const h of this.held) out.push(h.raw);
    this.held = [];
    this.pos = 0;
  }
}
