import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { LapError } from "./errors.js";
import { prompt, type IO } from "./io.js";

function promptIO() {
  const stdin = new PassThrough();
  let err = "";
  const io = { stdin, stderr: { write: (s: string | Buffer) => ((err += s.toString()), true) } } as unknown as IO;
  return { io, stdin, err: () => err };
}

test("a prompt is answered by the line typed", async () => {
  const p = promptIO();
  const asked = prompt(p.io, "Agent platform URL: ", false);
  p.stdin.write("http://x\r");
  assert.equal(await asked, "http://x");
});

test("Ctrl-D before an answer cancels a prompt with one line, as Ctrl-C does, rather than ending lap with nothing said; Ctrl-C's status is 130", async () => {
  for (const [key, code] of [["\x04", 1], ["\x03", 130]] as const) {
    const p = promptIO();
    const asked = prompt(p.io, "Master key: ", true);
    p.stdin.write(key);
    await assert.rejects(asked, (err) => err instanceof LapError && err.message === "login cancelled" && err.code === code, JSON.stringify(key));
  }
});

test("a question holding a server's text is written safe", async () => {
  const p = promptIO();
  const asked = prompt(p.io, "Stop session ab\x1b[2J\u009b5m? [y/N] ", false, "not stopped");
  p.stdin.write("y\r");
  assert.equal(await asked, "y");
  assert.match(p.err(), /Stop session ab\\x1b\[2J\\x9b5m\? \[y\/N\] /);
});
