import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { HOSTILE as hostileCorpus } from "./testutil/hostile.js";
import { asFlag, colourWanted, isPlain, isShellWord, paintMarks, painted, shellQuoted, visible } from "./output.js";

test("colour only on a terminal, never with NO_COLOR set, never on a dumb terminal", () => {
  assert.equal(colourWanted(true, {}), true);
  assert.equal(colourWanted(false, {}), false);
  assert.equal(colourWanted(true, { NO_COLOR: "1" }), false);
  assert.equal(colourWanted(true, { NO_COLOR: "" }), true, "an empty NO_COLOR does not count (no-color.org)");
  assert.equal(colourWanted(true, { TERM: "dumb" }), false);
  assert.equal(colourWanted(false, { FORCE_COLOR: "1" }), false);
});

test("only the mark that starts a line is coloured", () => {
  assert.equal(paintMarks("✗ no agent named 'x'\n  hint ✗ here\n"), "\x1b[31m✗\x1b[39m no agent named 'x'\n  hint ✗ here\n");
  assert.equal(paintMarks("✓ saved\n! loose\n· note\n"), "\x1b[32m✓\x1b[39m saved\n\x1b[33m!\x1b[39m loose\n· note\n");
  assert.equal(paintMarks("✗no space"), "✗no space");
});

test("painted output colours strings and passes bytes through untouched", () => {
  const got: (string | Uint8Array)[] = [];
  const s = painted({ write: (chunk) => got.push(chunk) > 0 });
  s.write("✓ done\n");
  const bytes = Buffer.from("✗ raw", "utf8").subarray(0, 2);
  s.write(bytes);
  assert.equal(got[0], "\x1b[32m✓\x1b[39m done\n");
  assert.deepEqual(got[1], bytes);
});

// Strings a hostile server sends, each aimed at the terminal that prints it.
const HOSTILE = hostileCorpus.map((h) => h.text);

test("server strings cannot reach the terminal as controls, wherever they are printed", async () => {
  const { visible, cleanText, json, table, say } = await import("./output.js");
  for (const h of HOSTILE) {
    for (const out of [visible(h), cleanText(h), table(["ID"], [[h]]), json({ h })]) {
      assert.doesNotMatch(out, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/, JSON.stringify(h));
    }
    assert.doesNotMatch(visible(h), /\n/);
    let said = "";
    say({ stderr: new Writable({ write(c, _e, d) { said += c.toString(); d(); } }) }, `· session ${h}`);
    assert.doesNotMatch(said, /\x1b|\u009b|\u202e/);
  }
  assert.equal(json({ c: "\u009b" }), '{\n  "c": "\\u009b"\n}\n');
  assert.deepEqual(JSON.parse(json({ c: "\u009b\u202e" })), { c: "\u009b\u202e" }, "the escapes are still the same JSON");
  const deep: unknown[] = [];
  let v = deep;
  for (let i = 0; i < 100_000; i++) v = (v[0] = []) as unknown[];
  assert.equal(visible(deep), "(unprintable value)");
});

test("a status line is cut to the terminal's width, never wrapping", async () => {
  const { fitWidth } = await import("./output.js");
  assert.equal(fitWidth("short", 80), "short");
  assert.equal(fitWidth("x".repeat(130), 80), "x".repeat(78) + "…");
  assert.equal([...fitWidth("é".repeat(50), 40)].length, 39);
  assert.equal(fitWidth("☕".repeat(50), 40), "☕".repeat(19) + "…", "emoji take two columns");
  assert.equal(fitWidth("anything", undefined), "anything");
});

test("JSON too deeply nested to print is one clear error, not a crash", async () => {
  const { json } = await import("./output.js");
  const { LapError } = await import("./errors.js");
  let deep: unknown[] = [];
  const top = deep;
  for (let i = 0; i < 200_000; i++) deep = (deep[0] = []) as unknown[];
  assert.throws(() => json(top), (err: unknown) => err instanceof LapError && /nested too deeply/.test(err.message));
});

test("text is measured in the columns a terminal draws it in", async () => {
  const { cellWidth, fit, table } = await import("./output.js");
  assert.equal(fit("abcdef", 4), "abc…");
  assert.equal(cellWidth("日本語-agent🙂"), 14);
  assert.equal(cellWidth("☕⚡⭐✅x"), 9);
  assert.equal(cellWidth("→✓—…"), 4, "arrows, marks and dashes are narrow");
  assert.equal(fit("日本語-agent", 6), "日本…");
  assert.equal(table(["NAME", "ID"], [["☕☕", "1"], ["ab", "2"]]), "NAME  ID\n☕☕  1\nab    2\n");
});

test("a shell word is one a shell takes as it is; any other is single-quoted in the commands lap suggests", () => {
  for (const w of ["demo", "a.b", "x=1", "u@h:p"]) assert.ok(isShellWord(w), w);
  for (const w of ["$x", "a b", "`x`", "a;b", "-x", "a|b", "a>b", "~x", "a*", "\u009b", ""]) assert.ok(!isShellWord(w), w);
  assert.equal(shellQuoted("4f0c2a11-0000"), "4f0c2a11-0000");
  assert.equal(shellQuoted("$(curl evil|sh)"), "'$(curl evil|sh)'");
  assert.equal(shellQuoted("it's"), "'it'\\''s'");
  assert.equal(shellQuoted("a\n\x1b[2J"), "'a\\n\\x1b[2J'", "and what a terminal obeys is shown, not obeyed");
});

test("isPlain is true exactly when visible would leave the text as it is", () => {
  for (const h of hostileCorpus) assert.equal(isPlain(h.text), visible(h.text, Infinity) === h.text, h.name);
  assert.ok(isPlain("plain text, with = < > ? and ünïcödé"));
});

test("a wait is worded the way --timeout takes it", () => {
  for (const [ms, want] of [[400, "400ms"], [1000, "1s"], [1500, "2s"], [45_000, "45s"], [600_000, "10m"], [90_000, "90s"]] as const) {
    assert.equal(asFlag(ms), want, String(ms));
  }
});
