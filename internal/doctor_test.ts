import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { WebSocketServer } from "ws";
import { doctor, type DoctorOptions } from "./doctor.js";
import type { Env } from "./config.js";
import { startPlatform, type Platform, type PlatformOptions } from "./platform/platform.js";
import { LapError } from "./errors.js";
import { memoryIO } from "./testutil/testio.js";
import { memoryTerminal } from "./testutil/testterm.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-doctor-"));
const platforms: Platform[] = [];
const servers: { close(): void }[] = [];
after(async () => {
  for (const p of platforms) await p.close();
  for (const s of servers) s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function platform(opts: PlatformOptions = {}): Promise<Platform> {
  const p = await startPlatform({ bringUpMs: 0, ...opts });
  platforms.push(p);
  p.addAgent({ name: "demo", supports_tui: true });
  p.addAgent({ name: "sdk", harness_id: "opencode", supports_tui: false });
  return p;
}

const QUICK: DoctorOptions = { idleMs: 200, timeoutMs: 10_000, pongDeadlineMs: 2_000 };

async function runDoctor(env: Env, opts: Partial<DoctorOptions> = {}) {
  const m = memoryIO({ env, home: tmp });
  const code = await doctor(m.io, { ...QUICK, ...opts });
  return { code, out: m.stdout(), err: m.stderr(), marks: m.stdout().split("\n").filter((l) => /^[✓✗·] /.test(l)).map((l) => l.split(" — ")[0]) };
}

function creds(p: { url: string; key: string }): Env {
  return { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
}

async function listen(server: http.Server | https.Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test("every step passes against a working platform, one line each, exit 0", async () => {
  const p = await platform();
  const r = await runDoctor(creds(p));
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.marks, ["✓ config", "✓ proxy", "✓ dns", "✓ tcp", "· tls", "✓ key", "✓ agents"]);
  assert.match(r.out, /^✓ config — LAP_BASE_URL and LAP_MASTER_KEY are set \(no config file needed\)$/m);
  assert.match(r.out, /^✓ proxy — none \(HTTPS_PROXY, HTTP_PROXY and NO_PROXY are not set\)$/m);
  assert.match(r.out, /^✓ dns — 127\.0\.0\.1 is an address/m);
  assert.match(r.out, /^✓ tcp — connected to 127\.0\.0\.1:\d+ in \d+ ms$/m);
  assert.match(r.out, /^· tls — not used: the platform URL is http:\/\/$/m);
  assert.match(r.out, /^✓ key — …\w{4} accepted by http:\/\/127\.0\.0\.1:\d+$/m);
  assert.match(r.out, /^✓ agents — 2 agents, 1 with a terminal$/m);
  assert.doesNotMatch(r.out, new RegExp(p.key));
});

test("given an agent without a live session, doctor starts one, upgrades, idles, and stops it again", async () => {
  const p = await platform();
  const r = await runDoctor(creds(p), { target: "demo" });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(r.marks.slice(7), ["· platform", "· session", "✓ session", "✓ websocket", "✓ idle", "· session"]);
  assert.match(r.out, /^✓ websocket — upgraded ws:\/\/127\.0\.0\.1:\d+\/h\/[\w-]+\/tty in \d+ ms$/m);
  assert.match(r.out, /^✓ idle — still open after 200ms idle \(ping answered in \d+ ms\)$/m);
  assert.match(r.err, /· leaving the connection idle for 200ms…/);
  const [s] = p.sessions.values();
  assert.equal(s.status, "deleted", "the session started for the check is stopped");
  assert.equal(p.spawnCount, 1);
});

test("interrupted, doctor still stops the session it started, and exits as the signal would", async () => {
  const p = await platform();
  const term = memoryTerminal();
  const m = memoryIO({ env: creds(p), home: tmp, terminal: () => term.term });
  const done = doctor(m.io, { ...QUICK, idleMs: 60_000, target: "demo" });
  const deadline = Date.now() + 10_000;
  while (!m.stderr().includes("leaving the connection idle")) {
    assert.ok(Date.now() < deadline, m.stdout());
    await new Promise((r) => setTimeout(r, 20));
  }
  term.signal("SIGINT");
  await assert.rejects(done, (err: unknown) => err instanceof LapError && err.code === 130 && err.message === "SIGINT: the check was interrupted");
  const [s] = p.sessions.values();
  assert.equal(s.status, "deleted", "the session started for the check is stopped");
  assert.match(m.stdout(), /^· session — stopped [\w-]+, started for this check$/m);
});

test("interrupted while the session is being created, doctor waits for its id, stops it, and exits as the signal would", async () => {
  // Slow enough that the signal comes first on a loaded machine too.
  const p = await platform({ createAnswerMs: 2_000 });
  const term = memoryTerminal();
  const m = memoryIO({ env: creds(p), home: tmp, terminal: () => term.term });
  const done = doctor(m.io, { ...QUICK, target: "demo" });
  const deadline = Date.now() + 10_000;
  while (p.sessions.size === 0) {
    assert.ok(Date.now() < deadline, m.stdout());
    await new Promise((r) => setTimeout(r, 5));
  }
  term.signal("SIGINT");
  await assert.rejects(done, (err: unknown) => err instanceof LapError && err.code === 130 && err.message === "SIGINT: the check was interrupted" && err.hint === "");
  const [s] = p.sessions.values();
  assert.equal(s.status, "deleted", "the session the platform went on to create is stopped");
  assert.match(m.stderr(), /· interrupted while a session was being started for the check: waiting up to 5s to stop it/);
  assert.match(m.stdout(), new RegExp(`^· session — stopped ${s.id}, started for this check$`, "m"));
});

test("when the interrupted create's answer does not come in time, doctor says a session may be running and how to find it", async () => {
  const p = await platform({ createAnswerMs: 2_000 });
  const term = memoryTerminal();
  const m = memoryIO({ env: creds(p), home: tmp, terminal: () => term.term });
  const done = doctor(m.io, { ...QUICK, target: "demo", createWaitMs: 100 });
  const deadline = Date.now() + 10_000;
  while (p.sessions.size === 0) {
    assert.ok(Date.now() < deadline, m.stdout());
    await new Promise((r) => setTimeout(r, 5));
  }
  const interrupted = Date.now();
  term.signal("SIGTERM");
  await assert.rejects(done, (err: unknown) => err instanceof LapError && err.code === 143 &&
    err.hint === "a session may have been started for this check: see 'lap sessions demo', and stop it with 'lap stop <id> --yes'");
  assert.ok(Date.now() - interrupted < 1_000, "the wait is bounded");
  assert.match(m.stderr(), /! no answer from the platform after 100ms/);
});

test("given a session id, doctor checks that session and leaves it running", async () => {
  const p = await platform();
  const demo = p.agents[0];
  const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${demo.id}/session`, { method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}" });
  const { id } = (await res.json()) as { id: string };
  for (const target of [id, `${p.url}/api/v1/managed_agents/sessions/${id}`]) {
    const r = await runDoctor(creds(p), { target });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.marks.slice(7), ["✓ platform", "✓ session", "✓ websocket", "✓ idle"]);
  }
  assert.equal(p.sessions.get(id)!.status, "ready");
  // The agent's live session is reused too.
  const r = await runDoctor(creds(p), { target: demo.id });
  assert.deepEqual(r.marks.slice(7), ["✓ platform", "✓ session", "✓ websocket", "✓ idle"]);
  assert.equal(p.sessions.size, 1);
});

test("a refused upgrade shows its status and body and names the tty token", async () => {
  const p = await platform({ wrongTtyToken: true });
  const r = await runDoctor(creds(p), { target: "demo" });
  assert.equal(r.code, 1);
  assert.match(r.out, /^✗ websocket — 127\.0\.0\.1:\d+: terminal upgrade refused: 401 — \{"error":"unauthorized"\}\n  the harness refused the tty token/m);
  assert.equal(r.marks.at(-1), "· session", "the session it started is still stopped");
});

test("a connection dropped while idle fails the idle step with the close code and what to do", async () => {
  const p = await platform();
  const m = memoryIO({ env: creds(p), home: tmp });
  const done = doctor(m.io, { ...QUICK, target: "demo", idleMs: 20_000 });
  const deadline = Date.now() + 10_000;
  while (!m.stderr().includes("leaving the connection idle")) {
    assert.ok(Date.now() < deadline, m.stdout());
    await new Promise((r) => setTimeout(r, 10));
  }
  p.dropConnections([...p.sessions.keys()][0]);
  assert.equal(await done, 1);
  assert.match(m.stdout(), /^✗ idle — closed after [\d.]+m?s idle \(1006\)\n  a proxy or load balancer .* drops idle connections/m);
});

test("a connection that silently stops answering fails the idle step", async () => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", autoPong: false });
  await once(wss, "listening");
  servers.push(wss);
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const fallback = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/tty`;
  const r = await runDoctor({ ...creds(p), LAP_TTY_FALLBACK: fallback }, { target: "demo", pongDeadlineMs: 300 });
  assert.equal(r.code, 1);
  assert.match(r.out, /^✗ idle — no answer to a ping after 200ms idle: the connection was dropped on the way$/m);
});

test("an in-cluster sandbox without LAP_TTY_FALLBACK fails the websocket step with the troubleshooting text", async () => {
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const r = await runDoctor(creds(p), { target: "demo" });
  assert.equal(r.code, 1);
  assert.match(r.out, /^✗ websocket — session is in-cluster — no LAP_TTY_FALLBACK set\n  .*LAP_TTY_FALLBACK=ws:\/\/host:port\/tty/m);
});

test("a failed bring-up fails the session step and the session is still stopped", async () => {
  const p = await platform({ failReason: "image pull failed" });
  const r = await runDoctor(creds(p), { target: "demo" });
  assert.equal(r.code, 1);
  assert.match(r.out, /^✗ session — session \S+ is failed: image pull failed$/m);
  assert.equal(r.marks.at(-1), "· session");
});

test("an agent without a terminal has nothing to upgrade, and an unknown one is a failed step", async () => {
  const p = await platform();
  const sdk = await runDoctor(creds(p), { target: "sdk" });
  assert.equal(sdk.code, 0, sdk.out);
  assert.match(sdk.out, /^· websocket — agent sdk has no terminal \(harness opencode\): nothing to upgrade$/m);
  const nope = await runDoctor(creds(p), { target: "nope" });
  assert.equal(nope.code, 1);
  assert.match(nope.out, /^✗ target — no agent named 'nope'\n  agents here: /m);
  const uuid = await runDoctor(creds(p), { target: "0b7e6a4e-2f7c-4d3e-9a51-2b8c1d0e9f10" });
  assert.match(uuid.out, /^✗ target — no agent or session with id 0b7e6a4e/m);
  assert.equal(p.sessions.size, 0);
});

test("a wrong master key fails the key step and stops there", async () => {
  const p = await platform();
  const r = await runDoctor({ ...creds(p), LAP_MASTER_KEY: "sk-wrong-key-0000" });
  assert.equal(r.code, 1);
  assert.equal(r.marks.at(-1), "✗ key");
  assert.match(r.out, /^✗ key — …0000 refused: 401\n  LAP_MASTER_KEY is not this platform's master key$/m);
});

test("an address that answers but is not a platform fails the api step", async () => {
  const port = await listen(http.createServer((_q, res) => {
    res.writeHead(404).end("<h1>Not Found</h1>");
  }));
  const r = await runDoctor(creds({ url: `http://127.0.0.1:${port}`, key: "k" }));
  assert.equal(r.code, 1);
  assert.match(r.out, /^✗ api — .*404 Not Found\n  this address answers, but not as an agent platform/m);
});

test("a closed port fails the tcp step, an unknown host the dns step", async () => {
  const port = await closedPort();
  const tcp = await runDoctor(creds({ url: `http://127.0.0.1:${port}`, key: "k" }));
  assert.equal(tcp.code, 1);
  assert.equal(tcp.marks.at(-1), "✗ tcp");
  assert.match(tcp.out, new RegExp(`^✗ tcp — 127\\.0\\.0\\.1:${port}: connection refused\\n  is the platform up`, "m"));

  const lookup = async () => {
    throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
  };
  const dns = await runDoctor(creds({ url: "https://lap.invalid", key: "k" }), { lookup });
  assert.equal(dns.marks.at(-1), "✗ dns");
  assert.match(dns.out, /^✗ dns — cannot resolve lap\.invalid: host not found \(DNS\)\n  check the host name/m);

  const resolved = await runDoctor(creds({ url: `http://localhost:${port}`, key: "k" }), { lookup: async () => ["127.0.0.1"] });
  assert.match(resolved.out, /^✓ dns — localhost → 127\.0\.0\.1$/m);
  const slow = await runDoctor(creds({ url: "http://slow.example", key: "k" }), { lookup: () => new Promise(() => {}), stepTimeoutMs: 50 });
  assert.match(slow.out, /^✗ dns — cannot resolve slow\.example: no answer \(timed out\)/m);
});

test("the config step fails without a login, and for a file others can read", async () => {
  const none = await runDoctor({ LAP_CONFIG: path.join(tmp, "missing.json") });
  assert.equal(none.code, 1);
  assert.equal(none.out, "✗ config — not logged in\n  run 'lap login' first\n");

  const p = await platform();
  const file = path.join(tmp, "loose.json");
  fs.writeFileSync(file, JSON.stringify({ base: "http://x", profiles: { other: { base: p.url, key: p.key } } }), { mode: 0o644 });
  fs.chmodSync(file, 0o644);
  const loose = await runDoctor({ LAP_CONFIG: file, LAP_PROFILE: "other" });
  assert.equal(loose.code, 1);
  assert.match(loose.out, /^✗ config — .*loose\.json is readable by other users, profile other\n  run: chmod 600 /m);
  assert.equal(loose.marks.at(-1), "✓ agents", "the other steps still run");

  fs.chmodSync(file, 0o600);
  const ok = await runDoctor({ LAP_CONFIG: file, LAP_PROFILE: "other", LAP_MASTER_KEY: p.key });
  assert.match(ok.out, /^✓ config — .*loose\.json, profile other, private, with LAP_MASTER_KEY from the environment$/m);
});

test("the proxy in effect is reported, with its password hidden, and NO_PROXY is honoured", async () => {
  const p = await platform();
  const port = await closedPort();
  const exempted = await runDoctor({ ...creds(p), HTTP_PROXY: "http://user:pw@127.0.0.1:3128", NO_PROXY: "localhost,127.0.0.1" });
  assert.equal(exempted.code, 0, exempted.out);
  assert.match(exempted.out, /^✓ proxy — NO_PROXY=localhost,127\.0\.0\.1 exempts 127\.0\.0\.1:\d+ from HTTP_PROXY$/m);
  assert.doesNotMatch(exempted.out, /pw/);

  const other = await runDoctor({ ...creds(p), https_proxy: "http://proxy:3128", NO_PROXY: "x" });
  assert.match(other.out, /^✓ proxy — none for http:\/\/ \(set: https_proxy \(for https:\/\/ only\), NO_PROXY\)$/m);

  // Through a proxy, the proxy is what must be reachable.
  const through = await runDoctor({ ...creds(p), HTTP_PROXY: `user:pw@127.0.0.1:${port}`, NO_PROXY: "example.com" });
  assert.match(through.out, new RegExp(`^✓ proxy — HTTP_PROXY=http://127\\.0\\.0\\.1:${port} is used for 127\\.0\\.0\\.1:\\d+ \\(NO_PROXY does not exempt it\\)$`, "m"));
  assert.match(through.out, /^✓ dns — proxy 127\.0\.0\.1 is an address/m);
  assert.match(through.out, new RegExp(`^✗ tcp — 127\\.0\\.0\\.1:${port}: connection refused`, "m"));
  assert.doesNotMatch(through.out, /pw/);

  const broken = await runDoctor({ ...creds(p), http_proxy: "http://[nope" });
  assert.match(broken.out, /^✗ proxy — http_proxy is not a URL: http:\/\/\[nope\n  e\.g\. export HTTPS_PROXY=/m);
});

test("a certificate from an unknown authority fails the tls step and points at NODE_EXTRA_CA_CERTS", async (t) => {
  const cert = selfSigned(t);
  if (!cert) return;
  const port = await listen(https.createServer(cert, (_q, res) => res.end("{}")));
  const r = await runDoctor(creds({ url: `https://127.0.0.1:${port}`, key: "k" }));
  assert.equal(r.code, 1);
  assert.equal(r.marks.at(-1), "✗ tls");
  assert.match(r.out, /^✗ tls — 127\.0\.0\.1:\d+: \w*SELF_SIGNED\w*: .*\n  signed by a private certificate authority\? export NODE_EXTRA_CA_CERTS=/m);
});

// selfSigned makes a throw-away certificate for 127.0.0.1 with openssl, or
// skips the test when there is no openssl.
export function selfSigned(t: { skip(msg: string): void }): { key: Buffer; cert: Buffer; certFile: string } | null {
  const dir = fs.mkdtempSync(path.join(tmp, "cert-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"), "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
  } catch {
    t.skip("openssl is not installed");
    return null;
  }
  const certFile = path.join(dir, "cert.pem");
  return { key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(certFile), certFile };
}

test("the platform step prints each detected issue and the last 20 lines of the pod log of a failed session", async () => {
  const p = await platform({ failReason: "ImagePullBackOff" });
  const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${p.agents[0].id}/session`, { method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}" });
  const { id } = (await res.json()) as { id: string };
  const hostile = "\x1b]0;pwned\x07\x9b2J";
  p.diagnoses.set(id, {
    session: { id, status: "failed" }, agent: { exists: false }, pod: { exists: false },
    pod_logs_tail: { available: true, text: Array.from({ length: 30 }, (_, i) => `line ${i + 1}${hostile}`).join("\n") },
    harness_probe: { reachable: false, error: hostile },
    detected_issues: [
      { code: "pod_image_pull_backoff", severity: "high", message: "image cannot be pulled" + hostile, recommended_action: "check the image name" + hostile },
      { code: hostile, severity: hostile, message: 42 },
      "not an issue",
    ],
    notes: [hostile],
  });
  const r = await runDoctor(creds(p), { target: id });
  assert.equal(r.code, 1);
  assert.equal(r.marks[7], "✗ platform");
  assert.match(r.out, new RegExp(`^✗ platform — session ${id}, failed: 2 issues detected$`, "m"));
  assert.match(r.out, /^ {2}\[high\] pod_image_pull_backoff: image cannot be pulled\\x1b\]0;pwned\\x07\\x9b2J\n {4}→ check the image name/m);
  assert.match(r.out, /^ {2}pod log \(last 20 lines\):\n {4}line 11\\x1b/m);
  assert.match(r.out, /^ {4}line 30\\x1b/m);
  assert.doesNotMatch(r.out, /^ {4}line 10\\x1b/m);
  assert.doesNotMatch(r.out + r.err, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);

  // Thousands of issues: the first 20 and a count, not a flood.
  p.diagnoses.set(id, { session: { id, status: "failed" }, detected_issues: Array.from({ length: 5000 }, (_, i) => ({ code: `c${i}`, severity: "low", message: "m" })) });
  const many = await runDoctor(creds(p), { target: id });
  assert.match(many.out, /^ {2}\[low\] c19: m\n {2}… and 4980 more \(all of them: lap doctor [\w-]+ --json\)$/m);
  assert.doesNotMatch(many.out, /c20:/);
});

test("doctor --json prints the platform's whole diagnosis bundle on stdout and the steps on stderr", async () => {
  const p = await platform();
  const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${p.agents[0].id}/session`, { method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}" });
  const { id } = (await res.json()) as { id: string };
  p.sessions.get(id)!.status = "dead";
  p.sessions.get(id)!.failure_reason = "idle timeout";
  const m = memoryIO({ env: creds(p), home: tmp });
  assert.equal(await doctor(m.io, { ...QUICK, target: "demo", json: true }), 1);
  const bundle = JSON.parse(m.stdout()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(bundle), ["session", "agent", "pod", "service", "node", "pod_logs_tail", "harness_probe", "detected_issues", "notes"]);
  assert.deepEqual(bundle.pod, { exists: false });
  assert.equal((bundle.session as { tty_token?: string }).tty_token, undefined);
  assert.match(m.stderr(), /^✗ platform — session .*, dead: 2 issues detected$/m);
  assert.match(m.stderr(), /\[info\] idle_reaped: session is dead: idle timeout/);
  assert.match(m.stderr(), /pod log: not available \(pod not found\)/);
});

test("doctor --json with no diagnosis to print (no session yet, an older platform) fails its step: a script is not handed nothing and 0", async () => {
  const p = await platform();
  const none = memoryIO({ env: creds(p), home: tmp });
  assert.equal(await doctor(none.io, { ...QUICK, target: "demo", json: true }), 1);
  assert.equal(none.stdout(), "");
  assert.match(none.stderr(), /^✗ platform — agent demo has no session to diagnose yet$/m);
  const older = await platform({ olderPlatform: "404" });
  const res = await fetch(`${older.url}/api/v1/managed_agents/agents/${older.agents[0].id}/session`, { method: "POST", headers: { authorization: `Bearer ${older.key}` }, body: "{}" });
  const { id } = (await res.json()) as { id: string };
  const skipped = memoryIO({ env: creds(older), home: tmp });
  assert.equal(await doctor(skipped.io, { ...QUICK, target: id, json: true }), 1);
  assert.equal(skipped.stdout(), "");
  assert.match(skipped.stderr(), /^✗ platform — 127\.0\.0\.1:\d+ does not offer session diagnosis/m);
});

test("on an older platform the platform step is skipped with a note, and the rest still runs", async () => {
  for (const mode of ["404", "html"] as const) {
    const p = await platform({ olderPlatform: mode });
    const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${p.agents[0].id}/session`, { method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}" });
    const { id } = (await res.json()) as { id: string };
    const r = await runDoctor(creds(p), { target: id });
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(r.marks.slice(7), ["· platform", "✓ session", "✓ websocket", "✓ idle"]);
    assert.match(r.out, /^· platform — skipped: 127\.0\.0\.1:\d+ does not offer session diagnosis/m);
  }
});
