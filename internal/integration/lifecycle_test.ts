// Integration tests for logs, restart and the doctor's platform step: the
// compiled CLI, run as a child process, against the local platform over real
// sockets. Needs `make build` first.

import { test } from "node:test";
import assert from "node:assert/strict";
import { HOSTILE, obeyed } from "../testutil/hostile.js";
import { homes, Lap, newSession, platforms, run, type Run } from "../testutil/testcli.js";

const { loggedIn } = homes("lap-lifecycle-test-");
const platform = platforms();


async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

test("lap logs <agent> prints the timeline of its newest session, and --json the entries", async () => {
  const p = await platform();
  const id = await newSession(p);
  p.sessions.get(id)!.status = "failed";
  p.sessions.get(id)!.failure_reason = "OOMKilled";
  const env = loggedIn(p);
  const text = await run(["logs", "demo"], env);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^\d\d:\d\d:\d\d {2}created +Session created\n/);
  assert.match(text.stdout, /ended +Session failed — OOMKilled\n$/);
  const json = await run(["logs", id.slice(0, 8), "--json"], env);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { kind: string }[]).map((e) => e.kind), ["created", "ended"]);
});

test("lap logs -f follows until Ctrl-C (SIGINT), then exits 0", async () => {
  const p = await platform({ heartbeatMs: 50 });
  const id = await newSession(p);
  const l = new Lap(["logs", "demo", "-f"], loggedIn(p));
  await l.waitFor(/Ctrl-C stops/, "stderr");
  await until(() => p.eventStreams(id) === 1, "the events stream is open");
  await fetch(`${p.url}/api/v1/managed_agents/sessions/${id}/message`, {
    method: "POST", headers: { authorization: `Bearer ${p.key}`, "content-type": "application/json" }, body: JSON.stringify({ text: "over the wire" }),
  });
  await l.waitFor(/echo: over the wire/);
  l.child.kill("SIGINT");
  const r = await l.exited;
  assert.equal(r.code, 0, r.stderr);
});

test("lap restart --yes restarts and says how to attach; without --yes and a terminal it is a usage error", async () => {
  const p = await platform({ restartMs: 20 });
  const id = await newSession(p);
  p.sessions.get(id)!.status = "dead";
  const env = loggedIn(p);
  const refused = await run(["restart", id], env);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^✗ not restarting session .* without confirmation: stdin is not a terminal\n {2}pass --yes/);
  const r = await run(["restart", id, "--yes", "--timeout", "30s"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`✓ session ${id} restarted: ready\\n  attach: lap attach ${id}\\n$`));
  assert.equal(p.sessions.get(id)!.status, "ready");
});

