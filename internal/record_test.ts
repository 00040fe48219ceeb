import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readRecording } from "./frames.js";
import { recorder, recording } from "./record.js";
import type { Link, LinkHandlers } from "./ws.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-record-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const file = () => path.join(tmp, `r${++n}.jsonl`);

function fakeLink() {
  const sent: Buffer[] = [];
  let handlers: LinkHandlers | null = null;
  const link: Link = {
    sendBytes: (data) => void sent.push(data),
    sendControl: () => {},
    close: () => {},
    pause: () => {},
    resume: () => {},
    ping: () => {},
    terminate: () => {},
    bufferedAmount: 0,
    isOpen: true,
    listen: (h) => void (handlers = h),
  };
  return { link, sent, server: () => handlers! };
}

test("an existing recording is refused, and replaced only with overwrite, private", () => {
  const f = file();
  fs.writeFileSync(f, "someone's file\n", { mode: 0o644 });
  fs.chmodSync(f, 0o644);
  assert.throws(() => recording(fakeLink().link, f, null), { message: `LAP_RECORD_FRAMES: cannot write ${f}: the file exists (--overwrite replaces it)` });
  assert.equal(fs.readFileSync(f, "utf8"), "someone's file\n");
  recording(fakeLink().link, f, null, { overwrite: true }).close(1000, "");
  assert.equal(readRecording(f).events.length, 1);
  assert.equal(fs.statSync(f).mode & 0o777, 0o600);
});

test("a symbolic link is never followed, so a predictable path cannot aim the recording at another file", () => {
  const victim = file();
  fs.writeFileSync(victim, "export PATH=...\n");
  const f = file();
  fs.symlinkSync(victim, f);
  for (const overwrite of [false, true]) assert.throws(() => recording(fakeLink().link, f, null, { overwrite }), /LAP_RECORD_FRAMES: cannot write/);
  assert.equal(fs.readFileSync(victim, "utf8"), "export PATH=...\n");
});

test("reconnects are recorded to numbered files, each refused when it exists", () => {
  const f = file();
  fs.writeFileSync(f.replace(/\.jsonl$/, "-2.jsonl"), "");
  const next = recorder(f);
  next(fakeLink().link, null).close(1000, "");
  assert.throws(() => next(fakeLink().link, null), /exists/);
});

test("a recording that fails to write is reported once and stops; the session goes on", () => {
  if (!fs.existsSync("/dev/full")) return;
  const failures: string[] = [];
  const fake = fakeLink();
  const rec = recording(fake.link, "/dev/full", null, { overwrite: true, onFailure: (why) => failures.push(why) });
  const got: Buffer[] = [];
  rec.listen({ message: (d) => void got.push(d), pong: () => {}, close: () => {} });
  rec.sendBytes(Buffer.from("ls\r"));
  fake.server().message(Buffer.from("output"));
  fake.server().message(Buffer.from("more"));
  fake.server().close(1005, "");
  assert.equal(failures.length, 1);
  assert.match(failures[0]!, /^\/dev\/full: .*(ENOSPC|no space)/i);
  assert.deepEqual(fake.sent.map(String), ["ls\r"]);
  assert.deepEqual(got.map(String), ["output", "more"]);
});
