import assert from "node:assert/strict";
import { execFileSync, spawn as spawnChild } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { WebSocket, type RawData } from "ws";
import { OutputFramer, startPlatform, type Platform, type PlatformOptions, type Session } from "./platform.js";

// Generous because a loaded 2-core machine can take seconds to start tmux and a shell.
const DEADLINE_MS = 10_000;
const SHELL = ["bash", "--norc", "--noprofile", "-i"];
const API = "/api/v1/managed_agents";
// The prompt the platform gives bash (PS1); tmux follows it with cursor moves, not a newline.
const PROMPT = /\$ /;

const platforms: Platform[] = [];
after(async () => {
  await Promise.all(platforms.map((p) => p.close()));
});

async function platform(opts: PlatformOptions = {}): Promise<Platform> {
  const p = await startPlatform({ bringUpMs: 0, command: SHELL, ...opts });
  platforms.push(p);
  return p;
}

async function call(p: Platform, method: string, route: string, body?: unknown, key = p.key): Promise<{ status: number; json: any }> {
  const res = await fetch(p.url + API + route, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

async function readySession(p: Platform, agent = p.addAgent({ name: "shell", supports_tui: true })): Promise<Session> {
  const created = await call(p, "POST", `/agents/${agent.id}/session`, { title: "t" });
  assert.equal(created.status, 200);
  return waitFor(async () => {
    const s = (await call(p, "GET", `/sessions/${created.json.id}`)).json as Session;
    return s.status === "ready" ? s : null;
  }, "session ready");
}

async function waitFor<T>(probe: () => Promise<T | null> | T | null, what: string | (() => string)): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const got = await probe();
    if (got !== null) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A bare /tty client over `ws`, collecting everything the harness sends. */
class Tty {
  output = "";
  frames: { binary: boolean; data: Buffer }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data: RawData, isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      this.frames.push({ binary: isBinary, data: buf });
      this.output += buf.toString("utf8");
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string, token: string | null, cols = 80, rows = 24): Promise<Tty> {
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    const ws = new WebSocket(url, { headers });
    const tty = new Tty(ws);
    return new Promise((resolve, reject) => {
      ws.once("open", () => {
        tty.resize(cols, rows);
        resolve(tty);
      });
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text), { binary: true });
  }

  resize(cols: number, rows: number): void {
    this.ws.send(JSON.stringify({ type: "resize", cols, rows }));
  }

  expect(pattern: RegExp): Promise<RegExpExecArray> {
    return waitFor(() => pattern.exec(this.output), () => `${pattern} in output ${JSON.stringify(this.output.slice(-300))}`);
  }

  async detach(): Promise<void> {
    this.ws.close(1000);
    await this.closed;
  }
}

function openTty(p: Platform, s: Session, cols?: number, rows?: number): Promise<Tty> {
  return Tty.open(s.tty_url!, s.tty_token, cols, rows);
}

function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once("open", () => {
      ws.terminate();
      resolve(101);
    });
    ws.once("error", reject);
  });
}

