import { test } from "node:test";
import assert from "node:assert/strict";
import { ModeTracker } from "./modes.js";

const scan = (...chunks: string[]) => {
  const t = new ModeTracker();
  for (const c of chunks) t.scan(Buffer.from(c, "latin1"));
  return t;
};

test("nothing switched on means nothing to undo", () => {
  assert.equal(scan("plain text\r\n", "\x1b[1;31mred\x1b[0m").reset(), "");
});

test("modes switched on and left on are undone, input reporting first and the screen last", () => {
  const t = scan("\x1b[?1049h\x1b[?1000;1006h\x1b[?2004h\x1b[?1004h\x1b[?1h\x1b=\x1b[?25l");
  assert.equal(t.reset(), "\x1b[?1000l\x1b[?1006l\x1b[?1004l\x1b[?2004l\x1b[?1l\x1b[?1049l\x1b>\x1b[?25h");
  assert.equal(t.reset(), "", "reset forgets");
});

test("modes switched off again are left alone", () => {
  assert.equal(scan("\x1b[?1049h\x1b[?2004h\x1b[?25l", "\x1b[?2004l\x1b[?1049l\x1b[?25h\x1b=\x1b>").reset(), "");
});

test("a sequence split across chunks is still seen, at every split point", () => {
  const whole = "ab\x1b[?1002hcd\x1b[>1ue";
  for (let i = 1; i < whole.length; i++) {
    assert.equal(scan(whole.slice(0, i), whole.slice(i)).reset(), "\x1b[?1002l\x1b[<1u", `split at ${i}`);
  }
});

test("the kitty keyboard stack and modifyOtherKeys are undone and reported", () => {
  let t = scan("\x1b[>1u\x1b[>3u\x1b[<u");
  assert.equal(t.keyboardExtended(), true);
  assert.equal(t.reset(), "\x1b[<1u");
  t = scan("\x1b[=5;1u");
  assert.equal(t.reset(), "\x1b[=0;1u");
  t = scan("\x1b[>4;2m");
  assert.equal(t.keyboardExtended(), true);
  assert.equal(t.reset(), "\x1b[>4m");
  assert.equal(scan("\x1b[>4;2m\x1b[>4;0m").keyboardExtended(), false);
  assert.equal(scan("\x1b[>1u\x1b[<5u").reset(), "");
  // A pop whose count is not a number pops nothing, and the push is still undone.
  assert.equal(scan("\x1b[>1u\x1b[<1:2u").reset(), "\x1b[<1u");
  assert.equal(scan("\x1b[>1u\x1b[<1;2u").reset(), "");
  assert.equal(scan("\x1b[=;1u").reset(), "", "no flags: nothing set");
});

test("again switches back on what reset switches off, and scanning it restores the same state", () => {
  const on = "\x1b[?1049h\x1b[?2004h\x1b=\x1b[>1u\x1b[>5u\x1b[=3;1u\x1b[>4;2m\x1b[?7l\x1b[?25l\x1b[1;31m\x1b[2;20r\x1b[4h\x1b[3 q";
  const t = scan(on);
  const again = t.again();
  assert.equal(again, "\x1b[?1049h\x1b[?2004h\x1b=\x1b[>1u\x1b[>5u\x1b[=3;1u\x1b[>4;2m\x1b[?7l\x1b[4h\x1b[?25l\x1b[3 q");
  const reset = t.reset();
  assert.equal(t.again(), "", "reset forgets");
  t.scan(Buffer.from(again));
  assert.equal(t.again(), again);
  assert.equal(t.reset(), reset.replace("\x1b7\x1b[r\x1b8", "").replace("\x1b[0m", ""), "all but the colours and the scroll region, which the redraw sets");
});

test("numbers a harness sends are written back only within what the protocols define", () => {
  const t = scan(`\x1b[>${"9".repeat(400)}u\x1b[=99;1u\x1b[>4;7m\x1b[>u\x1b[9 q`);
  assert.equal(t.again(), "\x1b[>0u\x1b[>0u\x1b[=3;1u\x1b[>4;2m", "every number a few digits at most");
});

test("kitty flags set, added and taken away are followed as the terminal follows them", () => {
  assert.equal(scan("\x1b[=1;1u\x1b[=4;2u").again(), "\x1b[=5;1u");
  assert.equal(scan("\x1b[=5;1u\x1b[=1;3u").again(), "\x1b[=4;1u");
  assert.equal(scan("\x1b[=1;1u\x1b[=1;3u").reset(), "", "all taken away: nothing to undo");
});

test("the kitty keyboard stack kept is bounded, as terminals bound theirs", () => {
  const t = scan("\x1b[>1u".repeat(10_000));
  assert.equal(t.again(), "\x1b[>1u".repeat(64));
  assert.equal(t.reset(), "\x1b[<64u");
});

test("synchronized output left on is switched off", () => {
  assert.equal(scan("\x1b[?2026h frame").reset(), "\x1b[?2026l");
});

test("text dense in = < > ? [ is not taken for sequences", () => {
  const source = "if (a >= b && c <= d) x = y ? [?1049h] : [>1u] <=> =>; a[?25l] = b[<u];\n".repeat(50);
  assert.equal(scan(source).reset(), "");
});

