import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Api, type Session } from "./api.js";
import { LapError } from "./errors.js";
import { startPlatform, type Platform } from "./platform/platform.js";
import { findSession, listSessions, sessionTable, stopSession, type SessionRow } from "./sessions.js";
import { since } from "./output.js";
import { memoryIO } from "./testutil/testio.js";

const NOW = Date.parse("2025-06-01T12:00:00Z");

const platforms: Platform[] = [];
after(async () => {
  for (const p of platforms) await p.close();
});

async function platform(): Promise<Platform> {
  const p = await startPlatform({ bringUpMs: 0 });
  platforms.push(p);
  return p;
}

// addSession puts a session straight into the platform's table, created
// minutesAgo minutes before NOW.
function addSession(p: Platform, agentId: string, minutesAgo: number, status: Session["status"] = "ready"): Session & { title: null } {
  const at = new Date(NOW - minutesAgo * 60_000).toISOString();
  const s = {
    id: randomUUID(), agent_id: agentId, title: null, status, phase: status === "ready" ? "ready" : "pod_pending",
    phase_detail: null, failure_reason: null, sandbox_url: null, tty_url: null, tty_token: "secret-tty-token",
    supports_tui: true, harness_session_id: null, created_at: at, last_seen_at: at, idle_timeout_ms: 1,
  };
  p.sessions.set(s.id, s as never);
  return s;
}

function env(p: Platform) {
  return { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
}

test("ages read like ps and kubectl: seconds, minutes, hours, then days", () => {
  const ago = (ms: number) => new Date(NOW - ms).toISOString();
  assert.equal(since(ago(45_000), NOW), "45s");
  assert.equal(since(ago(12 * 60_000), NOW), "12m");
  assert.equal(since(ago(5 * 3_600_000), NOW), "5h");
  assert.equal(since(ago(47 * 3_600_000), NOW), "47h");
  assert.equal(since(ago(3 * 86_400_000), NOW), "3d");
  assert.equal(since(new Date(NOW + 5000).toISOString(), NOW), "0s");
  assert.equal(since(null, NOW), "-");
  assert.equal(since("yesterday", NOW), "-");
  assert.equal(since("0001-01-01T00:00:00Z", NOW), "-", "past a century is a broken date");
});

test("the sessions table shows short id, agent, status, phase, age, last seen and when a ready session is reaped", () => {
  const row: SessionRow = {
    id: "4f0c2a11-aaaa-bbbb-cccc-dddddddddddd", agent_id: "a1", agent: "demo", status: "ready", phase: "ready",
    phase_detail: null, failure_reason: null, created_at: new Date(NOW - 3_600_000).toISOString(),
    last_seen_at: new Date(NOW - 30_000).toISOString(), idle_timeout_ms: 15 * 60_000,
  };
  const unnamed = { ...row, id: "9".repeat(36), agent: null, agent_id: "7e57ab1e-0000", phase: null, last_seen_at: null };
  const dead = { ...row, id: "d".repeat(36), status: "dead" };
  const forever = { ...row, id: "f".repeat(36), idle_timeout_ms: null };
  const broken = { ...row, id: "b".repeat(36), last_seen_at: "soon", idle_timeout_ms: 1e308 };
  const lines = sessionTable([row, unnamed, dead, forever, broken], NOW).trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+AGENT\s+STATUS\s+PHASE\s+AGE\s+LAST SEEN\s+REAPED IN$/);
  assert.match(lines[1], /^4f0c2a11\s+demo\s+ready\s+ready\s+1h\s+30s ago\s+14m$/);
  assert.match(lines[2], /^99999999\s+7e57ab1e\s+ready\s+-\s+1h\s+-\s+now$/);
  assert.match(lines[3], /^dddddddd\s+demo\s+dead\s+ready\s+1h\s+30s ago\s+-$/);
  assert.match(lines[4], /^ffffffff\s+demo\s+ready\s+ready\s+1h\s+30s ago\s+-$/);
  assert.match(lines[5], /^bbbbbbbb\s+demo\s+ready\s+ready\s+1h\s+-\s+-$/, "a date lap cannot read and a timeout of ages");
});

