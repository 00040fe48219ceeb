// Terminal state a remote program may switch on and leave on when the link
// ends (mouse reporting, alternate screen, colours, line-drawing glyphs, a
// scroll region, ...). The tracker watches the output stream for it, across
// frame boundaries, and gives back exactly the bytes that undo what is still
// on, as tmux does on detach.

// DEC private modes worth undoing, in the order they are switched off:
// input reporting first, the alternate screen last so the reset lands on the
// user's own screen.
const DEC_MODES = [
  9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016, // mouse reporting, every encoding
  1004, // focus events
  2004, // bracketed paste
  2026, // synchronized output
  5, // reverse video (the whole screen)
  1, // application cursor keys
  66, // application keypad (DECNKM)
  47, 1047, 1049, // alternate screen (ALTERNATE_SCREENS)
];
const TRACKED = new Set(DEC_MODES);
const ALTERNATE_SCREENS = [47, 1047, 1049];
// ANSI (not private) modes: insert (IRM) and new-line (LNM), which would
// garble the shell's line editing if left on.
const ANSI_MODES = [4, 20];
// Modes that are on by default, so switching them off is what is tracked.
const CURSOR = 25;
const AUTOWRAP = 7;
// Origin mode (DECOM): cursor addressing relative to the scroll region.
const ORIGIN = 6;
// The dynamic colours a program may set with OSC 10, 11 and 12 (the text,
// the background, the cursor) and OSC 110, 111, 112 reset.
const DYNAMIC_COLOURS = [10, 11, 12];
const COLOUR_RESET = 100;

const ESC = 0x1b;
const CSI = 0x5b; // [
const OSC = 0x5d; // ]
const KEYPAD_ON = 0x3d; // =
const KEYPAD_OFF = 0x3e; // >
const G0 = 0x28; // (  designates the G0 character set
const G1 = 0x29; // )  designates the G1 character set
const ASCII_SET = 0x42; // B
const SGR = 0x6d; // m
const SCROLL_REGION = 0x72; // r
const SET = 0x68; // h
const RESET = 0x6c; // l
const SPACE = 0x20; // the intermediate of DECSCUSR: CSI n SP q
const CURSOR_STYLE = 0x71; // q
// A sequence cut off at the end of a chunk is carried to the next while it
// is no longer than this. Terminals obey parameters padded with zeros (tmux
// up to 63 bytes, xterm without end), so it is well past what programs send.
const MAX_CARRY = 1024;
// Terminals keep a short kitty keyboard stack and drop its oldest entry
// when full; lap keeps no more than this of it.
const MAX_KITTY = 64;
// The kitty keyboard flags are five bits; xterm's modifyOtherKeys levels go
// to 2. Larger numbers from a harness are cut to these before lap ever
// writes them back (again()).
const KITTY_FLAGS = 0x1f;
const MAX_OTHER_KEYS = 2;

// nextEsc is the index of the next ESC from i, or -1. A full-screen redraw
// has one every dozen bytes, where a native search per ESC costs more than
// the search itself (a call into C++ each time): the next few bytes are
// looked at here first, and only a longer stretch is left to indexOf.
const NEAR = 32;
function nextEsc(data: Buffer, i: number): number {
  const near = Math.min(data.length, i + NEAR);
  for (; i < near; i++) if (data[i] === ESC) return i;
  return i < data.length ? data.indexOf(ESC, i) : -1;
}

export class ModeTracker {
  private on = new Set<number>();
  private cursorHidden = false;
  private ansi = new Set<number>();
  // The DECSCUSR style (0: the terminal's own).
  private cursorStyle = 0;
  private autowrapOff = false;
  private origin = false;
  // The dynamic colours set (10, 11, 12).
  private colours = new Set<number>();
  private keypad = false;
  // The flags of each kitty keyboard push still on the stack, oldest first.
  private kittyStack: number[] = [];
  // Flags set with CSI = flags u (0: none).
  private kittyFlags = 0;
  // The modifyOtherKeys level (0: off).
  private otherKeys = 0;
  private coloured = false;
  private scrollRegion = false;
  // A character set other than ASCII designated into G0 or G1.
  private g0Special = false;
  private g1Special = false;
  // The start of a sequence cut off at the end of the last chunk.
  private carry: Buffer | null = null;

  // scan reads one chunk of output. It runs on every frame, so it finds
  // sequences by searching for ESC alone (nextEsc): ordinary text, however
  // dense in = < > ?, costs one native search; each ESC costs a look at the
  // few bytes of its sequence.
  scan(data: Buffer): void {
    let from = 0;
    if (this.carry) {
      // Finish the sequence cut off at the end of the last chunk.
      const carried = this.carry.length;
      const head = Buffer.concat([this.carry, data.subarray(0, MAX_CARRY)]);
      this.carry = null;
      const end = this.sequence(head, 0);
      if (end < 0) {
        if (head.length <= MAX_CARRY) {
          this.carry = head;
          return;
        }
        // Too long to be one we track: go on with the rest of the chunk.
      } else {
        from = end - carried;
      }
    }
    for (let i = nextEsc(data, from); i >= 0; i = nextEsc(data, i)) {
      const end = this.sequence(data, i);
      if (end < 0) {
        if (data.length - i <= MAX_CARRY) this.carry = Buffer.from(data.subarray(i));
        return;
      }
      i = end;
    }
  }