function processesMatching(text: string): string {
  try {
    return execFileSync("pgrep", ["-af", text], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z";
  } catch {
    return true;
  }
}

describe("HTTP API", () => {
  test("answers 401 unauthorized without the master key or with a wrong one", async () => {
    const p = await platform();
    const res = await fetch(p.url + API + "/agents");
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { error: "unauthorized" });
    const wrong = await call(p, "GET", "/agents", undefined, "sk-wrong");
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.json, { error: "unauthorized" });
  });

  test("lists agents newest first, 50 a page by default, at most 200, with offset", async () => {
    const p = await platform();
    for (let i = 0; i < 230; i++) p.addAgent({ name: `agent-${i}`, harness_id: "codex" });
    const first = await call(p, "GET", "/agents");
    assert.equal(first.json.total, 230);
    assert.equal(first.json.limit, 50);
    assert.equal(first.json.offset, 0);
    assert.equal(first.json.data.length, 50);
    assert.equal(first.json.data[0].name, "agent-229");
    const capped = await call(p, "GET", "/agents?limit=1000");
    assert.equal(capped.json.limit, 200);
    assert.equal(capped.json.data.length, 200);
    const last = await call(p, "GET", "/agents?limit=200&offset=200");
    assert.equal(last.json.data.length, 30);
    assert.equal(last.json.data.at(-1).name, "agent-0");
  });

  test("searches agents case-insensitively over name, id and harness", async () => {
    const p = await platform();
    const a = p.addAgent({ name: "Billing-Bot", harness_id: "claude-code" });
    p.addAgent({ name: "ops", harness_id: "Hermes" });
    p.addAgent({ name: null, harness_id: "opencode", supports_tui: false });
    const names = async (q: string) => (await call(p, "GET", `/agents?search=${q}`)).json.data.map((x: any) => x.name);
    assert.deepEqual(await names("billing"), ["Billing-Bot"]);
    assert.deepEqual(await names("HERMES"), ["ops"]);
    assert.deepEqual(await names(a.id.slice(0, 8).toUpperCase()), ["Billing-Bot"]);
    assert.deepEqual(await names("zzz"), []);
  });

  test("walks the real bring-up phases to ready, then fills the sandbox and tty fields", async () => {
    const p = await platform({ bringUpMs: 500 });
    const agent = p.addAgent({ name: "demo", supports_tui: true });
    const created = await call(p, "POST", `/agents/${agent.id}/session`, { title: "x" });
    assert.equal(created.json.status, "creating");
    assert.equal(created.json.tty_url, null);
    const seen = new Set<string>();
    const ready = await waitFor(async () => {
      const s = (await call(p, "GET", `/sessions/${created.json.id}`)).json as Session;
      if (s.phase) seen.add(s.phase);
      return s.status === "ready" ? s : null;
    }, "ready");
    assert.ok(seen.size >= 3, `saw phases ${[...seen]}`);
    for (const key of ["id", "agent_id", "status", "phase", "phase_detail", "failure_reason", "sandbox_url", "tty_url",
      "tty_token", "supports_tui", "harness_session_id", "created_at", "last_seen_at", "idle_timeout_ms"]) {
      assert.ok(key in ready, key);
    }
    assert.equal(ready.phase, "ready");
    assert.match(ready.tty_url!, /^ws:\/\/127\.0\.0\.1:\d+\/h\/.+\/tty$/);
    assert.equal(ready.sandbox_url + "/tty", ready.tty_url!.replace(/^ws/, "http"));
    const agents = (await call(p, "GET", "/agents")).json.data;
    assert.equal(agents[0].has_active_session, true);
  });

  test("ends bring-up as failed with the failure reason when told to", async () => {
    const p = await platform({ bringUpMs: 100, failReason: "ImagePullBackOff" });
    const agent = p.addAgent({ name: "demo" });
    const created = await call(p, "POST", `/agents/${agent.id}/session`, {});
    const failed = await waitFor(async () => {
      const s = (await call(p, "GET", `/sessions/${created.json.id}`)).json as Session;
      return s.status === "failed" ? s : null;
    }, "failed");
    assert.equal(failed.failure_reason, "ImagePullBackOff");
  });

  test("answers 404 for an unknown agent or session", async () => {
    const p = await platform();
    const res = await call(p, "POST", "/agents/00000000-0000-0000-0000-000000000000/session", {});
    assert.equal(res.status, 404);
    assert.equal(typeof res.json.error, "string");
    assert.equal((await call(p, "GET", "/sessions/nope")).status, 404);
  });

  test("lists an agent's sessions newest first and deletes one", async () => {
    const p = await platform();
    const a = p.addAgent({ name: "a" });
    const b = p.addAgent({ name: "b" });
    const s1 = (await call(p, "POST", `/agents/${a.id}/session`, {})).json;
    await call(p, "POST", `/agents/${b.id}/session`, {});
    const s3 = (await call(p, "POST", `/agents/${a.id}/session`, {})).json;
    const list = (await call(p, "GET", `/sessions?agent_id=${a.id}&limit=10`)).json;
    assert.deepEqual(list.map((s: Session) => s.id), [s3.id, s1.id]);
    const del = await call(p, "DELETE", `/sessions/${s1.id}`);
    assert.deepEqual(del.json, { id: s1.id, status: "deleted" });
    assert.equal((await call(p, "GET", `/sessions/${s1.id}`)).json.status, "deleted");
  });

  test("echoes a message to an agent without a terminal", async () => {
    const p = await platform();
    const agent = p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
    const s = await readySession(p, agent);
    assert.equal(s.supports_tui, false);
    assert.equal(s.tty_url, null);
    const res = await call(p, "POST", `/sessions/${s.id}/message`, { text: "hi" });
    assert.equal(res.json.info.role, "assistant");
    assert.deepEqual(res.json.parts.map((x: { type: string; text: string }) => [x.type, x.text]), [["text", "echo: hi"]]);
  });
});