test("REAPED IN counts down for a ready session on the platform, and a reaped one is dead with reason idle timeout", async () => {
  const p = await startPlatform({ bringUpMs: 0, idleTimeoutMs: 15 * 60_000 });
  platforms.push(p);
  const demo = p.addAgent({ name: "demo" });
  const api = new Api(p.url, p.key);
  await api.createSession(demo.id, "t");
  const m = memoryIO({ env: env(p) });
  await listSessions(m.io);
  assert.match(m.stdout().trimEnd().split("\n")[1], /\sready\s.*\s1[45]m$/);

  const quick = await startPlatform({ bringUpMs: 0, idleTimeoutMs: 1, reapEveryMs: 10 });
  platforms.push(quick);
  const agent = quick.addAgent({ name: "demo" });
  const reaped = await new Api(quick.url, quick.key).createSession(agent.id, "t");
  for (let i = 0; i < 300 && quick.sessions.get(reaped.id)!.status !== "dead"; i++) await new Promise((r) => setTimeout(r, 10));
  const after = memoryIO({ env: env(quick) });
  await listSessions(after.io, { json: true });
  const [row] = JSON.parse(after.stdout()) as SessionRow[];
  assert.equal(row.status, "dead");
  assert.equal(row.failure_reason, "idle timeout");
  assert.equal(row.idle_timeout_ms, 1);
});

test("lap sessions lists every page, newest first, with agent names", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  const other = p.addAgent({ name: "other" });
  // Inserted oldest-last, so the platform's own order is not the answer.
  for (let i = 0; i < 230; i++) addSession(p, i % 2 ? demo.id : other.id, 230 - i);
  const m = memoryIO({ env: env(p) });
  await listSessions(m.io, { now: () => NOW });
  const lines = m.stdout().trimEnd().split("\n");
  assert.equal(lines.length, 1 + 230);
  assert.match(lines[1], /\s1m\s/);
  assert.match(lines[230], /\s230m\s|\s3h\s/);
  assert.ok(lines.slice(1).every((l) => /^\w{8}\s+(demo|other)\s/.test(l)));
  assert.ok(p.requests.some((q) => q.path.includes("offset=200")), "asked for the second page");
});

test("lap sessions <agent> lists only that agent's sessions, and --json has stable fields and no token", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  const other = p.addAgent({ name: "other" });
  const mine = addSession(p, demo.id, 5);
  addSession(p, other.id, 1);
  const m = memoryIO({ env: env(p) });
  await listSessions(m.io, { agent: "demo", json: true });
  const rows = JSON.parse(m.stdout()) as SessionRow[];
  assert.deepEqual(rows, [{
    id: mine.id, agent_id: demo.id, agent: "demo", status: "ready", phase: "ready", phase_detail: null,
    failure_reason: null, created_at: mine.created_at, last_seen_at: mine.last_seen_at, idle_timeout_ms: 1,
  }]);
  assert.doesNotMatch(m.stdout(), /secret-tty-token/);

  const byId = memoryIO({ env: env(p) });
  await listSessions(byId.io, { agent: demo.id, json: true });
  assert.equal((JSON.parse(byId.stdout()) as SessionRow[])[0].agent, "demo");
});

