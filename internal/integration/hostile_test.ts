// A hostile platform: every string it sends is aimed at the terminal that
// prints it, and its answers come in shapes lap does not expect. Whatever lap
// prints must carry nothing a terminal obeys, and every bad answer must be
// one "✗" line, never an internal error.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { isPlain } from "../output.js";
import { HOSTILE, obeyed } from "../testutil/hostile.js";
import { homes, platforms, run, type Run } from "../testutil/testcli.js";

const { loggedIn } = homes("lap-hostile-test-");
const platform = platforms();

function assertSafe(r: Run, what: string): void {
  for (const [stream, text] of [["stdout", r.stdout], ["stderr", r.stderr]] as const) {
    const bad = obeyed(text);
    assert.equal(bad, null, `${what}: ${stream} carries ${bad}`);
    assert.doesNotMatch(text, /^✓ forged line/m, `${what}: a server string forged a line of lap's own`);
  }
  assert.doesNotMatch(r.stderr, /internal error/, what);
}

test("hostile names, ids, phases and reasons reach the terminal neutralised, in every command that prints them", async () => {
  const p = await platform();
  for (const h of HOSTILE) p.addAgent({ name: `agent-${h.text}`, harness_id: `harness-${h.text}`, supports_tui: true });
  const env = loggedIn(p);
  const demo = p.agents.find((a) => a.name === "demo")!;
  // Sessions whose every printed field is hostile; ids may not hold what a
  // terminal obeys (lap refuses those outright), so they carry the rest.
  const printable = HOSTILE.filter((h) => isPlain(h.text));
  for (const h of HOSTILE) {
    const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${demo.id}/session`, {
      method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}",
    });
    const s = p.sessions.get(((await res.json()) as { id: string }).id)!;
    Object.assign(s, { status: `dead${h.text}`, phase: h.text, phase_detail: h.text, failure_reason: h.text });
  }
  const weird = [...p.sessions.values()].slice(0, printable.length);
  printable.forEach((h, i) => {
    const s = weird[i];
    p.sessions.delete(s.id);
    s.id = `id-${i}-${h.text}`;
    p.sessions.set(s.id, s);
  });

  const runs: [string, Run][] = [
    ["agents", await run(["agents"], env)],
    ["agents --json", await run(["agents", "--json"], env)],
    ["sessions", await run(["sessions"], env)],
    ["sessions --json", await run(["sessions", "--json"], env)],
    ["no such agent", await run(["nosuch"], env)],
    ["config", await run(["config"], { ...env, LAP_TTY_FALLBACK: `ws://gw/tty?x=${encodeURIComponent("\u001b]0;t\u0007")}` })],
  ];
  for (const s of weird) {
    runs.push([`stop ${JSON.stringify(s.id)}`, await run(["stop", "--yes", s.id], env)]);
    runs.push([`attach ${JSON.stringify(s.id)}`, await run(["attach", s.id], env)]);
  }
  for (const [what, r] of runs) assertSafe(r, what);
  assert.deepEqual(JSON.parse(runs[1][1].stdout).length, p.agents.length, "--json still holds every agent");
  assert.match(runs[1][1].stdout, /\\u009b/, "C1 controls are written as \\u escapes in --json");
});

// A platform that answers every call with what a test gives it.
async function answering(route: (path: string) => { status: number; body: string }): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    const { status, body } = route(req.url ?? "/");
    res.writeHead(status, { "content-type": "application/json" });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const ID = "4f0c2a11-0000-4000-8000-000000000001";
const session = (extra: Record<string, unknown>) => JSON.stringify({ id: ID, agent_id: "a", status: "ready", sandbox_url: "http://127.0.0.1:9", ...extra });

