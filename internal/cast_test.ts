import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { WebSocketServer } from "ws";
import { checkCastPath, openCast } from "./cast.js";
import { LapError } from "./errors.js";
import { bridge } from "./tty.js";
import { dial } from "./ws.js";
import { memoryTerminal } from "./testutil/testterm.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-cast-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let files = 0;
const castFile = () => path.join(tmp, `s${++files}.cast`);

function readCast(file: string): { header: Record<string, unknown>; events: [number, string, string][] } {
  const lines = fs.readFileSync(file, "utf8").trimEnd().split("\n");
  return { header: JSON.parse(lines[0]), events: lines.slice(1).map((l) => JSON.parse(l)) };
}

// A clock the test moves by hand.
function clock(startMs = 1000) {
  let t = startMs;
  return { now: () => t, tick: (ms: number) => void (t += ms) };
}

test("a recording is an asciicast v2 header, then timed output and resize events", async () => {
  const file = castFile();
  const c = clock();
  const cast = openCast(file, { input: false, term: "xterm-256color", now: c.now, wallClock: () => 1_700_000_000_500 });
  cast.begin({ cols: 100, rows: 30 });
  c.tick(250);
  cast.output(Buffer.from("$ "));
  c.tick(1000.0004);
  cast.resize({ cols: 100, rows: 30 });
  cast.resize({ cols: 120, rows: 40 });
  cast.output(Buffer.from("ls\r\n\x1b[1mbold\x1b[0m"));
  cast.input(Buffer.from("ls\r"));
  assert.equal(await cast.close(), null);
  const { header, events } = readCast(file);
  assert.deepEqual(header, { version: 2, width: 100, height: 30, timestamp: 1_700_000_000, env: { TERM: "xterm-256color" } });
  assert.deepEqual(events, [
    [0.25, "o", "$ "],
    [1.25, "r", "120x40"],
    [1.25, "o", "ls\r\n\x1b[1mbold\x1b[0m"],
  ]);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test("a character split across frames is written whole", async () => {
  const file = castFile();
  const cast = openCast(file, { input: true, now: clock().now });
  cast.begin(null);
  const text = Buffer.from("é€😀");
  for (const byte of text) cast.output(Buffer.from([byte]));
  cast.input(Buffer.from([0xc3]));
  cast.input(Buffer.from([0xa9]));
  await cast.close();
  const { header, events } = readCast(file);
  assert.deepEqual([header.width, header.height, header.env], [80, 24, {}]);
  assert.equal(events.filter((e) => e[1] === "o").map((e) => e[2]).join(""), "é€😀");
  assert.ok(events.every((e) => !e[2].includes("\ufffd")));
  assert.deepEqual(events.filter((e) => e[1] === "i").map((e) => e[2]), ["é"]);
});

test("input is recorded only when asked for", async () => {
  const file = castFile();
  const cast = openCast(file, { input: false, now: clock().now });
  cast.begin({ cols: 80, rows: 24 });
  cast.input(Buffer.from("secret\r"));
  await cast.close();
  assert.equal(readCast(file).events.length, 0);
});

test("an existing file is refused, and with overwrite emptied and made private", async () => {
  const file = castFile();
  fs.writeFileSync(file, "old contents that are longer than the new ones\n".repeat(100), { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  assert.throws(() => checkCastPath(file), { message: `the recording ${file} exists` });
  assert.throws(() => openCast(file, { input: false }), { message: `the recording ${file} exists` });
  checkCastPath(file, true);
  const cast = openCast(file, { input: false, overwrite: true });
  cast.begin({ cols: 80, rows: 24 });
  await cast.close();
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(file, "utf8").split("\n").length, 2);
});

test("events before begin and after a write failure are dropped, and close says why it failed", async () => {
  const file = castFile();
  const cast = openCast(file, { input: false });
  cast.output(Buffer.from("too early"));
  cast.begin({ cols: 80, rows: 24 });
  cast.begin({ cols: 1, rows: 1 });
  assert.equal(await cast.close(), null);
  assert.equal(readCast(file).events.length, 0);
  assert.equal(readCast(file).header.width, 80);

  // /dev/full accepts the open and fails every write with ENOSPC.
  if (fs.existsSync("/dev/full")) {
    const full = openCast("/dev/full", { input: false, overwrite: true });
    full.begin({ cols: 80, rows: 24 });
    full.output(Buffer.from("x"));
    assert.match((await full.close()) ?? "", /ENOSPC|no space/i);
  }
});

test("a path that cannot be written is refused before anything starts", () => {
  for (const [file, why] of [
    [path.join(tmp, "no", "such", "dir", "s.cast"), "no such directory"],
    [path.join(tmp, "no-dir-either", "s.cast"), "no such directory"],
  ]) {
    assert.throws(() => checkCastPath(file), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.equal(err.message, `cannot write the recording ${file}: ${why}`);
      return true;
    });
    assert.throws(() => openCast(file, { input: false }), /cannot write the recording/);
  }
  checkCastPath(castFile());
  const existing = castFile();
  fs.writeFileSync(existing, "");
  checkCastPath(existing, true);
  if (process.getuid?.() !== 0) {
    fs.chmodSync(existing, 0o400);
    assert.throws(() => checkCastPath(existing, true), /permission denied/);
  }
});

test("a symbolic link at the path is never written through, even with overwrite", () => {
  const victim = castFile();
  fs.writeFileSync(victim, "the victim's own file\n");
  const link = castFile();
  fs.symlinkSync(victim, link);
  assert.throws(() => openCast(link, { input: false }), /exists/);
  assert.throws(() => openCast(link, { input: false, overwrite: true }), { message: `the recording ${link} is a symbolic link: lap does not write through one` });
  assert.throws(() => checkCastPath(link, true), /symbolic link/, "said before any session is started");
  assert.equal(fs.readFileSync(victim, "utf8"), "the victim's own file\n");
  // A dangling link, where O_CREAT alone would create the target.
  const dangling = castFile();
  fs.symlinkSync(path.join(tmp, "target-of-dangling"), dangling);
  assert.throws(() => openCast(dangling, { input: false, overwrite: true }), /symbolic link/);
  assert.equal(fs.existsSync(path.join(tmp, "target-of-dangling")), false);
});

test("a new recording is private whatever the umask", async () => {
  const old = process.umask(0o022);
  try {
    const file = castFile();
    await openCast(file, { input: false }).close();
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  } finally {
    process.umask(old);
  }
});

test("the bridge feeds a recording every output byte and each resize it sends", async () => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(wss, "listening");
  wss.on("connection", (ws) => {
    ws.on("message", (data: Buffer, binary) => {
      if (binary) ws.send(Buffer.concat([Buffer.from("got:"), data]));
    });
    // Half of a two-byte character in each of two frames.
    ws.send(Buffer.from([0xc3]));
    ws.send(Buffer.from([0xa9]), { binary: true });
  });
  const file = castFile();
  const cast = openCast(file, { input: true });
  const m = memoryTerminal({ size: { cols: 90, rows: 20 } });
  cast.begin(m.term.size());
  const link = await dial(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/tty`);
  const done = bridge(m.term, link, {
    timings: { resizeSettleMs: 5 },
    onOutput: cast.output,
    onResize: cast.resize,
    detach: (chunk) => {
      const r = chunk.length === 1 && chunk[0] === 4 ? { send: Buffer.alloc(0), detach: true } : { send: chunk, detach: false };
      cast.input(r.send);
      return r;
    },
  });
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      assert.ok(Date.now() < deadline, "timed out");
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => m.output().toString().includes("é"));
  m.resize(132, 43);
  m.input.write("hi");
  await until(() => m.output().toString().includes("got:hi"));
  m.input.write(Buffer.from([4]));
  await done;
  await cast.close();
  wss.close();
  const { header, events } = readCast(file);
  assert.deepEqual([header.width, header.height], [90, 20]);
  assert.equal(events.filter((e) => e[1] === "o").map((e) => e[2]).join(""), "égot:hi");
  assert.deepEqual(events.filter((e) => e[1] === "r").map((e) => e[2]), ["132x43"]);
  assert.deepEqual(events.filter((e) => e[1] === "i").map((e) => e[2]), ["hi"]);
  for (let i = 1; i < events.length; i++) assert.ok(events[i][0] >= events[i - 1][0], "times never go back");
});

test("a FIFO at the path is refused, before anything starts and when opened, never waited on", () => {
  const fifo = castFile();
  execFileSync("mkfifo", [fifo]);
  const refused = { message: `the recording ${fifo} is not a regular file` };
  assert.throws(() => checkCastPath(fifo, true), refused);
  // No reader: open(2) would wait for one for as long as it takes.
  assert.throws(() => openCast(fifo, { input: false, overwrite: true }), refused);
  // A reader: the open succeeds, and the file is still refused.
  const reader = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    assert.throws(() => openCast(fifo, { input: false, overwrite: true }), refused);
  } finally {
    fs.closeSync(reader);
  }
  checkCastPath("/dev/null", true);
});