test("paging stops when a platform ignores offset and sends the same page again", async () => {
  const page = Array.from({ length: 200 }, (_, i) => ({ id: `s${i}`, agent_id: "a", status: "ready" }));
  let calls = 0;
  const fetchSame = (async () => {
    calls++;
    return new Response(JSON.stringify(page), { status: 200, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  const sessions = await new Api("http://127.0.0.1:9", "k", fetchSame).listSessions();
  assert.equal(sessions.length, 200);
  assert.equal(calls, 2);
});

test("an id a page repeats is listed once, for agents and sessions alike", async () => {
  const answer = (body: unknown) => (async () => new Response(JSON.stringify(body), { status: 200 })) as typeof fetch;
  const twice = [{ id: "s1", agent_id: "a", status: "ready" }, { id: "s1", agent_id: "a", status: "dead" }];
  assert.deepEqual((await new Api("http://127.0.0.1:9", "k", answer(twice)).listSessions()).map((s) => s.status), ["ready"]);
  const agents = { data: [{ id: "a1", name: "one" }, { id: "a1", name: "two" }], total: 2 };
  assert.deepEqual((await new Api("http://127.0.0.1:9", "k", answer(agents)).listAgents()).map((a) => a.name), ["one"]);
});

test("a sessions answer that is not a list is one clear error", async () => {
  const fetchObject = (async () => new Response("{}", { status: 200 })) as typeof fetch;
  await assert.rejects(new Api("http://127.0.0.1:9", "k", fetchObject).listSessions(), /sessions list answer has an unexpected shape/);
});

test("lap stop --yes stops the session without asking", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  const s = addSession(p, demo.id, 1);
  const m = memoryIO({ env: env(p) });
  assert.equal(await stopSession(m.io, { session: s.id, yes: true }), 0);
  assert.equal(p.sessions.get(s.id)!.status, "deleted");
  assert.equal(m.stderr(), `✓ stopped session ${s.id} (agent demo): deleted\n`);
});

test("lap stop asks on a terminal, and only y or yes stops", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  for (const [answer, stopped] of [["n\n", false], ["\n", false], ["YES\n", true]] as const) {
    const s = addSession(p, demo.id, 1);
    const m = memoryIO({ env: env(p), stdinIsTTY: true });
    const done = stopSession(m.io, { session: s.id });
    await waitFor(() => m.stderr().includes("[y/N]"));
    assert.match(m.stderr(), new RegExp(`Stop session ${s.id} \\(agent demo\\)\\? \\[y/N\\] `));
    m.stdin.write(answer);
    assert.equal(await done, 0);
    assert.equal(p.sessions.get(s.id)!.status === "deleted", stopped, answer);
    if (!stopped) assert.match(m.stderr(), /· not stopped; session .* keeps running/);
  }
});

test("lap stop without a terminal and without --yes is a usage error that names --yes", async () => {
  const m = memoryIO({ env: { LAP_BASE_URL: "http://127.0.0.1:9", LAP_MASTER_KEY: "k" } });
  await assert.rejects(stopSession(m.io, { session: "abc" }), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.code, 2);
    assert.equal(err.message, "not stopping session abc without confirmation: stdin is not a terminal");
    assert.equal(err.hint, "pass --yes to stop it without asking");
    return true;
  });
});

test("lap stop finds a session by the start of its id, and says when that is ambiguous or unknown", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  const s = addSession(p, demo.id, 1);
  const api = new Api(p.url, p.key);
  assert.equal((await findSession(api, s.id.slice(0, 8))).id, s.id);
  await assert.rejects(findSession(api, "zzzz"), /^LapError: no session zzzz$/);
  await assert.rejects(findSession(api, randomUUID()), /no session/);
  const twins = [addSession(p, demo.id, 1), addSession(p, demo.id, 1)];
  twins[0].id = "abcd" + twins[0].id.slice(4);
  twins[1].id = "abcd" + twins[1].id.slice(4);
  p.sessions.set(twins[0].id, twins[0] as never);
  p.sessions.set(twins[1].id, twins[1] as never);
  await assert.rejects(findSession(api, "abcd"), /sessions start with 'abcd'/);
});

test("stopping a session that is already gone says so and succeeds", async () => {
  const p = await platform();
  const demo = p.addAgent({ name: "demo" });
  const s = addSession(p, demo.id, 1, "dead");
  const m = memoryIO({ env: env(p) });
  assert.equal(await stopSession(m.io, { session: s.id, yes: true }), 0);
  assert.equal(m.stderr(), `✓ session ${s.id} (agent demo) is already dead\n`);
  assert.ok(!p.requests.some((q) => q.method === "DELETE"));
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}
