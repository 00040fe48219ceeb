// Integration tests: lap's main() run in this process against the local
// platform and harness over real sockets; the compiled CLI is spawned only
// where the process is the subject (flushing stdout before exit).

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { once } from "node:events";
import { Writable } from "node:stream";
import { WebSocketServer } from "ws";
import { spawn } from "node:child_process";
import { InProcessLap, LAP, Lap, attachInProcess, homes, lap, newSession, platforms, run } from "../testutil/testcli.js";

const { home, loggedIn } = homes("lap-cli-test-");

const platform = platforms();

test("login reads the URL and key from piped stdin and saves them 0600 in a 0700 directory", async () => {
  const h = home();
  const r = await run(["login"], { HOME: h }, "http://127.0.0.1:9/\nsk-live-1234567890abcd\n");
  const file = path.join(h, ".lap", "config.json");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, `✓ saved to ${file}\n`);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { base: "http://127.0.0.1:9", key: "sk-live-1234567890abcd" });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);

  const c = await run(["config"], { HOME: h });
  assert.equal(c.code, 0);
  assert.match(c.stdout, /platform  http:\/\/127\.0\.0\.1:9/);
  assert.match(c.stdout, /key       …abcd/);
  assert.doesNotMatch(c.stdout + c.stderr, /1234567890/);

  assert.equal((await run(["logout"], { HOME: h })).code, 0);
  assert.equal(fs.existsSync(file), false);
  const again = await run(["logout"], { HOME: h });
  assert.equal(again.code, 0);
  assert.match(again.stderr, /not logged in/);
});

test("LAP_CONFIG names another config file", async () => {
  const file = path.join(home(), "elsewhere", "lap.json");
  const r = await run(["login"], { HOME: home(), LAP_CONFIG: file }, "https://lap.example.com\nsk-abcdefghijklmnop\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).base, "https://lap.example.com");
  const c = await run(["config"], { HOME: home(), LAP_CONFIG: file });
  assert.match(c.stdout, /override  LAP_CONFIG=/);
});

test("login refuses a URL that is not http(s) and saves nothing", async () => {
  const h = home();
  const r = await run(["login"], { HOME: h }, "ftp://x\nkey\n");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ 'ftp:\/\/x' is not an http\(s\) URL\n/);
  assert.equal(fs.existsSync(path.join(h, ".lap")), false);
});

test("a corrupt config file gets one clear line, and a readable one a chmod warning", async () => {
  const env = loggedIn({ url: "http://127.0.0.1:9", key: "k" });
  const file = path.join(env.HOME, ".lap", "config.json");
  fs.writeFileSync(file, "{not json");
  let r = await run(["agents"], env);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `✗ config ${file} is not valid JSON\n  run 'lap login' to write it again\n`);
  fs.writeFileSync(file, "");
  assert.match((await run(["agents"], env)).stderr, /is empty/);

  const p = await platform();
  fs.writeFileSync(file, JSON.stringify({ base: p.url, key: p.key }));
  fs.chmodSync(file, 0o644);
  r = await run(["agents"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /readable by other users — run: chmod 600/);
});

test("commands other than login say how to log in when there is no config", async () => {
  const r = await run(["agents"], { HOME: home() });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "✗ not logged in\n  run 'lap login' first\n");
});

test("agents lists every agent across pages, with harness and whether it has a terminal", async () => {
  const p = await platform();
  for (let i = 0; i < 230; i++) p.addAgent({ name: `bulk-${i}`, harness_id: "codex" });
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const r = await run(["agents"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^NAME\s+HARNESS\s+TERMINAL\s+ID$/);
  assert.equal(lines.length, 1 + 232);
  assert.match(r.stdout, /^bulk-0\s+codex\s+yes\s+[0-9a-f]{8}$/m);
  assert.match(r.stdout, /^sdk\s+claude-agent-sdk\s+no\s+/m);
  assert.ok(p.requests.some((q) => q.path.includes("offset=200")), "asked for the second page");
});

test("an unknown agent name is an error that lists the names that exist", async () => {
  const p = await platform();
  const r = await run(["nope"], loggedIn(p));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ no agent named 'nope'\n  agents here: demo/);
});

