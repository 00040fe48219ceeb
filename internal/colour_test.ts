import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { colourWanted, paintMarks, paintedStream } from "./colour.js";

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

test("a painted stream colours strings and passes bytes through untouched", async () => {
  const got: (string | Buffer)[] = [];
  const out = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, done) {
      got.push(chunk);
      done();
    },
  });
  const s = paintedStream(out);
  s.write("✓ done\n");
  const bytes = Buffer.from("✗ raw", "utf8").subarray(0, 2);
  s.write(bytes);
  await new Promise<void>((r) => s.end(r));
  assert.equal(got[0], "\x1b[32m✓\x1b[39m done\n");
  assert.deepEqual(got[1], bytes);
});