  // sequence applies the sequence starting at data[i] (ESC) if it is one we
  // track, and returns where to look next; -1 when the chunk ends first.
  private sequence(data: Buffer, i: number): number {
    if (i + 1 >= data.length) return -1;
    const next = data[i + 1];
    if (next === KEYPAD_ON || next === KEYPAD_OFF) {
      this.keypad = next === KEYPAD_ON;
      return i + 2;
    }
    if (next === G0 || next === G1) {
      if (i + 2 >= data.length) return -1;
      const special = data[i + 2] !== ASCII_SET;
      if (next === G0) this.g0Special = special;
      else this.g1Special = special;
      return i + 3;
    }
    if (next === OSC) return this.osc(data, i);
    if (next !== CSI) return i + 1;
    if (i + 2 >= data.length) return -1;
    const lead = data[i + 2];
    const priv = lead >= 0x3c && lead <= 0x3f; // < = > ?
    let j = priv ? i + 3 : i + 2;
    // Parameters: digits, : (colour sub-parameters) and ;, which are 0x30
    // to 0x3b: one range to check per byte.
    while (j < data.length && data[j]! >= 0x30 && data[j]! <= 0x3b) j++;
    if (j >= data.length) return -1;
    const final = data[j];
    if (priv) this.apply(lead, numbers(data, i + 3, j), final);
    else if (final === SGR) this.coloured = !onlyZeros(data, i + 2, j);
    else if (final === SCROLL_REGION) this.scrollRegion = j > i + 2;
    else if (final === SET || final === RESET) {
      for (const n of numbers(data, i + 2, j)) {
        if (!ANSI_MODES.includes(n)) continue;
        if (final === SET) this.ansi.add(n);
        else this.ansi.delete(n);
      }
    } else if (final === SPACE) {
      if (j + 1 >= data.length) return -1;
      if (data[j + 1] !== CURSOR_STYLE) return j;
      const style = numbers(data, i + 2, j)[0]!;
      if (style <= 6) this.cursorStyle = Math.max(0, style);
      return j + 2;
    }
    // A sequence with other bytes (intermediates) is none of ours: it is
    // passed over up to them, and the search for ESC goes on.
    return j;
  }

  // osc follows the dynamic colours: ESC ] 10 ; colour sets the text's
  // (";?" only asks for it), ESC ] 110 resets it. Only the number is read;
  // the rest of the sequence is passed over.
  private osc(data: Buffer, i: number): number {
    let j = i + 2;
    let n = 0;
    for (; j < data.length && j < i + 5 && data[j]! >= 0x30 && data[j]! <= 0x39; j++) n = n * 10 + data[j]! - 0x30;
    if (j >= data.length) return -1;
    if (data[j]! >= 0x30 && data[j]! <= 0x39) return j; // a longer number: none of ours
    if (DYNAMIC_COLOURS.includes(n - COLOUR_RESET)) this.colours.delete(n - COLOUR_RESET);
    else if (DYNAMIC_COLOURS.includes(n) && data[j] === 0x3b) {
      if (j + 1 >= data.length) return -1;
      if (data[j + 1] !== 0x3f) this.colours.add(n);
    }
    return j;
  }

  private apply(lead: number, params: number[], final: number): void {
    const h = 0x68, l = 0x6c, u = 0x75, m = 0x6d;
    if (lead === 0x3f && (final === h || final === l)) {
      for (const n of params) {
        if (n === CURSOR) this.cursorHidden = final === l;
        else if (n === AUTOWRAP) this.autowrapOff = final === l;
        else if (n === ORIGIN) this.origin = final === h;
        // Only the modes reset() undoes are kept: a harness naming millions
        // of others must not grow the set without end.
        else if (!TRACKED.has(n)) continue;
        else if (final === h) this.on.add(n);
        else this.on.delete(n);
      }
    } else if (final === u) {
      // kitty keyboard protocol: CSI > flags u pushes, CSI < n u pops n,
      // CSI = flags ; mode u sets the current flags.
      // A pop of a count that is not a number is ignored.
      const first = params[0]!;
      const pop = first < 0 ? 1 : first;
      if (lead === 0x3e) {
        if (this.kittyStack.length === MAX_KITTY) this.kittyStack.shift();
        this.kittyStack.push(first > 0 ? first & KITTY_FLAGS : 0);
      } else if (lead === 0x3c && pop >= 0) this.kittyStack.length = Math.max(0, this.kittyStack.length - pop);
      else if (lead === 0x3d) {
        // The mode: 1 (or none) sets the flags, 2 adds them, 3 takes them away.
        const flags = first > 0 ? first & KITTY_FLAGS : 0;
        const mode = params[1];
        if (mode === 2) this.kittyFlags |= flags;
        else if (mode === 3) this.kittyFlags &= ~flags;
        else this.kittyFlags = flags;
      }
    } else if (lead === 0x3e && final === m && params[0] === 4) {
      // xterm modifyOtherKeys: CSI > 4 ; n m, where n = 0 or absent resets it.
      const level = params[1] ?? 0;
      this.otherKeys = level > 0 ? Math.min(level, MAX_OTHER_KEYS) : 0;
    }
  }

