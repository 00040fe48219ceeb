import { test, after } from "node:test";
import http from "node:http";
import assert from "node:assert/strict";
import { Api, Unsupported } from "./api.js";
import { readEvents } from "./events.js";
import { LapError } from "./errors.js";
import { EventPrinter, clock, entryLine, logs, restart } from "./lifecycle.js";
import { nodeFetch } from "./nodefetch.js";
import { startPlatform, type Platform, type PlatformOptions } from "./platform/platform.js";
import { memoryIO } from "./testutil/testio.js";
import { memoryTerminal } from "./testutil/testterm.js";

// Every kind of byte a hostile server could use to take over a terminal.
const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u2028\x7f";
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

const started: Platform[] = [];
after(async () => {
  for (const p of started) await p.close();
});

async function platform(opts: PlatformOptions = {}): Promise<{ p: Platform; agentId: string }> {
  const p = await startPlatform({ bringUpMs: 0, ...opts });
  started.push(p);
  const agent = p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
  return { p, agentId: agent.id };
}

function io(p: Platform, extra: Parameters<typeof memoryIO>[0] = {}) {
  return memoryIO({ env: { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key }, fetch: nodeFetch as typeof fetch, ...extra });
}

async function newSession(p: Platform, agentId: string): Promise<string> {
  const api = new Api(p.url, p.key, nodeFetch as typeof fetch);
  const s = await api.createSession(agentId, "t");
  for (let i = 0; i < 100 && p.sessions.get(s.id)!.status === "creating"; i++) await new Promise((r) => setTimeout(r, 10));
  return s.id;
}

// onTerminal is a new ready session and an IO whose terminal raises signals.
async function onTerminal(p: Platform, agentId: string) {
  const id = await newSession(p, agentId);
  const term = memoryTerminal();
  return { id, term, m: io(p, { terminal: () => term.term }) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("lap logs prints the timeline of a session one entry a line, by session id or agent name", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  await new Api(p.url, p.key, nodeFetch as typeof fetch).sendTurn(id, { text: "hello" });
  for (const target of [id, "demo", id.slice(0, 8)]) {
    const m = io(p);
    assert.equal(await logs(m.io, { target }), 0);
    const lines = m.stdout().trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.split(/\s+/)[1]), ["created", "user", "response"], target);
    assert.match(lines[2], /^\d\d:\d\d:\d\d  response   Response — echo: hello  \(0\.0s · 2 tok\)$/);
    assert.match(m.stderr(), new RegExp(`session ${id} — ready`));
  }
});

test("a dead session's log ends with an ended entry carrying the failure reason", async () => {
  const { p, agentId } = await platform({ idleTimeoutMs: 1 });
  const id = await newSession(p, agentId);
  await new Promise((r) => setTimeout(r, 5));
  p.reap();
  const m = io(p);
  assert.equal(await logs(m.io, { target: id }), 0);
  assert.match(m.stdout().trimEnd().split("\n").pop()!, /ended\s+Session dead — idle timeout/);
  assert.match(m.stderr(), /— dead: idle timeout/);
});

test("a failed session's log ends with the reason bring-up failed", async () => {
  const { p, agentId } = await platform({ failReason: "ImagePullBackOff" });
  const id = (await new Api(p.url, p.key, nodeFetch as typeof fetch).createSession(agentId, "t")).id;
  const m = io(p);
  assert.equal(await logs(m.io, { target: "demo" }), 0);
  assert.match(m.stdout(), /ended\s+Session failed — ImagePullBackOff/);
  assert.ok(m.stderr().includes(id));
});

test("lap logs --json prints the entries as the platform gave them, with terminal controls escaped", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  const entry = { id: "e1", at: "2026-01-01T00:00:00Z", kind: "tool", title: HOSTILE, detail: HOSTILE, meta: HOSTILE, status: HOSTILE, extra: 1 };
  p.timelines.set(id, [entry as never]);
  const m = io(p);
  assert.equal(await logs(m.io, { target: id, json: true }), 0);
  assert.doesNotMatch(m.stdout(), RAW_CONTROLS);
  assert.deepEqual(JSON.parse(m.stdout()), [entry]);
});

