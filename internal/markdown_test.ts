import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { AnswerWriter, terminalSafe, textMode, type TextMode } from "./markdown.js";
import { readSettings } from "./settings.js";
import { REPO } from "./testutil/repo.js";

// Golden files: testdata/markdown/NAME.md is an answer as the agent wrote
// it, NAME.out the bytes lap writes for it on a colour terminal.
// LAP_UPDATE_GOLDEN=1 rewrites the .out files.
const DIR = path.join(REPO, "testdata", "markdown");
const NAMES = fs.readdirSync(DIR).filter((f) => f.endsWith(".md")).map((f) => f.slice(0, -3)).sort();

// write feeds the pieces to a writer as deltas arrive and returns the bytes.
function write(mode: TextMode, pieces: string[]): string {
  const w = new AnswerWriter(mode);
  return pieces.map((p) => w.push(p)).join("") + w.end();
}

// cuts gives the ways a stream may cut a text: whole, one code unit at a
// time (so inside surrogate pairs and fence markers), and random cuts.
function cuts(text: string): [string, string[]][] {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const randomly: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(random() * 12);
    randomly.push(text.slice(i, i + n));
    i += n;
  }
  return [["whole", [text]], ["one code unit at a time", [...Array(text.length).keys()].map((i) => text[i])], ["random cuts", randomly]];
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

for (const name of NAMES) {
  test(`the ${name} answer renders as its golden file, however the stream cuts it`, () => {
    const input = fs.readFileSync(path.join(DIR, name + ".md"), "utf8");
    const goldenPath = path.join(DIR, name + ".out");
    const whole = write("rendered", [input]);
    if (process.env.LAP_UPDATE_GOLDEN === "1") fs.writeFileSync(goldenPath, whole);
    const golden = fs.readFileSync(goldenPath, "utf8");
    for (const [how, pieces] of cuts(input)) {
      const got = write("rendered", pieces);
      if (got !== golden) {
        fs.writeFileSync(goldenPath + ".got", got);
        const at = firstDifference(got, golden);
        assert.fail(`${name} (${how}) differs at ${at}: got ${JSON.stringify(got.slice(at, at + 40))}, want ${JSON.stringify(golden.slice(at, at + 40))}; written to ${goldenPath}.got`);
      }
    }
  });

  test(`the ${name} answer is written exactly when piped and only made safe with NO_COLOR`, () => {
    const input = fs.readFileSync(path.join(DIR, name + ".md"), "utf8");
    for (const [how, pieces] of cuts(input)) {
      assert.equal(write("raw", pieces), input, `piped, ${how}`);
      assert.equal(write("safe", pieces), terminalSafe(input), `NO_COLOR, ${how}`);
    }
  });
}

test("the goldens show what matters: markup drawn, markers gone, escapes never raw", () => {
  const basics = fs.readFileSync(path.join(DIR, "basics.out"), "utf8");
  assert.match(basics, /\x1b\[1m\x1b\[4mPlan for the \x1b\[1mrelease\x1b\[22m\x1b\[1m\x1b\[24m\x1b\[22m\n/);
  assert.match(basics, /\x1b\[4mthe docs\x1b\[24m \x1b\[2m\(https:\/\/example.com\/a_b\*c\)\x1b\[22m/);
  assert.match(basics, /A snake_case_name and 2 \* 3 \* 4 stay as they are\./);
  assert.match(basics, /\n• first item with \x1b\[36mcode\x1b\[39m\n/);
  assert.match(basics, /\n\| a    \| 1     \|\n/, "tables pass through");
  const fences = fs.readFileSync(path.join(DIR, "fences.out"), "utf8");
  assert.match(fences, /\n {2}const x = "\*\*not bold\*\*";\n {2}\/\/ # not a heading\n/);
  assert.match(fences, /\n {2}```\n {2}inner fence stays code\n {2}```\n/);
  const hostile = fs.readFileSync(path.join(DIR, "hostile.out"), "utf8");
  // The only escapes are lap's own styles: ESC followed by [ digits m.
  assert.doesNotMatch(hostile.replace(/\x1b\[\d+m/g, ""), /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  assert.match(hostile, /Title: \\x1b\]0;pwned\\x07 and \\x1b\[31mred/);
  assert.match(hostile, /bidi: \\u202eevil\\u202c and \\u2066iso\\u2069\n/);
  assert.match(hostile, /bare CR here\\r and CRLF\n/);
});

test("a character cut in two between deltas is written whole", () => {
  const w = new AnswerWriter("raw");
  assert.equal(w.push("a😀".slice(0, 2)), "a");
  assert.equal(w.push("😀".slice(1) + "b"), "😀b");
  assert.equal(w.end(), "");
});

test("colour is used only on a terminal without NO_COLOR or TERM=dumb", () => {
  const colour = (env: Record<string, string>) => readSettings(env, "/nonexistent").colour;
  assert.equal(textMode(false, colour({})), "raw");
  assert.equal(textMode(true, colour({})), "rendered");
  assert.equal(textMode(true, colour({ NO_COLOR: "1" })), "safe");
  assert.equal(textMode(true, colour({ TERM: "dumb" })), "safe");
});

test("the writer knows whether its output ends a line, for tool lines to start on their own", () => {
  const w = new AnswerWriter("safe");
  assert.equal(w.atLineStart, true);
  w.push("half");
  assert.equal(w.atLineStart, false);
  w.push(" line\n");
  assert.equal(w.atLineStart, true);
});

test("rendered, prose is shown word by word before its line is whole; markup waits for its line", () => {
  const w = new AnswerWriter("rendered");
  assert.equal(w.push("The build fa"), "The build ");
  assert.equal(w.push("ils in **tsc"), "fails in ");
  assert.equal(w.push("** now\n- it"), "\x1b[1mtsc\x1b[22m now\n• ");
  assert.equal(w.push("em one"), "item ");
  assert.equal(w.push("\n```\nco"), "one\n\x1b[2m```\x1b[22m\n  co");
  assert.equal(w.push("de\n``"), "de\n");
  assert.equal(w.push("`\n# Tit"), "\x1b[2m```\x1b[22m\n");
  assert.equal(w.end(), "\x1b[1m\x1b[4mTit\x1b[24m\x1b[22m");
});

test("a line that does not end is shown as it comes once it is long, and is never held whole", () => {
  for (const start of ["# heading ", "prose with *markup ", "1. item "]) {
    const w = new AnswerWriter("rendered");
    const piece = "x".repeat(1000);
    let before = "";
    let held = 0;
    for (let i = 0; i < 2000; i++) {
      before += w.push(i === 0 ? start + piece : piece);
      held = Math.max(held, (w as unknown as { held: string }).held.length);
    }
    const all = start + piece.repeat(2000);
    assert.ok(before.length > all.length - 8192, `${start}: ${before.length} of ${all.length} characters out before the end`);
    assert.ok(held <= 8192, `${start}: held ${held} characters`);
    assert.equal(before + w.end(), all, "every character, its markup as written");
  }
});

test("a whole line too long for markup is shown as written, in time that grows with its length only", () => {
  for (const unit of ["[a](", "**a ", "~~a ", "__a "]) {
    const line = unit.repeat(200_000);
    const w = new AnswerWriter("rendered");
    const start = process.hrtime.bigint();
    const out = w.push(line + "\n") + w.end();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.equal(out, line + "\n", unit);
    // Quadratic, this took minutes; linear, it takes milliseconds.
    assert.ok(ms < 20_000, `${unit}: ${ms} ms`);
  }
});