test("answers of the wrong shape are each one clear line, never an internal error", async () => {
  const cases: [string, string[], (path: string) => { status: number; body: string }, RegExp][] = [
    ["a null agents body", ["agents"], () => ({ status: 200, body: "null" }), /agents list answer has an unexpected shape: no data array/],
    ["a session without agent_id", ["attach", ID], () => ({ status: 200, body: JSON.stringify({ id: ID, status: "ready" }) }), /agent_id is missing/],
    ["a phase that is an object", ["attach", ID], () => ({ status: 200, body: session({ status: "creating", phase: { x: 1 } }) }), /phase is not a string/],
    ["a tty_url that is a number", ["attach", ID], () => ({ status: 200, body: session({ tty_url: 7 }) }), /tty_url is not a string/],
    ["a tty_token with CR/LF", ["attach", ID], () => ({ status: 200, body: session({ tty_token: "t\r\nX-Evil: 1" }) }), /tty_token holds control characters/],
    ["a tty_token a header cannot carry", ["attach", ID], () => ({ status: 200, body: session({ tty_token: "tok\u20ac" }) }), /tty_token holds control characters or others a header cannot carry/],
    ["an id with a C1 control", ["attach", ID], () => ({ status: 200, body: session({ id: "ab\u009b2J" }) }), /id is over 200 characters long or holds control characters/],
    ["an id with a bidi override", ["attach", ID], () => ({ status: 200, body: session({ id: "ab\u202ecd" }) }), /id is over 200 characters long or holds control characters/],
    ["JSON nested a million deep", ["agents"], () => ({ status: 200, body: "[".repeat(1_000_000) + "]".repeat(1_000_000) }), /unexpected shape|not JSON/],
  ];
  for (const [what, args, route, want] of cases) {
    const s = await answering(route);
    try {
      const r = await run(args, { HOME: "/nonexistent", LAP_BASE_URL: s.url, LAP_MASTER_KEY: "k" });
      assert.equal(r.code, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr.split("\n")[0], /^✗ /, what);
      assert.match(r.stderr, want, what);
      assertSafe(r, what);
    } finally {
      s.close();
    }
  }
});

test("a status code out of HTTP's range and ids that would climb the URL path are refused with one line", async () => {
  const raw = http.createServer();
  raw.on("connection", (sock) => sock.end("HTTP/1.1 600 Odd\r\ncontent-length: 2\r\n\r\n{}"));
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  try {
    const r = await run(["agents"], { HOME: "/nonexistent", LAP_BASE_URL: url, LAP_MASTER_KEY: "k" });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^✗ /);
    assertSafe(r, "status 600");
  } finally {
    raw.close();
  }
  for (const id of ["%ZZ/sessions/%ZZ", ".", "..", "x/sessions/..", "x/sessions/%2e%2e"]) {
    const r = await run(["attach", id], { HOME: "/nonexistent", LAP_BASE_URL: "http://127.0.0.1:9", LAP_MASTER_KEY: "k" });
    assert.equal(r.code, 1, `${id}: ${r.stderr}`);
    assert.match(r.stderr, /^✗ '.*' is not a session id or a \.\.\.\/sessions\/<id> URL\n$/, id);
  }
});

test("a command lap suggests with a server's id in it runs nothing but lap when pasted into a shell", async () => {
  const evil = "x$(touch pwned)'`touch pwned`;touch pwned";
  const s = await answering((p) => p.endsWith("/restart")
    ? { status: 502, body: JSON.stringify({ error: "session restart failed: no nodes" }) }
    : { status: 200, body: session({ id: evil, status: "failed", failure_reason: "oom" }) });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lap-pasted-"));
  try {
    const suggested: string[] = [];
    for (const argv of [["attach", ID], ["restart", "--yes", ID]]) {
      const r = await run(argv, { HOME: "/nonexistent", LAP_BASE_URL: s.url, LAP_MASTER_KEY: "k" });
      assert.equal(r.code, 1, r.stderr);
      const commands = [...r.stderr.matchAll(/\blap (?:attach|restart|doctor|stop) .*?(?= — |$)/gm)].map((m) => m[0]);
      assert.ok(commands.length > 0, `${argv[0]} suggests a command: ${r.stderr}`);
      suggested.push(...commands);
    }
    for (const command of suggested) {
      // lap here is a function that writes down the words it was given.
      const words = execFileSync("bash", ["-c", `lap() { printf '%s\\n' "$@"; }; ${command}`], { cwd: dir }).toString();
      assert.ok(words.split("\n").includes(evil), `${command} names the session as it is: ${words}`);
      assert.deepEqual(fs.readdirSync(dir), [], `pasting ${command} ran nothing`);
    }
  } finally {
    s.close();
  }
});