test("hostile strings in every printed field of a log reach the terminal as visible text", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  p.timelines.set(id, [{ id: HOSTILE, at: HOSTILE, kind: HOSTILE, title: HOSTILE, detail: HOSTILE, meta: HOSTILE, status: HOSTILE }]);
  p.sessions.get(id)!.status = "failed";
  p.sessions.get(id)!.failure_reason = HOSTILE;
  const m = io(p, { stdoutIsTTY: true, terminal: () => memoryTerminal({ size: { cols: 80, rows: 24 } }).term });
  assert.equal(await logs(m.io, { target: id }), 0);
  assert.doesNotMatch(m.stdout() + m.stderr(), RAW_CONTROLS);
  assert.match(m.stdout(), /\\x1b\]0;pwned\\x07/);
  for (const line of m.stdout().trimEnd().split("\n")) assert.ok([...line].length <= 80, line);
});

test("a log answer of the wrong shape is one clear error, not a crash", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  p.timelines.set(id, ["not an entry" as never]);
  await assert.rejects(logs(io(p).io, { target: id }), (err: unknown) => err instanceof LapError && /log answer has an unexpected shape/.test(err.message));
});

test("on a platform without the log route, lap logs says in one line that it does not offer it", async () => {
  for (const mode of ["404", "html"] as const) {
    const { p, agentId } = await platform({ olderPlatform: mode });
    const id = await newSession(p, agentId);
    await assert.rejects(logs(io(p).io, { target: id }), (err: unknown) => {
      assert.ok(err instanceof Unsupported, String(err));
      assert.match(err.message, /does not offer session logs/);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
  }
});

test("an unknown session or an agent without sessions is said plainly", async () => {
  const { p } = await platform();
  await assert.rejects(logs(io(p).io, { target: "demo" }), /agent demo has no sessions/);
  await assert.rejects(logs(io(p).io, { target: "nosuch" }), /no agent named 'nosuch'/);
  await assert.rejects(logs(io(p).io, { target: "00000000-0000-4000-8000-000000000000" }), /no agent or session with id/);
});

test("the entry line shows local time, and the date for other days", () => {
  const at = new Date(2026, 0, 2, 3, 4, 5);
  assert.equal(clock(at.toISOString(), new Date(2026, 0, 2, 12)), "03:04:05");
  assert.equal(clock(at.toISOString(), new Date(2026, 0, 3, 12)), "2026-01-02 03:04:05");
  assert.equal(clock(42), "42      ");
  const line = entryLine({ at: at.toISOString(), kind: "tool", title: "Read", detail: "x".repeat(500), meta: "1.2s" }, 60);
  assert.equal([...line].length, 60);
  assert.match(line, /…  \(1\.2s\)$/);
});

test("server-sent events are read whole across any split, and lines that are not JSON are skipped", async () => {
  const wire = 'data: {"a":1}\n\ndata: nope\n\n: comment\ndata: {"b":\ndata: 2}\r\n\r\n';
  for (const size of [1, 3, wire.length]) {
    async function* chunks() {
      for (let i = 0; i < wire.length; i += size) yield Buffer.from(wire.slice(i, i + size));
    }
    const got: unknown[] = [];
    for await (const ev of readEvents(chunks())) got.push(ev);
    assert.deepEqual(got, [{ a: 1 }, { b: 2 }], `split ${size}`);
  }
});

test("lap logs -f streams text and tool lines, reconnects through the cut and heartbeats, and Ctrl-C ends it with 0", async () => {
  const { p, agentId } = await platform({ eventsCutMs: 150, heartbeatMs: 20 });
  const { id, term, m } = await onTerminal(p, agentId);
  const done = logs(m.io, { target: id, follow: true, reconnectMs: 10 });
  await waitFor(() => p.eventStreams(id) >= 1, "the first stream");
  await new Api(p.url, p.key, nodeFetch as typeof fetch).sendTurn(id, { text: "hi" + HOSTILE });
  await waitFor(() => m.stdout().includes("echo: hi"), "the streamed text");
  await waitFor(() => p.eventStreams(id) >= 3, "two reconnects after the cut");
  p.emitEvent(id, { type: "message.part.updated", properties: { part: { id: "t1", messageID: "m9", type: "tool", tool: HOSTILE, callID: "c1", state: { status: "error", error: HOSTILE } } } });
  p.emitEvent(id, { type: "session.error", properties: { message: HOSTILE } });
  await waitFor(() => /session error/.test(m.stderr()), "the error line");
  term.signal("SIGINT");
  assert.equal(await done, 0);
  assert.match(m.stdout(), /echo: hi\\x1b\]0;pwned/);
  assert.match(m.stderr(), /· tool \\x1b.* error: \\x1b/);
  assert.doesNotMatch(m.stdout() + m.stderr(), RAW_CONTROLS);
  assert.doesNotMatch(m.stderr(), /stream timeout/);
});

test("lap logs -f reopens a stream that dropped, and SIGTERM ends it with 143", async () => {
  const { p, agentId } = await platform({ heartbeatMs: 20 });
  const { id, term, m } = await onTerminal(p, agentId);
  const done = logs(m.io, { target: id, follow: true, reconnectMs: 10 });
  await waitFor(() => p.eventStreams(id) >= 1, "the first stream");
  p.dropEventStreams(id);
  await waitFor(() => p.eventStreams(id) >= 2, "the stream reopened");
  p.emitEvent(id, { type: "message.part.delta", properties: { messageID: "m1", partID: "p1", field: "text", delta: "after the drop" } });
  await waitFor(() => m.stdout().includes("after the drop"), "text from the new stream");
  term.signal("SIGTERM");
  assert.equal(await done, 143);
  assert.doesNotMatch(m.stderr(), /✗/);
});

test("lap logs -f stops with one line after streams that end with nothing in them, five in a row", async () => {
  const { p, agentId } = await platform({ eventsEmpty: true });
  const id = await newSession(p, agentId);
  const m = io(p);
  await assert.rejects(logs(m.io, { target: id, follow: true, reconnectMs: 10 }), /event stream ended 5 times in a row with nothing in it; stopped following/);
  assert.equal(p.eventStreams(id), 5);
});

test("lap logs -f of a session that stays creating gives up after --timeout, naming the phase last seen", { timeout: 10_000 }, async () => {
  const { p, agentId } = await platform({ bringUpMs: 600_000 });
  const s = await new Api(p.url, p.key, nodeFetch as typeof fetch).createSession(agentId, "t");
  const m = io(p);
  const started = Date.now();
  await assert.rejects(logs(m.io, { target: s.id, follow: true, reconnectMs: 10, timeoutMs: 1_000 }), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `session ${s.id} not ready after 1s (last seen: ${p.sessions.get(s.id)!.phase} (${p.sessions.get(s.id)!.phase_detail}))`);
    assert.equal(err.hint, `cold starts can take minutes: wait longer with --timeout, or follow it later: lap logs -f ${s.id}`);
    return true;
  });
  assert.ok(Date.now() - started < 5_000);
  assert.equal(p.sessions.get(s.id)!.status, "creating");
});