test("colours, line-drawing glyphs, no-autowrap and a scroll region left on are undone", () => {
  const t = scan("\x1b[1;31mred \x1b(0lqqk\x1b[?7l\x1b[2;20r");
  assert.equal(t.reset(), "\x1b7\x1b[r\x1b8\x1b[?7h\x1b(B\x0f\x1b[0m");
  assert.equal(scan("\x1b)0\x0e").reset(), "\x1b)B\x1b(B\x0f");
});

test("colours, glyphs, autowrap and the scroll region set back by the program are left alone", () => {
  assert.equal(scan("\x1b[1;31mred\x1b[0m \x1b(0q\x1b(B \x1b[?7l\x1b[?7h \x1b[5;9r\x1b[r").reset(), "");
  assert.equal(scan("\x1b[38;5;1mx\x1b[m").reset(), "");
  assert.equal(scan("\x1b[0;0mx").reset(), "");
  assert.equal(scan("\x1b[0;1mx").reset(), "\x1b[0m");
});

test("sequences the tracker does not follow are passed over without harm", () => {
  assert.equal(scan("\x1b[2J\x1b[H\x1b]0;title\x07\x1b[0 q\x1b7\x1b8\x1bM").reset(), "");
});

test("every tracked sequence is seen when split at every byte position, or cut into single bytes", () => {
  const cases: [string, string][] = [
    ["\x1b[?1049h", "\x1b[?1049l"],
    ["\x1b[?1000;1006h", "\x1b[?1000l\x1b[?1006l"],
    ["\x1b[?25l", "\x1b[?25h"],
    ["\x1b=", "\x1b>"],
    ["\x1b[>1u", "\x1b[<1u"],
    ["\x1b[=5;1u", "\x1b[=0;1u"],
    ["\x1b[>4;2m", "\x1b[>4m"],
    ["\x1b[1;38;5;208m", "\x1b[0m"],
    ["\x1b(0", "\x1b(B\x0f"],
    ["\x1b[?7l", "\x1b[?7h"],
    ["\x1b[3;20r", "\x1b7\x1b[r\x1b8"],
    ["\x1b[4h", "\x1b[4l"],
    ["\x1b[?5h", "\x1b[?5l"],
    ["\x1b[5 q", "\x1b[0 q"],
    ["\x1b[?6h", "\x1b[?6l\x1b[r\x1b[999;1H"],
    ["\x1b]11;#1e1e2e\x07", "\x1b]111\x1b\\"],
    ["\x1b]10;rgb:ff/ff/ff\x1b\\", "\x1b]110\x1b\\"],
    // Padded as terminals still obey, and as a hostile harness might send it.
    [`\x1b[?${"0".repeat(500)}1049h`, "\x1b[?1049l"],
  ];
  for (const [seq, undo] of cases) {
    const whole = `a=b?${seq}c<d>`;
    for (let i = 0; i <= whole.length; i++) {
      assert.equal(scan(whole.slice(0, i), whole.slice(i)).reset(), undo, `${JSON.stringify(seq)} split at ${i}`);
    }
    assert.equal(scan(...whole.split("")).reset(), undo, `${JSON.stringify(seq)} in single bytes`);
    // Switched off again across a split: nothing left to undo.
    const both = `${seq}x${undo}`;
    for (let i = 0; i <= both.length; i++) assert.equal(scan(both.slice(0, i), both.slice(i)).reset(), "", `${JSON.stringify(both)} split at ${i}`);
  }
});

test("the dynamic colours are reset only when set: a question, or another number, is not a setting", () => {
  assert.equal(scan("\x1b]11;?\x07\x1b]10;?\x1b\\\x1b]1100;x\x07\x1b]0;title\x07\x1b]4;1;red\x07").reset(), "");
  assert.equal(scan("\x1b]12;red\x07\x1b]10;blue\x07").reset(), "\x1b]110\x1b\\\x1b]112\x1b\\");
  assert.equal(scan("\x1b]12;red\x07\x1b]112\x07").reset(), "");
});

test("origin mode left on is left, and with it the scroll region, the cursor going to the bottom", () => {
  const t = scan("\x1b[3;20r\x1b[?6h");
  assert.equal(t.again(), "\x1b[?6h");
  assert.equal(t.reset(), "\x1b[?6l\x1b[r\x1b[999;1H");
  // On the alternate screen it is left there, and the user's cursor is
  // where leaving the alternate screen puts it.
  assert.equal(scan("\x1b[?1049h\x1b[3;20r\x1b[?6h").reset(), "\x1b[?6l\x1b[?1049l\x1b7\x1b[r\x1b8");
});

test("a sequence too long to be tracked does not hide the ones after it", () => {
  const long = "\x1b[" + "1;".repeat(600);
  assert.equal(scan(long.slice(0, 40), long.slice(40), "m\x1b[?2004h").reset(), "\x1b[?2004l");
  assert.equal(scan(long.slice(0, 40), long.slice(40) + "x\x1b[?2004h").reset(), "\x1b[?2004l");
});

test("a harness naming millions of private modes does not make the tracker grow", () => {
  const t = new ModeTracker();
  for (let frame = 0; frame < 10; frame++) {
    const numbers = Array.from({ length: 100_000 }, (_, i) => 100_000_000 + frame * 100_000 + i);
    t.scan(Buffer.from(`\x1b[?${numbers.join(";")}h\x1b[?2004h`, "latin1"));
  }
  assert.equal((t as unknown as { on: Set<number> }).on.size, 1, "only the modes reset() undoes are kept");
  assert.equal(t.reset(), "\x1b[?2004l");
});
