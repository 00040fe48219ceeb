import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { Socket } from "node:net";
import { Writable } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { bridge, windowSize, type BridgeOptions } from "./tty.js";
import { detachRule, parseDetachKeys } from "./keys.js";
import { dial, type Link } from "./ws.js";
import { memoryTerminal } from "./testutil/testterm.js";

interface Frame {
  binary: boolean;
  data: Buffer;
}

// A harness stand-in on a real socket: it records what the client sends and
// lets each test script the server side.
async function harness(onConnection: (ws: WebSocket, frames: Frame[], n: number) => void, opts: { autoPong?: boolean } = {}) {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", autoPong: opts.autoPong ?? true });
  await once(wss, "listening");
  const connections: Frame[][] = [];
  wss.on("connection", (ws) => {
    const frames: Frame[] = [];
    connections.push(frames);
    ws.on("message", (data: Buffer, isBinary) => frames.push({ binary: isBinary, data: Buffer.from(data) }));
    onConnection(ws, frames, connections.length);
  });
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/tty`;
  return {
    url,
    wss,
    connections,
    dial: (): Promise<Link> => dial(url),
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}

const until = async (cond: () => boolean, what: string, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const keys = (frames: Frame[]) => Buffer.concat(frames.filter((f) => f.binary).map((f) => f.data));
const controls = (frames: Frame[]) => frames.filter((f) => !f.binary).map((f) => JSON.parse(f.data.toString()));
// The rule that ships: the default detach keys.
const ctrlD = detachRule(parseDetachKeys("ctrl-d"));
const fast: BridgeOptions["timings"] = { resizeSettleMs: 5, retryFirstMs: 5, retryMaxMs: 20, retryGiveUpMs: 2000 };

test("sends the window size first, then every keystroke as a binary frame", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal({ size: { cols: 100, rows: 30 } });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  m.input.write("ls\r");
  m.input.write("{not control}");
  await until(() => keys(h.connections[0]).length === 16, "keystrokes");
  m.input.write(Buffer.from([4]));
  assert.deepEqual(await done, { how: "detached", by: "keys" });
  const frames = h.connections[0];
  assert.equal(frames[0].binary, false);
  assert.deepEqual(JSON.parse(frames[0].data.toString()), { type: "resize", cols: 100, rows: 30 });
  assert.equal(keys(frames).toString(), "ls\r{not control}");
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("a lone Ctrl-D detaches with a normal close and is not sent", async () => {
  let closeCode = 0;
  const h = await harness((ws) => ws.on("close", (code) => (closeCode = code)));
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  m.input.write(Buffer.from([4]));
  assert.equal((await done).how, "detached");
  await until(() => closeCode !== 0, "the close");
  assert.equal(closeCode, 1000);
  assert.equal(keys(h.connections[0]).length, 0);
  await h.close();
});

test("a paste that contains 0x04 among other bytes is sent, not a detach", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  m.input.write("a\x04b");
  await until(() => keys(h.connections[0]).length === 3, "the paste");
  m.input.write(Buffer.from([4]));
  assert.equal((await done).how, "detached");
  assert.equal(keys(h.connections[0]).toString(), "a\x04b");
  await h.close();
});

test("every byte the server sent reaches a slow stdout before the bridge ends", async () => {
  const payload = Buffer.alloc(3 << 20);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + (i >> 9)) & 0xff;
  const h = await harness((ws) => {
    for (let off = 0; off < payload.length; off += 65536) ws.send(payload.subarray(off, off + 65536), { binary: off % 131072 === 0 });
    ws.close();
  });
  const m = memoryTerminal({ writeDelayMs: 1, highWaterMark: 64 << 10 });
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  assert.deepEqual(end, { how: "closed", code: 1005, reason: "" });
  const out = m.output();
  assert.equal(out.length, payload.length);
  assert.equal(createHash("sha256").update(out).digest("hex"), createHash("sha256").update(payload).digest("hex"));
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("a close with a code and reason is reported as such", async () => {
  const h = await harness((ws) => ws.close(4000, "bye now"));
  const m = memoryTerminal();
  assert.deepEqual(await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast }), { how: "closed", code: 4000, reason: "bye now" });
  await h.close();
});

test("a burst of window changes sends only the settled size", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal({ size: { cols: 80, rows: 24 } });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, resizeSettleMs: 30 } });
  for (let c = 81; c <= 90; c++) m.resize(c, 40);
  await until(() => controls(h.connections[0]).length === 2, "the settled resize");
  m.resize(90, 40);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(controls(h.connections[0]), [
    { type: "resize", cols: 80, rows: 24 },
    { type: "resize", cols: 90, rows: 40 },
  ]);
  m.input.write(Buffer.from([4]));
  await done;
  await h.close();
});

test("a terminating signal ends the bridge and gives the terminal back", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  m.signal("SIGTERM");
  assert.deepEqual(await done, { how: "signal", signal: "SIGTERM" });
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("with detachOnEof, stdin that is not a terminal is never put in raw mode, and its end detaches", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal({ isTTY: false, size: null });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, detachOnEof: true });
  m.input.end("echo hi\r");
  assert.deepEqual(await done, { how: "detached", by: "eof" });
  assert.deepEqual(m.rawCalls, []);
  await until(() => keys(h.connections[0]).length === 8, "the piped keys");
  assert.equal(keys(h.connections[0]).toString(), "echo hi\r");
  assert.deepEqual(controls(h.connections[0]), []);
  await h.close();
});

test("piped stdin that ends sends end-of-file and keeps printing until the harness closes, as ssh -tt does", async () => {
  const h = await harness((ws) => {
    ws.on("message", (data: Buffer) => {
      // The program finishes its work only once it reads end-of-file.
      if (data.includes(4)) {
        ws.send("line 1\r\n".repeat(1000));
        setTimeout(() => {
          ws.send("done\r\n");
          ws.close();
        }, 20);
      }
    });
  });
  const m = memoryTerminal({ isTTY: false, size: null });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  m.input.end("seq 1 1000; exit\r");
  assert.deepEqual(await done, { how: "closed", code: 1005, reason: "" });
  assert.equal(keys(h.connections[0]).toString(), "seq 1 1000; exit\r\x04");
  assert.equal(m.output().toString(), "line 1\r\n".repeat(1000) + "done\r\n");
  assert.deepEqual(m.rawCalls, []);
  await h.close();
});

test("read-only sends nothing typed and no size, and the detach keys still detach", async () => {
  const h = await harness((ws) => ws.send("screen"));
  const m = memoryTerminal({ size: { cols: 100, rows: 30 } });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, readOnly: true });
  m.input.write("rm -rf /\r");
  m.resize(120, 40);
  await until(() => m.output().toString() === "screen", "the screen");
  // Long enough for a settled resize to have gone out, were it sent.
  await new Promise((r) => setTimeout(r, 50));
  m.input.write(Buffer.from([4]));
  assert.deepEqual(await done, { how: "detached", by: "keys" });
  await until(() => h.wss.clients.size === 0, "the close");
  assert.deepEqual(h.connections[0], []);
  await h.close();
});

test("a suspend gives the terminal back with the program's modes off, and a resume switches them on again, resends the size and has the program redraw", async () => {
  const modesOn = "\x1b[?1049h\x1b[?1000;1006h\x1b[>1u\x1b[?25l";
  const h = await harness((ws) => ws.send(Buffer.from(modesOn)));
  const m = memoryTerminal({ size: { cols: 80, rows: 24 } });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  await until(() => m.output().length === modesOn.length, "the program's modes");
  m.suspend();
  assert.deepEqual(m.rawCalls, [true, false]);
  assert.equal(m.output().subarray(modesOn.length).toString(), "\x1b[?1000l\x1b[?1006l\x1b[?1049l\x1b[<1u\x1b[?25h", "the user's shell gets the terminal as it was");
  m.resize(100, 50);
  const before = m.output().length;
  m.cont();
  assert.deepEqual(m.rawCalls, [true, false, true]);
  assert.equal(m.output().subarray(before).toString(), "\x1b[?1049h\x1b[?1006h\x1b[?1000h\x1b[>1u\x1b[?25l", "the alternate screen first, then the rest");
  await until(() => controls(h.connections[0]).length >= 3, "the size after the resume");
  assert.deepEqual(controls(h.connections[0]).slice(0, 3), [
    { type: "resize", cols: 80, rows: 24 },
    { type: "resize", cols: 101, rows: 50 },
    { type: "resize", cols: 100, rows: 50 },
  ]);
  m.input.write(Buffer.from([4]));
  await done;
  assert.deepEqual(m.rawCalls, [true, false, true, false]);
  assert.ok(m.output().toString().endsWith("\x1b[?1000l\x1b[?1006l\x1b[?1049l\x1b[<1u\x1b[?25h"), "the modes switched on again are tracked, and undone at the detach");
  await h.close();
});

test("a link that opens and drops at once is given up within the budget and reported as flapping", async () => {
  const h = await harness((ws) => ws.terminate());
  const m = memoryTerminal({ size: { cols: 40, rows: 10 } });
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, retryGiveUpMs: 300 }, redial: h.dial });
  assert.equal(end.how, "lost");
  assert.equal(end.how === "lost" && end.flapping, true);
  assert.ok(m.statuses.some((s) => s.includes("keeps dropping")));
  assert.equal(m.statuses.at(-1), "", "the last status is cleared, so the report of the end starts its own line");
  assert.ok(h.connections.length >= 2);
  for (const s of m.statuses) assert.ok(s.length <= 39, `status wider than the window: ${JSON.stringify(s)}`);
  await h.close();
});

test("a frame too big for a terminal ends the session with a clear reason and is not reconnected", async () => {
  const h = await harness((ws) => ws.send(Buffer.alloc(5 << 20, 0x61)));
  const m = memoryTerminal();
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, redial: h.dial });
  assert.equal(end.how, "broken");
  assert.match(end.how === "broken" ? end.error : "", /frame over 4 MiB/);
  assert.equal(h.connections.length, 1);
  assert.equal(m.output().length, 0);
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("with stdout not a terminal, modes are not tracked and nothing is appended to the output", async () => {
  const h = await harness((ws) => {
    ws.send("\x1b[?1049h\x1b[1;31mred");
    ws.close(1000);
  });
  const m = memoryTerminal({ outputIsTTY: false });
  await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  assert.equal(m.output().toString(), "\x1b[?1049h\x1b[1;31mred");
  await h.close();
});

test("modes the program left on are switched off when the link ends", async () => {
  const h = await harness((ws) => {
    ws.send("\x1b[?1049h\x1b[?10");
    ws.send("00h\x1b[?2004h\x1b[?25l hello\x1b[?2004l");
    ws.close(1000);
  });
  const m = memoryTerminal();
  await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  assert.equal(m.output().toString(), "\x1b[?1049h\x1b[?1000h\x1b[?2004h\x1b[?25l hello\x1b[?2004l" + "\x1b[?1000l\x1b[?1049l\x1b[?25h");
  await h.close();
});

test("a dropped link reconnects, repaints, and delivers the keys typed meanwhile", async () => {
  const h = await harness((ws, _frames, n) => {
    if (n === 1) setTimeout(() => ws.terminate(), 20);
    else ws.send("back\r\n");
  });
  const m = memoryTerminal({ size: { cols: 80, rows: 24 } });
  let aliveChecks = 0;
  const done = bridge(m.term, await h.dial(), {
    detach: ctrlD,
    timings: fast,
    redial: h.dial,
    alive: async () => (aliveChecks++, true),
  });
  await until(() => m.statuses.some((s) => s.includes("reconnecting")), "the reconnect status");
  m.input.write("typed while away");
  await until(() => h.connections.length === 2 && keys(h.connections[1]).length === 16, "the held keys");
  assert.deepEqual(controls(h.connections[1]), [
    { type: "resize", cols: 81, rows: 24 },
    { type: "resize", cols: 80, rows: 24 },
  ]);
  assert.equal(keys(h.connections[1]).toString(), "typed while away");
  assert.ok(aliveChecks >= 1);
  assert.equal(m.statuses.at(-1), "");
  m.input.write(Buffer.from([4]));
  assert.equal((await done).how, "detached");
  assert.match(m.output().toString(), /back/);
  await h.close();
});

test("a session that is gone is not reconnected to", async () => {
  const h = await harness((ws) => setTimeout(() => ws.terminate(), 10));
  const m = memoryTerminal();
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, redial: h.dial, alive: async () => "session x is dead" });
  assert.deepEqual(end, { how: "ended", why: "session x is dead" });
  assert.equal(h.connections.length, 1);
  await h.close();
});

test("a link that stays down is given up with 'lost'", async () => {
  const h = await harness((ws) => setTimeout(() => ws.terminate(), 10));
  const m = memoryTerminal();
  const first = await h.dial();
  h.wss.close();
  const end = await bridge(m.term, first, { detach: ctrlD, timings: { ...fast, retryGiveUpMs: 100 }, redial: h.dial });
  assert.equal(end.how, "lost");
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("a peer that stops answering pings is treated as dead", async () => {
  const h = await harness(() => {}, { autoPong: false });
  const m = memoryTerminal();
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, pingMs: 20, pongDeadlineMs: 30 } });
  assert.equal(end.how, "lost");
  await h.close();
});

test("a peer that streams output is alive, though its pongs come late", async () => {
  // Pongs never come; output does, every 10 ms, for over two pong
  // deadlines (each long enough for a busy machine's timer gaps).
  const h = await harness((ws) => {
    let n = 0;
    const timer = setInterval(() => {
      if (++n <= 40) return ws.send(`line ${n}\r\n`);
      clearInterval(timer);
      ws.close(1000);
    }, 10);
  }, { autoPong: false });
  const m = memoryTerminal();
  try {
    const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, pingMs: 20, pongDeadlineMs: 150 } });
    assert.deepEqual(end, { how: "closed", code: 1000, reason: "" });
    assert.match(m.output().toString(), /line 40\r\n/);
  } finally {
    await h.close();
  }
});

test("a 16 MiB paste reaches the server complete and in order", async () => {
  const h = await harness(() => {});
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast });
  const paste = Buffer.alloc(16 << 20);
  for (let i = 0; i < paste.length; i++) paste[i] = (i % 251) + 5;
  for (let off = 0; off < paste.length; off += 1 << 16) m.input.write(paste.subarray(off, off + (1 << 16)));
  await until(() => keys(h.connections[0]).length >= paste.length, "the whole paste", 20000);
  assert.ok(keys(h.connections[0]).equals(paste));
  m.input.write(Buffer.from([4]));
  await done;
  await h.close();
});

test("the window size comes from whichever stream is a terminal, else the controlling terminal", () => {
  const none = () => null;
  assert.deepEqual(windowSize([{ isTTY: false }, { isTTY: true, columns: 120, rows: 40 }], none), { cols: 120, rows: 40 });
  assert.deepEqual(windowSize([{ isTTY: true, columns: 90, rows: 20 }, { isTTY: true, columns: 120, rows: 40 }], none), { cols: 90, rows: 20 });
  // Only stdin a terminal (lap agent 2>log | cat): the controlling terminal answers.
  assert.deepEqual(windowSize([{ isTTY: false }, { isTTY: false }], () => ({ cols: 77, rows: 33 })), { cols: 77, rows: 33 });
  assert.equal(windowSize([{ isTTY: false }], none), null);
});

test("keys typed while the link is closing are held, and sent once the link is back", async () => {
  let socket: Socket | undefined;
  let closeSent = false;
  let replied = false;
  const h = await harness((ws, _frames, n) => {
    if (n !== 1) return;
    // The server side of the first link stops being a WebSocket: the test
    // writes its close frame itself and never ends the connection, so the
    // client stays closing (as behind a proxy that keeps connections).
    socket = (ws as unknown as { _socket: Socket })._socket;
    socket.allowHalfOpen = true;
    socket.removeAllListeners("data");
    socket.removeAllListeners("end");
    socket.on("data", () => (replied ||= closeSent));
  });
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, redial: h.dial });
  try {
    await until(() => socket !== undefined, "the first link");
    // Close 1001, going away: the client answers with its own close frame.
    closeSent = true;
    socket!.write(Buffer.from([0x88, 0x02, 0x03, 0xe9]));
    await until(() => replied, "the client's close frame");
    m.input.write("typed while closing");
    await new Promise((r) => setTimeout(r, 20));
    socket!.destroy();
    await until(() => h.connections.length === 2 && keys(h.connections[1]).length === 19, "the held keys on the new link");
    assert.equal(keys(h.connections[1]).toString(), "typed while closing");
  } finally {
    m.input.write(Buffer.from([4]));
    await done;
    await h.close();
  }
});

test("a link that keeps dropping right after each reconnect is redialled ever more slowly", async () => {
  const opened: number[] = [];
  const h = await harness((ws) => {
    opened.push(Date.now());
    ws.terminate();
  });
  const m = memoryTerminal();
  const timings = { ...fast, retryFirstMs: 20, retryMaxMs: 160, retryGiveUpMs: 2_000 };
  // random 0.5: no jitter, each wait is exactly the backoff.
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings, redial: h.dial, random: () => 0.5 });
  assert.equal(end.how, "lost");
  const gaps = opened.slice(1).map((t, i) => t - opened[i]);
  assert.ok(gaps.length >= 4, `${gaps.length} reconnects`);
  // A timer may fire a millisecond early.
  gaps.forEach((gap, i) => assert.ok(gap >= Math.min(20 * 2 ** i, 160) - 2, `reconnect ${i + 1} came ${gap} ms after the last: ${gaps.join(", ")}`));
  await h.close();
});

test("once a link has stayed up for stableMs, the next loss is retried at the first backoff again", { timeout: 10_000 }, async () => {
  let droppedAt = 0;
  let reopenedAt = 0;
  const h = await harness((ws, _frames, n) => {
    // Five links that drop at once grow the backoff to 320 ms; the sixth
    // stays up past stableMs, then drops.
    if (n <= 5) ws.terminate();
    else if (n === 6) setTimeout(() => ((droppedAt = Date.now()), ws.terminate()), 250);
    else reopenedAt = Date.now();
  });
  const m = memoryTerminal();
  const timings = { ...fast, retryFirstMs: 10, retryMaxMs: 400, retryGiveUpMs: 5000, stableMs: 100 };
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings, redial: h.dial, random: () => 0.5 });
  await until(() => reopenedAt > 0, "the seventh link");
  assert.ok(reopenedAt - droppedAt < 250, `reconnected ${reopenedAt - droppedAt} ms after a stable link dropped`);
  m.input.write(Buffer.from([4]));
  assert.equal((await done).how, "detached");
  await h.close();
});

test("a reconnect whose session check does not answer is given up when the budget runs out", { timeout: 10_000 }, async () => {
  const h = await harness((ws) => setTimeout(() => ws.terminate(), 10));
  const m = memoryTerminal();
  const started = Date.now();
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, retryGiveUpMs: 300 }, redial: h.dial, alive: () => new Promise(() => {}) });
  assert.equal(end.how, "lost");
  assert.ok(Date.now() - started < 1500, `gave up after ${Date.now() - started} ms`);
  assert.deepEqual(m.rawCalls, [true, false]);
  assert.equal(h.connections.length, 1);
  await h.close();
});

test("a reconnect still dialling when the budget runs out ends as lost, and the link it opens later is closed", { timeout: 10_000 }, async () => {
  const closes: number[] = [];
  const h = await harness((ws, _frames, n) => {
    if (n === 1) setTimeout(() => ws.terminate(), 10);
    else ws.on("close", (code) => closes.push(code));
  });
  const m = memoryTerminal();
  const slowDial = async () => {
    await new Promise((r) => setTimeout(r, 1500));
    return h.dial();
  };
  const started = Date.now();
  const end = await bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, retryGiveUpMs: 200 }, redial: slowDial });
  assert.equal(end.how, "lost");
  assert.ok(Date.now() - started < 1000, `gave up after ${Date.now() - started} ms`);
  await until(() => closes.length === 1, "the late link's close");
  assert.deepEqual(closes, [1000]);
  await h.close();
});

test("a terminating signal does not wait long for a stdout whose reader stopped reading, and gives the terminal back", { timeout: 10_000 }, async () => {
  const h = await harness((ws) => ws.send("output nobody reads"));
  const m = memoryTerminal();
  let written = 0;
  // A pipe whose reader is still there but reads no more: no write completes.
  m.term.output = new Writable({ write: () => void written++ });
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: { ...fast, signalDrainMs: 100 } });
  await until(() => written === 1, "the output");
  const started = Date.now();
  m.signal("SIGTERM");
  assert.deepEqual(await done, { how: "signal", signal: "SIGTERM" });
  assert.ok(Date.now() - started < 1000, `ended ${Date.now() - started} ms after the signal`);
  assert.deepEqual(m.rawCalls, [true, false]);
  await h.close();
});

test("when the reader of stdout goes away, the bridge ends with the link closed normally and the terminal given back", async () => {
  let closeCode = 0;
  const h = await harness((ws) => ws.on("close", (code) => (closeCode = code)));
  const m = memoryTerminal();
  const done = bridge(m.term, await h.dial(), { detach: ctrlD, timings: fast, redial: h.dial });
  m.outputGone();
  assert.deepEqual(await done, { how: "outputGone" });
  assert.deepEqual(m.rawCalls, [true, false]);
  await until(() => closeCode !== 0, "the close");
  assert.equal(closeCode, 1000);
  await h.close();
});