test("the event printer remembers a bounded amount however long the stream", () => {
  const m = memoryIO();
  const printer = new EventPrinter(m.io);
  const delta = (part: string, text: string) => ({ type: "harness_event", event: { type: "message.part.delta", properties: { messageID: "m", partID: part, field: "text", delta: text } } });
  for (let i = 0; i < 3000; i++) {
    printer.event({ type: "harness_event", event: { type: "message.updated", properties: { info: { id: `u${i}`, role: "user" } } } });
    printer.event(delta(`p${i}`, "x"));
  }
  for (let i = 0; i < 1000; i++) printer.event(delta("long", "y".repeat(1000)));
  const held = printer as unknown as Record<string, Map<string, unknown>>;
  for (const field of ["userMessages", "printed", "toolStates"]) assert.ok(held[field].size <= 1000, `${field}: ${held[field].size}`);
  // A whole part sent after its deltas adds only what they missed.
  printer.event({ type: "harness_event", event: { type: "message.part.updated", properties: { part: { id: "long", messageID: "m", type: "text", text: "y".repeat(1_000_000) + "!" } } } });
  assert.ok(m.stdout().endsWith("y!"));
  assert.equal(m.stdout().length, 3000 + 1_000_000 + 1);
});

test("following stops with 0 when the session is reaped", async () => {
  const { p, agentId } = await platform({ heartbeatMs: 20 });
  const id = await newSession(p, agentId);
  const m = io(p);
  const done = logs(m.io, { target: id, follow: true, reconnectMs: 10 });
  await waitFor(() => p.eventStreams(id) >= 1, "the stream");
  p.sessions.get(id)!.idle_timeout_ms = 0;
  p.sessions.get(id)!.last_seen_at = new Date(Date.now() - 1000).toISOString();
  p.reap();
  assert.equal(await done, 0);
  assert.match(m.stderr(), /session .* dead: idle timeout/);
});

