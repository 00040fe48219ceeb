// Terminal modes a remote program may switch on and leave on when the link
// ends (mouse reporting, alternate screen, ...). The tracker watches the
// output stream for them, across frame boundaries, and gives back exactly
// the bytes that switch off what is still on, as tmux does on detach.

// DEC private modes worth undoing, in the order they are switched off:
// input reporting first, the alternate screen last so the reset lands on the
// user's own screen.
const DEC_MODES = [
  9, 1000, 1001, 1002, 1003, 1005, 1006, 1015, 1016, // mouse reporting, every encoding
  1004, // focus events
  2004, // bracketed paste
  2026, // synchronized output
  1, // application cursor keys
  66, // application keypad (DECNKM)
  47, 1047, 1049, // alternate screen
];
const CURSOR = 25;

const ESC = 0x1b;
const CSI = 0x5b; // [
// The bytes after ESC or ESC [ that start every sequence tracked: = > < ?
const MARKERS = [0x3d, 0x3e, 0x3c, 0x3f];
// A sequence longer than this is not one we track; do not carry it over.
const MAX_CARRY = 64;

export class ModeTracker {
  private on = new Set<number>();
  private cursorHidden = false;
  private keypad = false;
  private kittyPushed = 0;
  private kittySet = false;
  private modifyOtherKeys = false;
  // The start of a sequence cut off at the end of the last chunk.
  private carry: Buffer | null = null;

  // scan reads one chunk of output. It runs on every frame, so it finds the
  // few sequences it tracks by their marker bytes (= > < ?) with native
  // searches, and never looks at the colours and cursor moves that make up
  // the bulk of a program's output.
  scan(data: Buffer): void {
    let from = 0;
    if (this.carry) {
      // Finish the sequence cut off at the end of the last chunk.
      const carried = this.carry.length;
      const head = Buffer.concat([this.carry, data.subarray(0, MAX_CARRY)]);
      this.carry = null;
      const end = this.sequence(head, 0);
      if (end < 0) {
        if (head.length <= MAX_CARRY) this.carry = head;
        return;
      }
      from = end - carried;
    }
    const starts: number[] = [];
    for (const marker of MARKERS) {
      for (let i = data.indexOf(marker, from + 1); i >= 0; i = data.indexOf(marker, i + 1)) {
        if (data[i - 1] === ESC && (marker === 0x3d || marker === 0x3e)) starts.push(i - 1);
        else if (data[i - 1] === CSI && data[i - 2] === ESC && i - 2 >= from) starts.push(i - 2);
      }
    }
    starts.sort((a, b) => a - b);
    for (const start of starts) {
      if (this.sequence(data, start) < 0) {
        if (data.length - start <= MAX_CARRY) this.carry = Buffer.from(data.subarray(start));
        return;
      }
    }
    // ESC or ESC [ at the very end: the marker may open the next chunk.
    const last = data.length - 1;
    if (data[last] === ESC) this.carry = Buffer.from([ESC]);
    else if (data[last] === CSI && data[last - 1] === ESC && last - 1 >= from) this.carry = Buffer.from([ESC, CSI]);
  }

  // sequence applies the sequence starting at data[i] (ESC) if it is one we
  // track, and returns where it ends; -1 when the chunk ends first.
  private sequence(data: Buffer, i: number): number {
    if (i + 1 >= data.length) return -1;
    const next = data[i + 1];
    if (next === 0x3d || next === 0x3e) {
      // ESC = and ESC >: application and normal keypad.
      this.keypad = next === 0x3d;
      return i + 2;
    }
    if (next !== CSI) return i + 1;
    if (i + 2 >= data.length) return -1;
    const lead = data[i + 2];
    // Only private sequences (? > < =) matter; SGR colours and cursor moves,
    // the bulk of a program's output, are passed over here.
    if (lead !== 0x3f && lead !== 0x3e && lead !== 0x3c && lead !== 0x3d) return i + 2;
    let j = i + 3;
    while (j < data.length && ((data[j] >= 0x30 && data[j] <= 0x39) || data[j] === 0x3b || data[j] === 0x3a)) j++;
    if (j >= data.length) return -1;
    this.apply(lead, data.toString("latin1", i + 3, j), data[j]);
    return j + 1;
  }

  private apply(lead: number, params: string, final: number): void {
    const h = 0x68, l = 0x6c, u = 0x75, m = 0x6d;
    if (lead === 0x3f && (final === h || final === l)) {
      for (const p of params.split(";")) {
        const n = Number(p);
        if (n === CURSOR) this.cursorHidden = final === l;
        else if (final === h) this.on.add(n);
        else this.on.delete(n);
      }
    } else if (final === u) {
      // kitty keyboard protocol: CSI > flags u pushes, CSI < n u pops n,
      // CSI = flags ; mode u sets the current flags.
      if (lead === 0x3e) this.kittyPushed++;
      else if (lead === 0x3c) this.kittyPushed = Math.max(0, this.kittyPushed - Number(params || "1"));
      else if (lead === 0x3d) this.kittySet = params !== "" && !params.startsWith("0");
    } else if (lead === 0x3e && final === m && (params === "4" || params.startsWith("4;"))) {
      // xterm modifyOtherKeys: CSI > 4 ; n m, where n = 0 or absent resets it.
      const n = params.slice(2);
      this.modifyOtherKeys = n !== "" && n !== "0";
    }
  }

  // reset returns the bytes that switch off everything still on ("" when
  // nothing is), and forgets it all.
  reset(): string {
    let out = "";
    for (const n of DEC_MODES) if (this.on.has(n)) out += `\x1b[?${n}l`;
    if (this.keypad) out += "\x1b>";
    if (this.kittyPushed > 0) out += `\x1b[<${this.kittyPushed}u`;
    if (this.kittySet) out += "\x1b[=0;1u";
    if (this.modifyOtherKeys) out += "\x1b[>4m";
    if (this.cursorHidden) out += "\x1b[?25h";
    this.on.clear();
    this.cursorHidden = this.keypad = this.kittySet = this.modifyOtherKeys = false;
    this.kittyPushed = 0;
    this.carry = null;
    return out;
  }

  // keyboardExtended tells whether the terminal was asked to report keys as
  // escape sequences (kitty or modifyOtherKeys), so Ctrl-D may not be 0x04.
  keyboardExtended(): boolean {
    return this.kittyPushed > 0 || this.kittySet || this.modifyOtherKeys;
  }
}
