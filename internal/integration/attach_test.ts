// How an attached session ends, through the compiled CLI against the local
// platform: piped input that ends (stdout a pipe or a file), a full disk,
// the program ending, the session ending.

import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { Lap, homes, platforms, screenText } from "../testutil/testcli.js";

const { tmp, loggedIn } = homes("lap-attach-test-");
const platform = platforms();

// Typed once the shell is there (keys sent before the harness's tmux has
// its pane are dropped by tmux, not by lap). stdin ends while the output
// streams, so lap's end-of-file reaches the terminal while seq runs and
// waits there for the next reader: cat, which exits on it, ending the
// program. The last line stays on the screen a second first (the harness's
// tmux sends screens, not every line).
async function pipedInputEnds(l: Lap): Promise<void> {
  await l.waitFor(/\$ /);
  l.type("seq 1 200000; echo END$((6*7)); sleep 1; exec cat\n");
  await l.waitFor(/\n\d{3,}/);
  l.end();
  const r = await l.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(screenText(r.stdout), /END42/);
  assert.match(r.stderr, /\[ws closed\] 1005\n· the program ended;/);
}

test("piped input that ends does not lose the output: end-of-file is sent and everything is printed until the program exits", async () => {
  const p = await platform();
  await pipedInputEnds(new Lap(["demo"], loggedIn(p)));
});

// lap writes a file or /dev/null without a stream (what Node's stream for
// it would do), so this path is a different one from a pipe's.
test("stdout a file: everything is written to it, to the end", async () => {
  const p = await platform();
  await pipedInputEnds(new Lap(["demo"], loggedIn(p), path.join(tmp, "stdout-file")));
});

test("stdout a full disk (/dev/full): one line says so, exit status 1, nothing hangs", { skip: !fs.existsSync("/dev/full") && "no /dev/full here", timeout: 30_000 }, async () => {
  const p = await platform();
  const r = await new Lap(["demo"], loggedIn(p), "/dev/full").exited;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\n✗ cannot write to stdout: ENOSPC: no space left on device, write\n$/);
});

test("when the session itself has ended, lap says so with its status and reason, not a bare close code", async () => {
  const p = await platform();
  const l = new Lap(["demo"], loggedIn(p));
  await l.waitFor(/\$ /);
  const [s] = p.sessions.values();
  s.status = "failed";
  s.failure_reason = "idle timeout";
  l.type("exit\r");
  const r = await l.exited;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`· session ${s.id.slice(0, 8)} ended: idle timeout \\(failed\\)\\n`));
  assert.doesNotMatch(r.stderr, /ws closed|reattach|reconnecting/);
});

test("the reader of stdout going away mid-attach ends lap with 141 (128+SIGPIPE) and a line saying the session keeps running", async () => {
  const p = await platform();
  const l = new Lap(["demo"], loggedIn(p));
  await l.waitFor(/\$ /);
  l.child.stdout!.destroy();
  // The echo of what is typed is the next write to stdout.
  l.type("echo more\r");
  const r = await l.exited;
  assert.equal(r.code, 141, r.stderr);
  const [s] = p.sessions.values();
  assert.match(r.stderr, new RegExp(`\\n✗ the reader of stdout went away; session ${s.id} keeps running; reconnect: lap demo\\n$`));
  assert.equal(s.status, "ready");
});

// stalledReader attaches, then stops reading lap's stdout (the reader is
// still there but reads no more) while the program prints: the pipe fills
// and stays full.
async function stalledReader(): Promise<Lap> {
  const p = await platform();
  const l = new Lap(["demo"], loggedIn(p));
  await l.waitFor(/\$ /);
  l.child.stdout!.pause();
  l.type("head -c 2000000 /dev/urandom | base64\r");
  await new Promise((r) => setTimeout(r, 2000));
  return l;
}

test("SIGTERM ends lap within seconds though the reader of its stdout stopped reading", { timeout: 30_000 }, async () => {
  const l = await stalledReader();
  const signalled = Date.now();
  l.child.kill("SIGTERM");
  const r = await l.exited;
  assert.equal(r.code, 143, r.stderr);
  assert.ok(Date.now() - signalled < 6000, `exited ${Date.now() - signalled} ms after SIGTERM`);
  assert.match(r.stderr, /· SIGTERM — left session \S+ running/);
});

test("a reader of stdout that goes away after SIGTERM does not turn the signal's status into 0", { timeout: 30_000 }, async () => {
  const l = await stalledReader();
  // As when a shell kills `lap demo | tee log` as one job: lap is still
  // handing its output over when the reader goes.
  l.child.kill("SIGTERM");
  setTimeout(() => l.child.stdout!.destroy(), 100);
  const r = await l.exited;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /· SIGTERM — left session \S+ running/);
});