test("the agent is found by name beyond the first page", async () => {
  const p = await platform();
  for (let i = 0; i < 260; i++) p.addAgent({ name: `newer-${i}`, harness_id: "codex" });
  const r = await attachInProcess(["demo"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
});

test("lap <agent> starts a session, bridges the terminal, and a detach leaves it running", async () => {
  const p = await platform({ bringUpMs: 600 });
  const r = await attachInProcess(["demo"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /· started session /);
  assert.match(r.stderr, /· creating_sandbox \(creating the sandbox\)\n/);
  assert.match(r.stderr, /· attached to demo .* Ctrl-D detaches/);
  assert.match(r.stderr, /· detached — session .* keeps running; reconnect: lap demo/);
  assert.equal(p.sessions.size, 1);
  const [s] = p.sessions.values();
  assert.equal(s.status, "ready");
});

test("running lap <agent> again reattaches to the live session instead of starting another", async () => {
  const p = await platform();
  const env = loggedIn(p);
  await attachInProcess(["demo"], env, "KEPT=yes; echo R=$((6*7))");
  const r = await attachInProcess(["demo"], env, 'echo "K=$KEPT"', /K=yes/);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /· reattaching to session /);
  assert.equal(p.sessions.size, 1);
});

test("--new starts a second session, before or after the agent name", async () => {
  const p = await platform();
  const env = loggedIn(p);
  await attachInProcess(["demo"], env);
  await attachInProcess(["--new", "demo"], env);
  await attachInProcess(["demo", "--new"], env);
  assert.equal(p.sessions.size, 3);
});

test("--agent names the agent, even one called like a command", async () => {
  const p = await platform();
  p.addAgent({ name: "agents", harness_id: "codex" });
  const r = await attachInProcess(["--agent", "agents"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
});

test("a UUID is used as the agent id without listing agents", async () => {
  const p = await platform();
  const id = p.agents.find((a) => a.name === "demo")!.id;
  const r = await attachInProcess([id], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!p.requests.some((q) => q.path.startsWith("/api/v1/managed_agents/agents?")), "no agents listing");
});

test("a refused session create says 'session create failed: 401' and what to do", async () => {
  const p = await platform();
  const id = p.agents[0].id;
  const r = await run([id, "--new"], loggedIn({ url: p.url, key: "wrong" }));
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "✗ session create failed: 401\n  the master key was refused — run 'lap login' again\n");
});

test("a wrong master key stops at the first call", async () => {
  const p = await platform();
  const r = await run(["demo"], loggedIn({ url: p.url, key: "wrong" }));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ 127\.0\.0\.1:\d+: GET \/api\/v1\/managed_agents\/agents: 401 unauthorized\n  the master key was refused/);
});

test("a master key from LAP_MASTER_KEY that is refused says to fix the variable, not to log in again (the variable would still win)", async () => {
  const p = await platform();
  const id = p.agents[0].id;
  const env = loggedIn(p, { LAP_MASTER_KEY: "wrong" });
  for (const args of [["agents"], ["sessions"], ["logs", "-f", "demo"], [id, "--new"]]) {
    const r = await run(args, env);
    assert.equal(r.code, 1, args.join(" "));
    assert.match(r.stderr, /\n {2}the master key was refused: LAP_MASTER_KEY is not this platform's master key\n$/, `${args.join(" ")}: ${r.stderr}`);
  }
});

test("a failed bring-up prints the status, the reason and the session id", async () => {
  const p = await platform({ bringUpMs: 300, failReason: "image pull failed: \x1b[31mno such tag" });
  const r = await run(["demo"], loggedIn(p));
  assert.equal(r.code, 1);
  const [s] = p.sessions.values();
  assert.match(r.stderr, new RegExp(`✗ session ${s.id} is failed: image pull failed: \\\\x1b\\[31mno such tag\\n`));
});

test("waiting gives up after --timeout, saying what it last saw", async () => {
  const p = await platform({ bringUpMs: 60_000 });
  const r = await run(["demo", "--timeout", "1s"], loggedIn(p));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /✗ session \S+ not ready after 1s \(last seen: creating_sandbox \(creating the sandbox\)\)/);
});

test("an agent without a terminal gets a chat instead of a terminal (more in cli6b_test.ts)", async () => {
  const p = await platform();
  p.addAgent({ name: "sdk", harness_id: "opencode", supports_tui: false });
  const r = await run(["sdk"], loggedIn(p), "hi\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "echo: hi\n");
  assert.equal(p.sessions.size, 1);
});

test("an in-cluster sandbox without LAP_TTY_FALLBACK is the troubleshooting message", async () => {
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const r = await run(["demo"], loggedIn(p));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /✗ session is in-cluster — no LAP_TTY_FALLBACK set\n  .*export LAP_TTY_FALLBACK=ws:\/\/host:port\/tty/);
});

test("LAP_TTY_FALLBACK reaches an in-cluster sandbox", async () => {
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const env = loggedIn(p);
  // The fallback is only known once the session exists: create it first.
  await run(["demo", "--timeout", "1ms"], env);
  const [s] = p.sessions.values();
  const r = await attachInProcess(["demo"], { ...env, LAP_TTY_FALLBACK: p.harnessTtyUrl(s.id) });
  assert.equal(r.code, 0, r.stderr);
});

test("a tty_url given as a path is served through the platform's own address", async () => {
  const p = await platform({ inCluster: true });
  const r = await attachInProcess(["demo"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
});

test("a session with only sandbox_url is reached at sandbox_url + /tty", async () => {
  const p = await platform({ ttyUrl: "none" });
  const r = await attachInProcess(["demo"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
});

test("the tty token goes in the Authorization header only, never in a URL", async () => {
  const p = await platform();
  await attachInProcess(["demo"], loggedIn(p));
  const [s] = p.sessions.values();
  const upgrades = p.requests.filter((q) => q.path.includes("/tty"));
  assert.ok(upgrades.length >= 1);
  for (const q of p.requests) assert.ok(!q.path.includes(s.tty_token!) && !q.path.includes(p.key), q.path);
  assert.equal(upgrades[0].headers.authorization, `Bearer ${s.tty_token}`);
});

test("an upgrade refused with 401 names the tty token, and LAP_TTY_TOKEN overrides it", async () => {
  const p = await platform({ wrongTtyToken: true });
  const env = loggedIn(p);
  const r = await run(["demo"], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /✗ .*terminal upgrade refused: 401.*\n  the harness refused the tty token/);
  assert.equal(p.spawnCount, 0);
  const [s] = p.sessions.values();
  const good = await attachInProcess(["demo"], { ...env, LAP_TTY_TOKEN: p.harnessToken(s.id) });
  assert.equal(good.code, 0, good.stderr);
});

test("the program exiting closes with [ws closed] and the code", async () => {
  const p = await platform();
  const l = new InProcessLap(["demo"], loggedIn(p));
  await l.waitFor(/\$ /);
  l.type("exit\r");
  const r = await l.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\[ws closed\] 1005\n· the program ended; session \S+ is still ready, and a new attach starts the program afresh in the same sandbox, files kept: lap attach \S+\n/);
});

test("lap attach takes a session id, the start of one, or a pasted session URL; --resume is the same", async () => {
  const p = await platform();
  const env = loggedIn(p);
  await attachInProcess(["demo"], env, "HERE=1; echo R=$((6*7))");
  const [s] = p.sessions.values();
  for (const args of [["attach", s.id], ["attach", s.id.slice(0, 8)], ["attach", `${p.url}/api/v1/managed_agents/sessions/${s.id}`], ["--resume", s.id]]) {
    const r = await attachInProcess(args, env, 'echo "H=$HERE"', /H=1/);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`reconnect: lap attach ${s.id}`));
  }
  assert.equal(p.sessions.size, 1);
});

test("every byte reaches a slow stdout pipe before lap exits", async () => {
  // A harness that streams a known 24 MiB and closes, reached through
  // LAP_TTY_FALLBACK, so the bytes are exactly countable.
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(wss, "listening");
  const chunk = Buffer.alloc(64 << 10, "x");
  wss.on("connection", (ws) => {
    for (let i = 0; i < 384; i++) ws.send(chunk, { binary: i % 2 === 0 });
    ws.close();
  });
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const fallback = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/tty`;
  const l = new Lap(["demo"], loggedIn(p, { LAP_TTY_FALLBACK: fallback }));
  let bytes = 0;
  l.child.stdout!.removeAllListeners("data");
  // A reader that takes a millisecond per chunk: lap's stdout pipe fills.
  const slow = new Writable({
    highWaterMark: 1024,
    write(c: Buffer, _enc, done) {
      bytes += c.length;
      setTimeout(done, 1);
    },
  });
  const finished = once(slow, "finish");
  l.child.stdout!.pipe(slow);
  const r = await l.exited;
  await finished;
  wss.close();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(bytes, 384 * chunk.length);
});

// lap writes its own text (tables, help, messages) straight to the
// descriptor; these are the two ways that can go wrong. PIPE_READER runs a
// command with stdout a pipe, read slowly after O_NONBLOCK is set on it
// ("slow"), or closed before the command starts ("closed", as when
// `lap agents | head -1` has read its line).
const PIPE_READER = `
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
if sys.argv[1] == "closed":
    os.close(r)
else:
    fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
p = subprocess.Popen(sys.argv[2:], stdout=w)
os.close(w)
while sys.argv[1] == "slow":
    time.sleep(0.002)
    b = os.read(r, 16384)
    if not b: break
    sys.stdout.buffer.write(b)
sys.exit(p.wait())
`;

function throughPipe(mode: "slow" | "closed", args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.env.PTYHOST_PYTHON || "python3", ["-c", PIPE_READER, mode, process.execPath, LAP, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  // A lap that does not notice its reader is gone would run on (logs -f):
  // the reader and lap, a process group of their own, are ended together.
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 20_000);
  return once(child, "close").then(([code]) => {
    clearTimeout(timer);
    return { code: code as number, stdout, stderr };
  });
}

test("a table bigger than a pipe reaches a reader that left it non-blocking; a reader gone ends lap quietly", async () => {
  const p = await platform();
  for (let i = 0; i < 3000; i++) p.addAgent({ name: `agent-${String(i).padStart(4, "0")}`, harness_id: "claude-code", supports_tui: true });
  const env = loggedIn(p);
  const whole = await lap(["agents"], env);
  assert.equal(whole.code, 0, whole.stderr);
  assert.ok(whole.stdout.length > 128 << 10, "more than a pipe holds");

  // lap's writes meet EAGAIN; every byte must still arrive, in order.
  const slow = await throughPipe("slow", ["agents"], env);
  assert.equal(slow.code, 0, slow.stderr);
  assert.equal(slow.stdout, whole.stdout);

  // lap's first write to stdout meets EPIPE: exit 0 and no error, even
  // while following.
  await newSession(p);
  for (const args of [["agents"], ["--help"], ["--version"], ["logs", "demo", "-f"]]) {
    const gone = await throughPipe("closed", args, env);
    assert.equal(gone.code, 0, `${args.join(" ")}: ${gone.stderr}`);
    assert.doesNotMatch(gone.stderr, /✗|error/i, args.join(" "));
  }
});

test("a full disk under stdout is one line and exit status 1, never an internal error", { skip: !fs.existsSync("/dev/full") && "no /dev/full here" }, async () => {
  const env = loggedIn(await platform());
  for (const args of [["agents"], ["--help"], ["--version"]]) {
    const r = await new Lap(args, env, "/dev/full").exited;
    assert.equal(r.code, 1, args.join(" "));
    assert.equal(r.stderr, "✗ cannot write to stdout: ENOSPC: no space left on device, write\n", args.join(" "));
  }
});

test("a platform that cannot be reached is one line naming the host", async () => {
  const server = http.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  const r = await run(["agents"], loggedIn({ url: `http://127.0.0.1:${port}`, key: "k" }));
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split("\n")[0], `✗ 127.0.0.1:${port}: connection refused`);
});

test("an HTML error page from a proxy is shown as text, not dumped", async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(502, { "content-type": "text/html" });
    res.end("<html><body><h1>502 Bad Gateway</h1>\x1b]0;pwned\x07</body></html>");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  const r = await run(["agents"], loggedIn({ url: `http://127.0.0.1:${port}`, key: "k" }));
  server.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ 127\.0\.0\.1:\d+: GET \/api\/v1\/managed_agents\/agents: 502 502 Bad Gateway \\x1b\]0;pwned\\x07\n/);
});

