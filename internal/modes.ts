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

// The sequences the tracker reacts to. Each is complete as matched.
const SEQUENCE =
  /\x1b\[\?([\d;]*)([hl])|\x1b([=>])|\x1b\[([<>=])([\d;]*)u|\x1b\[>4(?:;(\d*))?m/g;
// What the start of an unfinished sequence at the end of a chunk looks like.
const UNFINISHED = /\x1b(?:\[(?:[?<>=]?[\d;]*)?)?$/;
// A sequence longer than this is not one we track; do not carry it over.
const MAX_CARRY = 64;

export class ModeTracker {
  private on = new Set<number>();
  private cursorHidden = false;
  private keypad = false;
  private kittyPushed = 0;
  private kittySet = false;
  private modifyOtherKeys = false;
  private carry = "";

  // scan reads one chunk of output. Chunks without ESC cost one indexOf.
  scan(data: Buffer): void {
    if (this.carry === "" && data.indexOf(0x1b) < 0) return;
    const text = this.carry + data.toString("latin1");
    this.carry = "";
    let m: RegExpExecArray | null;
    SEQUENCE.lastIndex = 0;
    while ((m = SEQUENCE.exec(text)) !== null) this.apply(m);
    const tail = UNFINISHED.exec(text.slice(-MAX_CARRY));
    if (tail) this.carry = tail[0];
  }

  private apply(m: RegExpExecArray): void {
    if (m[2] !== undefined) {
      const enable = m[2] === "h";
      for (const p of m[1].split(";")) {
        const n = Number(p);
        if (n === CURSOR) this.cursorHidden = !enable;
        else if (enable) this.on.add(n);
        else this.on.delete(n);
      }
    } else if (m[3] !== undefined) {
      this.keypad = m[3] === "=";
    } else if (m[4] !== undefined) {
      // kitty keyboard protocol: CSI > flags u pushes, CSI < n u pops n,
      // CSI = flags ; mode u sets the current flags.
      if (m[4] === ">") this.kittyPushed++;
      else if (m[4] === "<") this.kittyPushed = Math.max(0, this.kittyPushed - Number(m[5] || "1"));
      else this.kittySet = m[5] !== "" && !m[5].startsWith("0");
    } else {
      // xterm modifyOtherKeys: CSI > 4 ; n m, where n = 0 or absent resets it.
      this.modifyOtherKeys = m[6] !== undefined && m[6] !== "" && m[6] !== "0";
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
    this.carry = "";
    return out;
  }

  // keyboardExtended tells whether the terminal was asked to report keys as
  // escape sequences (kitty or modifyOtherKeys), so Ctrl-D may not be 0x04.
  keyboardExtended(): boolean {
    return this.kittyPushed > 0 || this.kittySet || this.modifyOtherKeys;
  }
}