test("on an older platform, logs and restart say in one line that it does not offer them, and doctor skips its step", async () => {
  const p = await platform({ olderPlatform: "html" });
  const id = await newSession(p);
  const env = loggedIn(p);
  for (const [args, what] of [[["logs", id], "session logs"], [["restart", id, "--yes"], "restarting sessions"]] as const) {
    const r = await run([...args], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^✗ 127\\.0\\.0\\.1:\\d+ does not offer ${what} \\(an older platform\\? it answered a web page\\)$`, "m"));
  }
  const d = await run(["doctor", id, "--idle", "1s"], env);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^· platform — skipped: .* does not offer session diagnosis/m);
  // --json has nothing to print: a failed step, not an empty success.
  const j = await run(["doctor", id, "--idle", "1s", "--json"], env);
  assert.equal(j.code, 1, j.stderr);
  assert.equal(j.stdout, "");
  assert.match(j.stderr, /^✗ platform — .* does not offer session diagnosis/m);
});

test("lap doctor <session> --json prints the diagnosis bundle on stdout", async () => {
  const p = await platform();
  const id = await newSession(p);
  const d = await run(["doctor", id, "--idle", "1s", "--json"], loggedIn(p));
  assert.equal(d.code, 0, d.stderr);
  const bundle = JSON.parse(d.stdout) as { session: { id: string }; detected_issues: unknown[] };
  assert.equal(bundle.session.id, id);
  assert.match(d.stderr, /^✓ platform — session .*, ready: no issues detected$/m);
});

test("help and completion know logs, restart and their flags; usage errors are exact", async () => {
  const env = loggedIn({ url: "http://127.0.0.1:9", key: "k" });
  const help = await run(["--help"], env);
  assert.match(help.stdout, /^ {2}lap logs <session-id \| agent>\s+a session's timeline/m);
  assert.match(help.stdout, /^ {2}lap restart <session-id>\s+bring a dead or failed session back/m);
  const logsHelp = await run(["logs", "--help"], env);
  assert.match(logsHelp.stdout, /^usage: lap logs <session-id \| agent> \[--timeout D\] \[--json\] \[--follow\]$/m);
  const restartHelp = await run(["restart", "--help"], env);
  assert.match(restartHelp.stdout, /^usage: lap restart <session-id> \[--timeout D\] \[--yes\]$/m);
  assert.match(help.stdout, /^ {2}-f, --follow\s/m);
  const bash = await run(["completion", "bash"], env);
  for (const word of ["logs", "restart", "--follow"]) assert.ok(bash.stdout.includes(word), word);
  for (const [args, message] of [
    [["logs"], "✗ logs needs a session id or an agent name"],
    [["restart"], "✗ restart needs a session id"],
    [["stop", "x", "--follow"], "✗ --follow does not apply to 'lap stop'"],
  ] as const) {
    const r = await run([...args], env);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stderr.split("\n")[0], message);
  }
});

test("the hostile corpus in every field that logs, doctor and restart print reaches the terminal neutralised", async () => {
  const p = await platform({ restartMs: 10 });
  const env = loggedIn(p);
  const id = await newSession(p);
  const all = HOSTILE.map((h) => h.text);
  // One entry, issue and log line per string of the corpus, so one run of each command sees them all.
  p.timelines.set(id, all.map((t) => ({ id: t, at: t, kind: t, title: t, detail: t, meta: t, status: t })));
  Object.assign(p.sessions.get(id)!, { status: `failed${all.join("")}`, failure_reason: all.join(" ") });
  p.diagnoses.set(id, {
    session: { id, status: all.join("") }, pod_logs_tail: { available: true, text: all.join("\n") },
    detected_issues: all.map((t) => ({ code: t, severity: t, message: t, recommended_action: t })),
  });
  p.options.restartFailReason = all.join(" ");
  const runs: [string, Run][] = [
    ["logs", await run(["logs", id], env)],
    ["logs --json", await run(["logs", id, "--json"], env)],
    ["doctor", await run(["doctor", id, "--idle", "1s"], env)],
    ["doctor --json", await run(["doctor", id, "--idle", "1s", "--json"], env)],
    ["restart", await run(["restart", id, "--yes"], env)],
  ];
  for (const [what, r] of runs) {
    for (const text of [r.stdout, r.stderr]) assert.equal(obeyed(text), null, `${what}: ${obeyed(text)}`);
    assert.doesNotMatch(r.stdout + r.stderr, /^✓ forged line|internal error/m, what);
  }
  assert.equal(runs[0][1].stdout.trimEnd().split("\n").length, HOSTILE.length, "one line per entry, whatever the entry holds");
});

// renamed gives a session of p the id given, as a platform might have made it.
function renamed(p: Awaited<ReturnType<typeof platform>>, from: string, to: string): string {
  const s = p.sessions.get(from)!;
  p.sessions.delete(from);
  s.id = to;
  p.sessions.set(to, s);
  return to;
}

test("lap logs and lap doctor take a session by the start of its id, and say so when it names several", async () => {
  const p = await platform();
  const env = loggedIn(p);
  const one = renamed(p, await newSession(p), "4f0c2a11-0000-4000-8000-000000000001");
  renamed(p, await newSession(p), "4f0c9999-0000-4000-8000-000000000002");
  for (const args of [["logs", "4f0c"], ["doctor", "4f0c", "--idle", "1s"]]) {
    const r = await run(args, env);
    assert.equal(r.code, 1, r.stderr);
    // doctor reports its steps on stdout.
    assert.match(r.stdout + r.stderr, /^✗ (target — )?2 sessions start with '4f0c'\n {2}give more of the id/m, args.join(" "));
  }
  // The renamed session has no harness behind it: only the platform step is of interest.
  const d = await run(["doctor", "4f0c2a11", "--idle", "1s", "--json"], env);
  assert.doesNotMatch(d.stderr, /target —/);
  assert.equal((JSON.parse(d.stdout) as { session: { id: string } }).session.id, one);
});

test("a signal other than Ctrl-C while a restart is awaited exits as that signal does (SIGTERM: 143)", async () => {
  const p = await platform({ restartMs: 60_000 });
  const id = await newSession(p);
  p.sessions.get(id)!.status = "dead";
  const l = new Lap(["restart", id, "--yes"], loggedIn(p));
  await l.waitFor(/waiting for the platform/, "stderr");
  l.child.kill("SIGTERM");
  const r = await l.exited;
  assert.equal(r.code, 143, r.stderr);
  assert.match(r.stderr, /stopped waiting; the platform may still be restarting/);
});