  // reset returns the bytes that switch off everything still on ("" when
  // nothing is), and forgets it all.
  reset(): string {
    let out = "";
    // Leaving origin mode homes the cursor. On the alternate screen that is
    // harmless, before leaving it for the user's own screen and cursor.
    const alternate = ALTERNATE_SCREENS.some((n) => this.on.has(n));
    if (this.origin && alternate) out += "\x1b[?6l";
    for (const n of DEC_MODES) if (this.on.has(n)) out += `\x1b[?${n}l`;
    if (this.keypad) out += "\x1b>";
    if (this.kittyStack.length > 0) out += `\x1b[<${this.kittyStack.length}u`;
    if (this.kittyFlags) out += "\x1b[=0;1u";
    if (this.otherKeys) out += "\x1b[>4m";
    // Clearing the scroll region homes the cursor: save and restore it
    // around, so lap's last line lands where the program left off. On the
    // user's own screen, origin mode left homes it too, and a restore would
    // switch the mode back on: lap's last line goes to the bottom instead.
    if (this.origin && !alternate) out += "\x1b[?6l\x1b[r\x1b[999;1H";
    else if (this.scrollRegion) out += "\x1b7\x1b[r\x1b8";
    if (this.autowrapOff) out += "\x1b[?7h";
    for (const n of ANSI_MODES) if (this.ansi.has(n)) out += `\x1b[${n}l`;
    if (this.g1Special) out += "\x1b)B";
    // Shift In as well: the program may have shifted to G1.
    if (this.g0Special || this.g1Special) out += "\x1b(B\x0f";
    if (this.coloured) out += "\x1b[0m";
    if (this.cursorHidden) out += "\x1b[?25h";
    if (this.cursorStyle) out += "\x1b[0 q";
    for (const n of DYNAMIC_COLOURS) if (this.colours.has(n)) out += `\x1b]${n + COLOUR_RESET}\x1b\\`;
    this.on.clear();
    this.colours.clear();
    this.ansi.clear();
    this.cursorStyle = 0;
    this.cursorHidden = this.autowrapOff = this.keypad = this.origin = false;
    this.coloured = this.scrollRegion = this.g0Special = this.g1Special = false;
    this.kittyStack = [];
    this.kittyFlags = this.otherKeys = 0;
    this.carry = null;
    return out;
  }

  // again returns the bytes that switch back on what reset() would switch
  // off now, for a terminal given back and taken again (a suspend): the
  // alternate screen first, so the program's redraw lands on it. Colours,
  // glyphs and the scroll region are not known exactly; the redraw sets
  // them (dynamic colours are not kept: a program sets them once).
  again(): string {
    let out = "";
    for (const n of [...DEC_MODES].reverse()) if (this.on.has(n)) out += `\x1b[?${n}h`;
    if (this.keypad) out += "\x1b=";
    for (const flags of this.kittyStack) out += `\x1b[>${flags}u`;
    if (this.kittyFlags) out += `\x1b[=${this.kittyFlags};1u`;
    if (this.otherKeys) out += `\x1b[>4;${this.otherKeys}m`;
    if (this.autowrapOff) out += "\x1b[?7l";
    if (this.origin) out += "\x1b[?6h";
    for (const n of ANSI_MODES) if (this.ansi.has(n)) out += `\x1b[${n}h`;
    if (this.cursorHidden) out += "\x1b[?25l";
    if (this.cursorStyle) out += `\x1b[${this.cursorStyle} q`;
    return out;
  }

  // keyboardExtended tells whether the terminal was asked to report keys as
  // escape sequences (kitty or modifyOtherKeys), so Ctrl-D may not be 0x04.
  keyboardExtended(): boolean {
    return this.kittyStack.length > 0 || this.kittyFlags > 0 || this.otherKeys > 0;
  }
}

// numbers reads the parameters of a sequence (digits separated by ";")
// from data[from, to) without making a string: an empty one is -1, one with
// a ":" sub-parameter NaN.
function numbers(data: Buffer, from: number, to: number): number[] {
  const out: number[] = [];
  let n = -1;
  for (let k = from; k < to; k++) {
    const b = data[k]!;
    if (b === 0x3b) {
      out.push(n);
      n = -1;
    } else if (b === 0x3a) n = NaN;
    else n = (n < 0 ? 0 : n * 10) + (b - 0x30);
  }
  out.push(n);
  return out;
}

// onlyZeros: SGR parameters that reset every attribute ("", "0", "0;0").
function onlyZeros(data: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (data[k] !== 0x30 && data[k] !== 0x3b) return false;
  return true;
}