test("lap restart --yes brings a dead session back with a new sandbox and says how to attach", async () => {
  const { p, agentId } = await platform({ restartMs: 50 });
  const id = await newSession(p, agentId);
  const before = { ...p.sessions.get(id)! };
  p.sessions.get(id)!.status = "dead";
  p.sessions.get(id)!.failure_reason = "idle timeout";
  const m = io(p);
  assert.equal(await restart(m.io, { session: id, yes: true, timeoutMs: 10_000 }), 0);
  const after = p.sessions.get(id)!;
  assert.equal(after.status, "ready");
  assert.notEqual(after.harness_session_id, before.harness_session_id);
  assert.notEqual(after.tty_token, before.tty_token);
  assert.match(m.stderr(), /files and processes of the old sandbox are gone/);
  assert.match(m.stderr(), new RegExp(`✓ session ${id} restarted: ready\\n  attach: lap attach ${id}`));
  const log = await new Api(p.url, p.key, nodeFetch as typeof fetch).sessionLog(id);
  assert.equal(log[log.length - 1].kind, "recovered");
});

test("lap restart asks on a terminal and only y restarts; elsewhere it needs --yes", async () => {
  const { p, agentId } = await platform({ restartMs: 10 });
  const id = await newSession(p, agentId);
  p.sessions.get(id)!.status = "dead";
  const no = io(p, { stdinIsTTY: true });
  no.stdin.end("n\n");
  assert.equal(await restart(no.io, { session: id, timeoutMs: 10_000 }), 0);
  assert.match(no.stderr(), /\[y\/N\][\s\S]*not restarted/);
  assert.equal(p.sessions.get(id)!.status, "dead");
  const yes = io(p, { stdinIsTTY: true, stderrIsTTY: true });
  yes.stdin.end("y\n");
  assert.equal(await restart(yes.io, { session: id, timeoutMs: 10_000, tickMs: 5 }), 0);
  assert.match(yes.stderr(), /\r\x1b\[K· restarting… \d+s/);
  assert.equal(p.sessions.get(id)!.status, "ready");
  await assert.rejects(restart(io(p).io, { session: id, timeoutMs: 1000 }), (err: unknown) => err instanceof LapError && err.code === 2 && /--yes/.test(err.hint));
});

test("lap restart of a session still being created gets its own line (409)", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  p.sessions.get(id)!.status = "creating";
  await assert.rejects(restart(io(p).io, { session: id, yes: true, timeoutMs: 10_000 }),
    (err: unknown) => err instanceof LapError && err.message === `session ${id} is still being created: nothing to restart`);
});

test("a failed restart says the platform's reason (502) and leaves the session failed", async () => {
  const { p, agentId } = await platform({ restartMs: 10, restartFailReason: "no node" + HOSTILE });
  const id = await newSession(p, agentId);
  await assert.rejects(restart(io(p).io, { session: id, yes: true, timeoutMs: 10_000 }), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.match(err.message, /^session restart failed: no node\\x1b/);
    assert.doesNotMatch(err.message, RAW_CONTROLS);
    return true;
  });
  assert.equal(p.sessions.get(id)!.status, "failed");
});