test("a redirect is not followed, so the master key never goes to another origin", async () => {
  let followed = false;
  const elsewhere = http.createServer((_req, res) => {
    followed = true;
    res.end("{}");
  });
  elsewhere.listen(0, "127.0.0.1");
  await once(elsewhere, "listening");
  const to = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/steal`;
  const server = http.createServer((_req, res) => {
    res.writeHead(302, { location: to });
    res.end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const r = await run(["agents"], loggedIn({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, key: "k" }));
  server.close();
  elsewhere.close();
  assert.equal(r.code, 1);
  assert.match(r.stderr, /redirected \(302\) to http:\/\/127\.0\.0\.1:\d+\/steal; not following it/);
  assert.equal(followed, false);
});

test("usage errors exit 2 with one line and a hint", async () => {
  const env = { HOME: home() };
  for (const [args, message] of [
    [["--bogus"], "✗ unknown flag '--bogus'"],
    [["attach"], "✗ attach needs a session id"],
    [["agents", "extra"], "✗ unexpected argument 'extra' for 'lap agents'"],
    [["demo", "--timeout", "soon"], "✗ --timeout 'soon' is not a duration"],
    [["demo", "other"], "✗ unexpected argument 'other'"],
    // An unset variable (lap stop "$ID") must not be the start of every id.
    [["stop", "", "--yes"], "✗ an empty argument to 'lap stop'"],
    [["--agent", " "], "✗ an empty argument to 'lap <agent>'"],
  ] as const) {
    const r = await run([...args], env);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.split("\n")[0], message);
  }
});

test("--help for every command, and --version, exit 0", async () => {
  const env = { HOME: home() };
  for (const args of [["--help"], ["-h"], ["login", "--help"], ["agents", "--help"], ["attach", "--help"], ["demo", "--help"], ["help", "config"], []]) {
    const r = await run(args, env);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /usage/);
  }
  // The version is what make build stamped beside the compiled entry.
  const v = await lap(["--version"], env);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^lap \d+\.\d+\.\d+ \(\w+\)\n$/);
});
