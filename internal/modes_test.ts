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
});

test("synchronized output left on is switched off", () => {
  assert.equal(scan("\x1b[?2026h frame").reset(), "\x1b[?2026l");
});