test("lap restart gives up after --timeout and says the platform may still be working", async () => {
  const { p, agentId } = await platform({ restartMs: 5000 });
  const id = await newSession(p, agentId);
  await assert.rejects(restart(io(p).io, { session: id, yes: true, timeoutMs: 100 }), /no answer after 100ms: the platform may still be restarting/);
});

test("Ctrl-C while a restart is awaited stops waiting with 130", async () => {
  const { p, agentId } = await platform({ restartMs: 5000 });
  const { id, term, m } = await onTerminal(p, agentId);
  const done = restart(m.io, { session: id, yes: true, timeoutMs: 60_000 });
  await waitFor(() => p.sessions.get(id)!.status === "creating", "the restart to begin");
  term.signal("SIGINT");
  assert.equal(await done, 130);
  assert.match(m.stderr(), /stopped waiting/);
});

test("on a platform without restart, lap restart says it does not offer it", async () => {
  const { p, agentId } = await platform({ olderPlatform: "404" });
  const id = await newSession(p, agentId);
  await assert.rejects(restart(io(p).io, { session: id, yes: true, timeoutMs: 10_000 }), /does not offer restarting sessions/);
});

test("malformed answers to diagnose, restart and events are one-line errors, and an older platform's events are Unsupported", async () => {
  const { p, agentId } = await platform();
  const id = await newSession(p, agentId);
  const api = new Api(p.url, p.key, nodeFetch as typeof fetch);
  p.diagnoses.set(id, [1, 2]);
  await assert.rejects(api.diagnose(id), /diagnosis answer has an unexpected shape/);
  await assert.rejects(api.diagnose("nope"), (err: unknown) => err instanceof LapError && !(err instanceof Unsupported) && /404 session nope not found/.test(err.message));

  const odd = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(req.url!.endsWith("/events") ? '{"not":"a stream"}' : req.url!.includes("/broken/") ? '{"cut": "of' : '{"hello":"\\u001b[2J"}');
  });
  await new Promise<void>((r) => odd.listen(0, "127.0.0.1", r));
  after(() => odd.close());
  const oddApi = new Api(`http://127.0.0.1:${(odd.address() as { port: number }).port}`, "k", nodeFetch as typeof fetch);
  await assert.rejects(oddApi.restartSession("s1"), /restarted session answer has an unexpected shape/);
  await assert.rejects(oddApi.sessionLog("s1"), /session log answer has an unexpected shape/);
  await assert.rejects(oddApi.sessionLog("broken"), (err: unknown) => err instanceof LapError && !(err instanceof Unsupported) && /not JSON: \{"cut": "of/.test(err.message),
    "a broken JSON answer is not taken for an older platform's web page");
  const events = oddApi.sessionEvents("s1", new AbortController().signal);
  await assert.rejects(events.next(), (err: unknown) => err instanceof Unsupported);

  const older = await platform({ olderPlatform: "404" });
  const olderId = await newSession(older.p, older.agentId);
  const olderEvents = new Api(older.p.url, older.p.key, nodeFetch as typeof fetch).sessionEvents(olderId, new AbortController().signal);
  await assert.rejects(olderEvents.next(), /does not offer following a session's events \(an older platform\? it answered 404\)/);
});


test("lap logs -f stops at once on a refused key, without trying again", async (t) => {
  let streams = 0;
  const server = http.createServer((req, res) => {
    if (req.url!.endsWith("/events")) {
      streams++;
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"bad key"}');
    } else if (req.url!.endsWith("/log")) res.end("[]");
    else res.end(JSON.stringify({ id: "4f0c2a11-0000-4000-8000-000000000001", agent_id: "a", status: "ready" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const m = memoryIO({ env: { LAP_BASE_URL: `http://127.0.0.1:${(server.address() as { port: number }).port}`, LAP_MASTER_KEY: "k" } });
  await assert.rejects(logs(m.io, { target: "4f0c2a11-0000-4000-8000-000000000001", follow: true, reconnectMs: 10 }), /401/);
  assert.equal(streams, 1);
});