describe("chat routes", () => {
  // sse reads a whole event stream as its parsed data lines.
  async function sse(p: Platform, method: string, route: string, body?: unknown): Promise<{ status: number; type: string; events: any[] }> {
    const res = await fetch(p.url + API + route, {
      method,
      headers: { authorization: `Bearer ${p.key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => JSON.parse(e.slice(6)));
    return { status: res.status, type: res.headers.get("content-type") ?? "", events };
  }

  test("message_stream answers ready, the turn's harness events and done, as data lines", async () => {
    const p = await platform({ chatScript: () => [{ text: "hi there", cuts: [3] }, { tool: "bash", states: ["running", "completed"] }] });
    const s = await readySession(p, p.addAgent({ name: "sdk", supports_tui: false }));
    const r = await sse(p, "POST", `/sessions/${s.id}/message_stream`, { text: "hello" });
    assert.equal(r.type, "text/event-stream");
    assert.deepEqual(r.events[0], { type: "ready" });
    assert.deepEqual(r.events.at(-1), { type: "done" });
    const harness = r.events.filter((e) => e.type === "harness_event").map((e) => e.event);
    const deltas = harness.filter((e) => e.type === "message.part.delta").map((e) => e.properties.delta);
    assert.deepEqual(deltas, ["hi ", "there"]);
    const tool = harness.filter((e) => e.properties.part?.type === "tool").map((e) => e.properties.part.state.status);
    assert.deepEqual(tool, ["running", "completed"]);
    assert.equal(harness.at(-1).type, "session.idle");
    // The history keeps both messages, the first with the platform's injected text.
    const thread = (await call(p, "GET", `/sessions/${s.id}/messages`)).json;
    assert.deepEqual(thread.map((m: any) => m.info.role), ["user", "assistant"]);
    assert.match(thread[0].parts[0].text, /^\[SYSTEM: Your LAP session_id is .*\nhello$/s);
    assert.equal(thread[1].parts[0].text, "hi there");
  });

  test("attachments are checked as the platform does", async () => {
    const p = await platform();
    const s = await readySession(p, p.addAgent({ name: "sdk", supports_tui: false }));
    const send = (attachments: unknown) => call(p, "POST", `/sessions/${s.id}/message`, { text: "x", attachments });
    assert.equal((await send([{ mime_type: "image/png", base64: "iVBORw0KGgo=" }])).status, 200);
    assert.deepEqual((await send([{ mime_type: "image/svg+xml", base64: "AA==" }])).json, { error: "unsupported attachment type image/svg+xml" });
    assert.equal((await send(Array(11).fill({ mime_type: "image/png", base64: "AA==" }))).status, 400);
    assert.equal((await send([{ mime_type: "image/png", base64: "data:image/png;base64,AA==" }])).status, 400);
    assert.equal((await send([{ mime_type: "image/png", base64: Buffer.alloc(5 * 1024 * 1024 + 1).toString("base64") }])).status, 400);
  });

  test("abort, events and skills answer as the platform does; a session not ready is refused", async () => {
    const p = await platform();
    const s = await readySession(p, p.addAgent({ name: "sdk", supports_tui: false }));
    assert.deepEqual((await call(p, "POST", `/sessions/${s.id}/abort`)).json, { ok: true });
    assert.deepEqual(p.chat.aborts, [s.id]);
    assert.equal((await call(p, "POST", "/sessions/nope/abort")).status, 404);
    assert.equal((await call(p, "POST", "/sessions/nope/message_stream", { text: "x" })).status, 404);
    assert.deepEqual((await call(p, "GET", "/sessions/nope/events")).json, { error: "session not ready, status=missing" });
    const skills = await fetch(p.url + "/api/v1/skills", { headers: { authorization: `Bearer ${p.key}` } });
    assert.deepEqual((await skills.json()).data.map((x: any) => x.name), ["review", "summarise"]);
    const refused = await fetch(p.url + "/api/v1/skills", { headers: { authorization: "Bearer wrong" } });
    assert.equal(refused.status, 401);
  });

  test("an idle events tail carries heartbeats until its cut", async () => {
    const p = await platform({ heartbeatMs: 10, eventsCutMs: 80 });
    const s = await readySession(p, p.addAgent({ name: "sdk", supports_tui: false }));
    const r = await sse(p, "GET", `/sessions/${s.id}/events`);
    assert.ok(r.events.length >= 2);
    assert.deepEqual(r.events.at(-1), { type: "error", message: "stream timeout" });
    assert.deepEqual(r.events[0], { type: "harness_event", event: { type: "server.heartbeat", properties: {} } });
  });
});

describe("harness /tty", () => {
  test("refuses a wrong or missing token with HTTP 401 before spawning anything", async () => {
    const p = await platform();
    const s = await readySession(p);
    assert.equal(await upgradeStatus(s.tty_url!, { authorization: "Bearer wrong" }), 401);
    assert.equal(await upgradeStatus(s.tty_url!, {}), 401);
    assert.equal(p.spawnCount, 0);
    assert.equal(processesMatching(p.tmuxSocket), "");
  });

  test("refuses the advertised token when the platform is told the token is wrong", async () => {
    const p = await platform({ wrongTtyToken: true });
    const s = await readySession(p);
    assert.equal(await upgradeStatus(s.tty_url!, { authorization: `Bearer ${s.tty_token}` }), 401);
  });

  test("echoes typed bytes back as text frames, multi-byte characters intact", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await openTty(p, s);
    await tty.expect(PROMPT);
    tty.type("echo \"A=$((6*7)) héllo 世界 🎉\"\r");
    await tty.expect(/A=42 héllo 世界 🎉/);
    assert.ok(tty.frames.every((f) => !f.binary));
    assert.ok(!tty.output.includes("\ufffd"));
    await tty.detach();
  });

  test("resizes the PTY on a resize frame so tput cols reports the new width", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await openTty(p, s, 80, 24);
    await tty.expect(PROMPT);
    tty.resize(123, 40);
    await waitFor(async () => {
      tty.type("echo \"C=$(tput cols) L=$(tput lines)\"\r");
      await new Promise((r) => setTimeout(r, 300));
      return /C=123 L=39/.exec(tty.output);
    }, "tput cols to follow the resize");
    await tty.detach();
  });

  test("keeps the program running across a detach, and the next connection finds it", async () => {
    const p = await platform();
    const s = await readySession(p);
    const first = await openTty(p, s);
    await first.expect(PROMPT);
    first.type("KEPT=still-here\r");
    await first.expect(/KEPT=still-here\r\n.*\$ /s);
    await first.detach();
    const second = await openTty(p, s, 100, 30);
    second.type("echo \"V=$KEPT C=$(tput cols)\"\r");
    await second.expect(/V=still-here C=100/);
    await second.detach();
    assert.equal(p.spawnCount, 2);
  });

  test("closes the socket without a status code (1005) after a notice when the program exits", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await openTty(p, s);
    await tty.expect(PROMPT);
    tty.type("exit\r");
    const closed = await tty.closed;
    assert.equal(closed.code, 1005);
    assert.match(tty.output, /\[program exited\]/);
  });

  test("closes with 1005 when a test ends the program", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await openTty(p, s);
    await tty.expect(PROMPT);
    await p.endProgram(s.id);
    assert.equal((await tty.closed).code, 1005);
  });

  test("drops sockets like a load balancer (1006) while the program keeps running", async () => {
    const p = await platform();
    const s = await readySession(p);
    const first = await openTty(p, s);
    await first.expect(PROMPT);
    first.type("DROPPED=no; echo set-$((6*7))\r");
    await first.expect(/set-42/);
    p.dropConnections(s.id);
    assert.equal((await first.closed).code, 1006);
    const second = await openTty(p, s);
    second.type("echo \"D=$DROPPED\"\r");
    await second.expect(/D=no/);
    await second.detach();
  });

  test("serves the in-cluster session's tty path through the platform itself", async () => {
    const p = await platform({ inCluster: true });
    const s = await readySession(p);
    assert.match(s.sandbox_url!, /^http:\/\/s-[0-9a-f]{8}\.default\.svc\.cluster\.local:4096$/);
    assert.equal(s.tty_url, `${API}/sessions/${s.id}/tty`);
    const tty = await Tty.open(p.url.replace(/^http/, "ws") + s.tty_url, s.tty_token);
    tty.type("echo \"P=$((1+1))\"\r");
    await tty.expect(/P=2/);
    await tty.detach();
  });

  test("gives no tty_url when told to, and sandbox_url + /tty is the harness", async () => {
    const p = await platform({ ttyUrl: "none" });
    const s = await readySession(p);
    assert.equal(s.tty_url, null);
    const tty = await Tty.open(s.sandbox_url!.replace(/^http/, "ws") + "/tty", s.tty_token);
    tty.type("echo \"N=$((2+3))\"\r");
    await tty.expect(/N=5/);
    await tty.detach();
  });

  test("accepts the token as a query parameter too, like the real harness", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await Tty.open(`${s.tty_url}?token=${s.tty_token}`, null);
    tty.type("echo \"Q=$((3*3))\"\r");
    await tty.expect(/Q=9/);
    await tty.detach();
  });

  test("writes a text frame that is not JSON control to the PTY as keystrokes", async () => {
    const p = await platform();
    const s = await readySession(p);
    const tty = await openTty(p, s);
    tty.ws.send("{ echo \"T=$((4+4))\"; }\r");
    await tty.expect(/T=8/);
    await tty.detach();
  });

  test("records each connection in the frames format when asked", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lap-rec-"));
    try {
      const p = await platform({ recordDir: dir });
      const s = await readySession(p);
      const tty = await openTty(p, s, 90, 20);
      tty.type("echo \"R=$((5+5))\"\r");
      await tty.expect(/R=10/);
      await tty.detach();
      const files = await waitFor(() => (fs.readdirSync(dir).length > 0 ? fs.readdirSync(dir) : null), "recording");
      const lines = fs.readFileSync(path.join(dir, files[0]!), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual({ ...lines[0], note: "" }, { lap_frames: 1, cols: 90, rows: 20, note: "" });
      assert.deepEqual(lines.at(-1), { ...lines.at(-1), from: "client", type: "close", code: 1000 });
      assert.ok(lines.some((l) => l.from === "server" && l.type === "text"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("close", () => {
  test("leaves no PTY host, tmux server or program behind", async () => {
    const p = await startPlatform({ bringUpMs: 0, command: SHELL });
    const s = await readySession(p);
    const tty = await openTty(p, s);
    tty.type("echo \"PID=$$\"\r");
    const pid = Number((await tty.expect(/PID=(\d+)/))[1]);
    assert.notEqual(processesMatching(p.tmuxSocket), "");
    await p.close();
    assert.equal(processesMatching(p.tmuxSocket), "");
    assert.ok(isGone(pid), `program ${pid} still running`);
    assert.equal(fs.existsSync(path.dirname(p.tmuxSocket)), false);
  });
});

describe("OutputFramer", () => {
  test("never splits a multi-byte character across frames, whatever the chunking", () => {
    const text = "héllo 世界 🎉 done";
    const bytes = Buffer.from(text);
    for (let size = 1; size <= 5; size++) {
      const framer = new OutputFramer();
      const out: (string | Buffer)[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...framer.push(bytes.subarray(i, i + size)));
      out.push(...framer.end());
      assert.ok(out.every((f) => typeof f === "string"), `size ${size}`);
      assert.equal(out.join(""), text);
    }
  });

  test("sends bytes that are not UTF-8 as a binary frame instead of replacing them", () => {
    const framer = new OutputFramer();
    const out = framer.push(Buffer.from([0x61, 0xff, 0x62]));
    assert.deepEqual(out, [Buffer.from([0x61, 0xff, 0x62])]);
  });
});

describe("session log, restart, diagnosis, events and reaping", () => {
  test("the log of an unknown session is an empty list, and a failed one ends with the reason", async () => {
    const p = await platform({ failReason: "ErrImagePull" });
    assert.deepEqual(await call(p, "GET", "/sessions/nope/log"), { status: 200, json: [] });
    const agent = p.addAgent({ name: "x", supports_tui: true });
    const { json: s } = await call(p, "POST", `/agents/${agent.id}/session`, {});
    const log = (await call(p, "GET", `/sessions/${s.id}/log`)).json as { kind: string; detail?: string; at: string; id: string; title: string }[];
    assert.deepEqual(log.map((e) => e.kind), ["created", "ended"]);
    assert.equal(log[1].detail, "ErrImagePull");
    assert.ok(log.every((e) => typeof e.id === "string" && !Number.isNaN(Date.parse(e.at)) && typeof e.title === "string"));
  });

  test("restart answers 409 while creating, takes restartMs, then the session with a new harness session id", async () => {
    const p = await platform({ restartMs: 30 });
    const s = await readySession(p);
    p.sessions.get(s.id)!.status = "creating";
    const busy = await call(p, "POST", `/sessions/${s.id}/restart`);
    assert.equal(busy.status, 409);
    p.sessions.get(s.id)!.status = "dead";
    const res = await call(p, "POST", `/sessions/${s.id}/restart`);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, "ready");
    assert.notEqual(res.json.harness_session_id, s.harness_session_id);
    p.options.restartFailReason = "no capacity";
    const failed = await call(p, "POST", `/sessions/${s.id}/restart`);
    assert.deepEqual(failed, { status: 502, json: { error: "session restart failed: no capacity" } });
    assert.equal(p.sessions.get(s.id)!.status, "failed");
  });

  test("diagnosis has every section, {\"exists\": false} for what is gone, and never the tty token", async () => {
    const p = await platform();
    const s = await readySession(p);
    const ready = (await call(p, "GET", `/sessions/${s.id}/diagnose`)).json;
    assert.equal(ready.pod_logs_tail.available, true);
    assert.equal(ready.pod_logs_tail.text.split("\n").length, 200);
    assert.deepEqual(ready.detected_issues, []);
    assert.equal(ready.session.tty_token, undefined);
    p.sessions.get(s.id)!.status = "dead";
    const dead = (await call(p, "GET", `/sessions/${s.id}/diagnose`)).json;
    assert.deepEqual([dead.pod, dead.service, dead.node], [{ exists: false }, { exists: false }, { exists: false }]);
    assert.ok(dead.detected_issues.some((i: { code: string; severity: string }) => i.code === "harness_unreachable" && i.severity === "high"));
    assert.equal((await call(p, "GET", "/sessions/nope/diagnose")).status, 404);
  });

  test("the events stream sends heartbeats, the turn of a message, and is cut with stream timeout", async () => {
    const p = await platform({ heartbeatMs: 20, eventsCutMs: 300 });
    const s = await readySession(p);
    const res = await fetch(`${p.url}${API}/sessions/${s.id}/events`, { headers: { authorization: `Bearer ${p.key}` } });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    await waitFor(() => (p.eventStreams(s.id) === 1 ? true : null), "the stream");
    await call(p, "POST", `/sessions/${s.id}/message`, { text: "hi" });
    const text = await res.text();
    const events = text.split("\n\n").filter(Boolean).map((e) => {
      assert.match(e, /^data: /);
      return JSON.parse(e.slice(6)) as { type: string; event?: { type: string } };
    });
    assert.ok(events.some((e) => e.event?.type === "server.heartbeat"));
    assert.ok(events.some((e) => e.event?.type === "message.part.delta"));
    assert.deepEqual(events[events.length - 1], { type: "error", message: "stream timeout" });
    p.sessions.get(s.id)!.status = "dead";
    assert.deepEqual(await call(p, "GET", `/sessions/${s.id}/events`), { status: 409, json: { error: "session not ready, status=dead" } });
  });

  test("an idle ready session is reaped: dead, failure_reason idle timeout; terminal traffic does not count", async () => {
    const p = await platform({ idleTimeoutMs: 60_000 });
    const s = await readySession(p);
    p.reap();
    assert.equal(p.sessions.get(s.id)!.status, "ready");
    const stale = new Date(Date.now() - 61_000).toISOString();
    p.sessions.get(s.id)!.last_seen_at = stale;
    const tty = await openTty(p, s);
    tty.type("echo typed\r");
    await tty.expect(/typed/);
    assert.equal(p.sessions.get(s.id)!.last_seen_at, stale);
    p.reap();
    assert.equal(p.sessions.get(s.id)!.status, "dead");
    assert.equal(p.sessions.get(s.id)!.failure_reason, "idle timeout");
  });

  test("an older platform answers 404, or a web page, on these routes for every id", async () => {
    for (const mode of ["404", "html"] as const) {
      const p = await platform({ olderPlatform: mode });
      const s = await readySession(p);
      for (const [method, route] of [["GET", "log"], ["POST", "restart"], ["GET", "diagnose"], ["GET", "events"]]) {
        const res = await fetch(`${p.url}${API}/sessions/${s.id}/${route}`, { method, headers: { authorization: `Bearer ${p.key}` } });
        assert.equal(res.status, mode === "404" ? 404 : 200);
        assert.match(res.headers.get("content-type") ?? "", mode === "404" ? /json/ : /html/);
        await res.text();
      }
    }
  });
});

test("killed with SIGKILL, a platform leaves no tmux server or program behind: its watchdog ends them", async () => {
  // The platform runs in a child that opens a terminal (starting the tmux
  // server and a shell), says READY with its tmux socket, and is then killed.
  // platform.js: the compiled module next to this test, or (under tsx) its source.
  const child = spawnChild(process.execPath, [...(__filename.endsWith(".ts") ? ["--import", "tsx"] : []), "-e", `
    const { startPlatform } = require(${JSON.stringify(path.join(__dirname, "platform.js"))});
    const { WebSocket } = require("ws");
    (async () => {
      const p = await startPlatform({ bringUpMs: 0 });
      const agent = p.addAgent({ name: "demo", supports_tui: true });
      const res = await fetch(p.url + "/api/v1/managed_agents/agents/" + agent.id + "/session", { method: "POST", headers: { authorization: "Bearer " + p.key }, body: "{}" });
      const s = await res.json();
      const ws = new WebSocket(s.tty_url, { headers: { authorization: "Bearer " + s.tty_token } });
      ws.once("message", () => console.log("READY " + p.tmuxSocket));
    })();
  `], { stdio: ["ignore", "pipe", "inherit"] });
  const socket = await new Promise<string>((resolve) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  const running = () => {
    try {
      return execFileSync("pgrep", ["-f", socket]).toString().trim();
    } catch {
      return "";
    }
  };
  assert.notEqual(running(), "", "the tmux server runs while the platform does");
  child.kill("SIGKILL");
  const deadline = Date.now() + 15_000;
  const gone = () => running() === "" && !fs.existsSync(path.dirname(socket));
  while (!gone() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(running(), "", "nothing started by the platform outlives it");
  assert.equal(fs.existsSync(path.dirname(socket)), false, "its directory is gone too");
});
