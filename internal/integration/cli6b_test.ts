// Integration tests for detach keys, chat mode, recording, proxies, private
// CAs and the token in the query: lap's main() run in this process against
// the local platform and harness over real sockets. A CA file is read by
// Node when a process starts, so those runs spawn the compiled CLI.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import { parseCommand } from "../cli.js";
import { startPlatform, type Platform, type PlatformOptions } from "../platform/platform.js";
import { hasOpenssl, makeCerts, startProxy, type TestCerts } from "../testutil/testnet.js";
import { InProcessLap, assertUsageErrors, attachAndRun, attachInProcess, homes, run } from "../testutil/testcli.js";

const { tmp, home, loggedIn } = homes("lap-cli6b-test-");

const closers: (() => Promise<void> | void)[] = [];
// Closed together: each closer waits only on what it owns.
after(() => Promise.all(closers.map((c) => c())));

async function platform(opts: PlatformOptions = {}): Promise<Platform> {
  const p = await startPlatform({ bringUpMs: 0, ...opts });
  closers.push(() => p.close());
  p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
  return p;
}

// readByte runs a remote command that reads one raw byte and prints it in
// hex, and resolves once the remote side is waiting for that byte.
async function readByte(l: InProcessLap, n: number): Promise<void> {
  await l.waitFor(/\$ /);
  l.type(`stty raw -echo; echo "RE""ADY${n}"; B=$(head -c 1 | od -An -tx1); stty sane; echo "B${n}=[$B]"\r`);
  await l.waitFor(new RegExp(`READY${n}`));
}

// ---- the flags ----

test("--detach-keys, --record and --record-input go before or after the positionals", () => {
  const TEN_MINUTES = 600_000;
  const table: [string[], unknown][] = [
    [["demo", "--detach-keys", "ctrl-p,ctrl-q"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, detachKeys: "ctrl-p,ctrl-q" }],
    [["--detach-keys", "none", "demo"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, detachKeys: "none" }],
    [["demo", "--record", "s.cast"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, record: "s.cast" }],
    [["--record-input", "demo", "--record", "s.cast"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, record: "s.cast", recordInput: true }],
    [["attach", "abc", "--detach-keys", "ctrl-]", "--record", "a.cast"], { cmd: "attach", session: "abc", timeoutMs: TEN_MINUTES, detachKeys: "ctrl-]", record: "a.cast" }],
    [["--resume", "abc", "--record", "a.cast"], { cmd: "attach", session: "abc", timeoutMs: TEN_MINUTES, record: "a.cast" }],
  ];
  for (const [argv, want] of table) assert.deepEqual(parseCommand(argv), want, argv.join(" "));
});

test("bad session flags are usage errors with the exact message", () => {
  const table: [string[], string][] = [
    [["demo", "--detach-keys", "ctrl-p,bogus"], "--detach-keys 'ctrl-p,bogus': 'bogus' is not a key"],
    [["demo", "--detach-keys"], "flag '--detach-keys' needs a value"],
    [["agents", "--detach-keys", "ctrl-p"], "--detach-keys does not apply to 'lap agents'"],
    [["sessions", "--record", "x.cast"], "--record does not apply to 'lap sessions'"],
    [["login", "--record-input"], "--record-input does not apply to 'lap login'"],
    [["demo", "--record-input"], "--record-input needs --record <file.cast>"],
    [["demo", "--record", ""], "--record needs a file name"],
  ];
  assertUsageErrors(table);
});

test("the help names the new flags and variables", async () => {
  const r = await run(["--help"], { HOME: home() });
  for (const word of ["--detach-keys", "--record", "--record-input", "LAP_TTY_TOKEN_IN_QUERY", "HTTPS_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "chat"]) {
    assert.ok(r.stdout.includes(word), word);
  }
  const open = await run(["demo", "--help"], { HOME: home() });
  assert.match(open.stdout, /ctrl-p,ctrl-q/);
  assert.match(open.stdout, /asciicast/);
});

// ---- detach keys ----

test("by default a lone Ctrl-D detaches, also as kitty's CSI 100;5u", async () => {
  const p = await platform();
  const env = loggedIn(p);
  for (const keys of ["\x04", "\x1b[100;5u", "\x1b[27;5;100~"]) {
    const l = new InProcessLap(["demo"], env);
    await l.waitFor(/\$ /);
    await l.waitFor(/— Ctrl-D detaches\n/, "stderr");
    l.type(keys);
    const r = await l.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /· detached — session \S+ keeps running; reconnect: lap demo/, JSON.stringify(keys));
  }
});

test("--detach-keys ctrl-p,ctrl-q detaches on the sequence and sends a lone Ctrl-D to the program", async () => {
  const p = await platform();
  const l = new InProcessLap(["demo", "--detach-keys", "ctrl-p,ctrl-q"], loggedIn(p));
  await readByte(l, 1);
  await l.waitFor(/— Ctrl-P Ctrl-Q detaches\n/, "stderr");
  l.type("\x04");
  await l.waitFor(/B1=\[ 04\]/);
  // A partial match that is not completed reaches the program unchanged.
  await readByte(l, 2);
  l.type("\x10");
  l.type("x");
  await l.waitFor(/B2=\[ 10\]/);
  l.type("\x10");
  l.type("\x1b[113;5u");
  const r = await l.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /· detached — session/);
});

test("the config file's detachKeys is used, the flag wins over it, and a bad one is named", async () => {
  const p = await platform();
  const env = loggedIn(p, {}, { detachKeys: "ctrl-]" });
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  await l.waitFor(/— Ctrl-] detaches\n/, "stderr");
  l.type("\x1d");
  assert.equal((await l.exited).code, 0);

  const flag = new InProcessLap(["demo", "--detach-keys", "none"], env);
  await flag.waitFor(/\$ /);
  await flag.waitFor(/— no detach keys \(--detach-keys none\)\n/, "stderr");
  flag.end();
  assert.equal((await flag.exited).code, 0);

  const bad = loggedIn(p, {}, { detachKeys: "ctrl-p,nope" });
  const r = await run(["demo"], bad);
  assert.equal(r.code, 1);
  const file = path.join(bad.HOME, ".lap", "config.json");
  assert.equal(r.stderr.split("\n")[0], `✗ config ${file}: "detachKeys" 'ctrl-p,nope': 'nope' is not a key`);
  assert.equal(p.sessions.size, 1, "no session was made for the bad config");
});

// ---- chat mode ----

test("an agent without a terminal gets a chat: piped lines are sent and the answers printed", async () => {
  const p = await platform();
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const env = loggedIn(p);
  const r = await run(["sdk"], env, "hello\nhow are you?\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, "echo: hello\necho: how are you?\n");
  assert.match(r.stderr, /· started session \S+\n/);
  assert.match(r.stderr, /· chatting with sdk \(session [0-9a-f]{8}\)\n/);
  assert.match(r.stderr, /· chat ended — session \S+ keeps running; continue: lap sdk\n$/);
  const [s] = p.sessions.values();
  assert.equal(s.status, "ready");
  const messages = p.requests.filter((q) => q.method === "POST" && q.path.endsWith("/message_stream"));
  assert.deepEqual(messages.map((q) => q.path), [2, 1].map(() => `/api/v1/managed_agents/sessions/${s.id}/message_stream`));

  // Again: the same session, and lap attach chats with it too.
  const again = await run(["sdk"], env, "again\n");
  assert.equal(again.stdout, "echo: again\n");
  assert.match(again.stderr, /· reattaching to session /);
  const attached = await run(["attach", s.id, "--record", path.join(tmp, "never.cast")], env, "by id\n");
  assert.equal(attached.code, 0, attached.stderr);
  assert.equal(attached.stdout, "echo: by id\n");
  assert.match(attached.stderr, /! nothing is recorded: --record records a terminal, and this agent has none/);
  assert.equal(fs.existsSync(path.join(tmp, "never.cast")), false);
  assert.equal(p.sessions.size, 1);
});

test("a chat's flags: --json prints one object per answer, --stdin-message sends all of stdin as one", async () => {
  const p = await platform({ chatScript: (text) => [{ tool: "bash", states: ["running", "completed"] }, { text: `got ${text.split("\n").length} lines` }, { info: { tokens: { output: 4 }, cost: 0.001 } }] });
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const env = loggedIn(p);
  const r = await run(["sdk", "--json"], env, "one\ntwo\n");
  assert.equal(r.code, 0, r.stderr);
  const answers = r.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(answers.map((a) => [a.text, a.tools, a.tokens, a.cost]), [1, 2].map(() => ["got 1 lines", [{ name: "bash", status: "completed" }], { output: 4 }, 0.001]));
  const whole = await run(["sdk", "--stdin-message", "--history", "0"], env, "one\ntwo\nthree\n");
  assert.equal(whole.code, 0, whole.stderr);
  assert.equal(whole.stdout, "got 3 lines\n");
  assert.match(whole.stderr, /✓ bash\n/);
});

// ---- recording ----

test("--record writes an asciicast v2 file, 0600, with the output and without the input", async () => {
  const p = await platform();
  const file = path.join(tmp, "demo.cast");
  const r = await attachInProcess(["demo", "--record", file], loggedIn(p, { TERM: "xterm-256color" }));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`· recorded to ${file} — play it with: asciinema play ${file}\n$`));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const [first, ...rest] = fs.readFileSync(file, "utf8").trimEnd().split("\n");
  const header = JSON.parse(first);
  assert.equal(header.version, 2);
  assert.deepEqual([header.width, header.height, header.env], [80, 24, { TERM: "xterm-256color" }]);
  assert.ok(Math.abs(header.timestamp - Date.now() / 1000) < 120);
  const events = rest.map((l) => JSON.parse(l) as [number, string, string]);
  assert.ok(events.every((e) => e[1] === "o" && typeof e[0] === "number" && typeof e[2] === "string"));
  assert.match(events.map((e) => e[2]).join(""), /R=42/);
  assert.equal(r.stdout, events.map((e) => e[2]).join(""));
});

test("--record-input adds what was typed as i events", async () => {
  const p = await platform();
  const file = path.join(tmp, "input.cast");
  const r = await attachInProcess(["demo", "--record", file, "--record-input"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
  const events = fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(1).map((l) => JSON.parse(l) as [number, string, string]);
  assert.equal(events.filter((e) => e[1] === "i").map((e) => e[2]).join(""), 'echo "R=$((6*7))"\r');
});

test("a recording that cannot be written is refused before a session is made", async () => {
  const p = await platform();
  const file = path.join(tmp, "missing-dir", "x.cast");
  const r = await run(["demo", "--record", file], loggedIn(p));
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split("\n")[0], `✗ cannot write the recording ${file}: no such directory`);
  assert.equal(p.sessions.size, 0);
});

// ---- networks ----

test("HTTP_PROXY carries the API calls in absolute form and the WebSocket through CONNECT; NO_PROXY bypasses it", async () => {
  const p = await platform();
  const proxy = await startProxy();
  closers.push(() => proxy.close());
  const host = new URL(p.url).host;
  const r = await attachInProcess(["demo"], loggedIn(p, { HTTP_PROXY: proxy.url }));
  assert.equal(r.code, 0, r.stderr);
  const api = p.requests.filter((q) => q.path.startsWith("/api/"));
  const upgrades = p.requests.filter((q) => q.path.includes("/tty"));
  assert.ok(api.length >= 2, `${api.length} API calls`);
  assert.equal(proxy.forwarded.length, api.length);
  assert.ok(proxy.forwarded.every((line) => line.includes(` http://${host}/api/`)), proxy.forwarded.join("\n"));
  assert.equal(proxy.connects.length, upgrades.length);
  assert.ok(proxy.connects.every((c) => c === host));

  const before = proxy.connects.length + proxy.forwarded.length;
  const lower = await attachInProcess(["demo"], loggedIn(p, { http_proxy: proxy.url, no_proxy: "localhost,127.0.0.1" }));
  assert.equal(lower.code, 0, lower.stderr);
  assert.equal(proxy.connects.length + proxy.forwarded.length, before);
});

test("a proxy that refuses is named in one line", async () => {
  const p = await platform();
  const proxy = await startProxy({ refuse: 407 });
  closers.push(() => proxy.close());
  const r = await run(["agents"], loggedIn(p, { HTTPS_PROXY: "http://nowhere.invalid:1", HTTP_PROXY: proxy.url }));
  assert.equal(r.code, 1);
  const host = new URL(p.url).host;
  assert.equal(r.stderr.split("\n")[0], `✗ ${host}: via proxy ${proxy.url}: refused ${host}: 407 Proxy Authentication Required ` +
    "(the proxy wants credentials: http://user:password@proxy:port)");
});

test("LAP_TTY_TOKEN_IN_QUERY=1 adds ?token= to the upgrade as well, with a warning that never shows the token", async () => {
  const p = await platform();
  const r = await attachInProcess(["demo"], loggedIn(p, { LAP_TTY_TOKEN_IN_QUERY: "1" }));
  assert.equal(r.code, 0, r.stderr);
  const [s] = p.sessions.values();
  const upgrade = p.requests.find((q) => q.path.includes("/tty"))!;
  assert.equal(upgrade.path, `/h/${s.id}/tty?token=${s.tty_token}`);
  assert.equal(upgrade.headers.authorization, `Bearer ${s.tty_token}`);
  assert.match(r.stderr, /! LAP_TTY_TOKEN_IN_QUERY: the tty token also goes in the URL, where access logs on the way will record it\n/);
  assert.ok(!(r.stderr + r.stdout).includes(s.tty_token!), "the token is never printed");
});

// tlsFront terminates TLS with the test's certificate in front of the
// platform, so https:// and wss:// reach it.
async function tlsFront(p: Platform, certs: TestCerts): Promise<string> {
  const target = new URL(p.url);
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: certs.key, cert: certs.cert }, (client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

let certs: TestCerts | null = null;
function testCerts(): TestCerts {
  certs ??= makeCerts(fs.mkdtempSync(path.join(tmp, "certs-")));
  return certs;
}

test("a platform with a private CA works with NODE_EXTRA_CA_CERTS, and without it says TLS error", { skip: !hasOpenssl() && "no openssl" }, async () => {
  const c = testCerts();
  // tty_url as a path: the WebSocket is wss:// through the same TLS front.
  const p = await platform({ ttyUrl: "path" });
  const front = await tlsFront(p, c);
  const platformOverTls = { url: `https://${front}`, key: p.key };
  const ok = await attachAndRun(["demo"], loggedIn(platformOverTls, { NODE_EXTRA_CA_CERTS: c.caFile }));
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(p.requests.some((q) => q.path.includes("/tty")), "the terminal came through wss://");

  const refused = await run(["demo"], loggedIn(platformOverTls));
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, `✗ ${front}: TLS error (UNABLE_TO_VERIFY_LEAF_SIGNATURE)\n` +
    "  the certificate is not trusted: for a private CA, export NODE_EXTRA_CA_CERTS=/path/to/ca.pem\n");

  // Through a proxy as well: TLS to the platform inside the tunnel.
  const proxy = await startProxy();
  closers.push(() => proxy.close());
  const proxied = await attachAndRun(["demo"], loggedIn(platformOverTls, { NODE_EXTRA_CA_CERTS: c.caFile, HTTPS_PROXY: proxy.url }));
  assert.equal(proxied.code, 0, proxied.stderr);
  assert.ok(proxy.connects.length >= 2 && proxy.connects.every((t) => t === front));
});

test("a wss:// terminal with an untrusted certificate fails with a TLS error naming its host", { skip: !hasOpenssl() && "no openssl" }, async () => {
  const c = testCerts();
  const p = await platform({ inCluster: true, ttyUrl: "none" });
  const front = await tlsFront(p, c);
  const env = loggedIn(p);
  // The fallback is only known once the session exists: create it first.
  await run(["demo", "--timeout", "1ms"], env);
  const [s] = p.sessions.values();
  const fallback = `wss://${front}/h/${s.id}/tty`;
  const r = await run(["demo"], { ...env, LAP_TTY_FALLBACK: fallback });
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`✗ ${front.replace(/\./g, "\\.")}: terminal connection failed: TLS error \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)\\n  the certificate is not trusted`));
  const ok = await attachAndRun(["demo"], { ...env, LAP_TTY_FALLBACK: fallback, NODE_EXTRA_CA_CERTS: c.caFile });
  assert.equal(ok.code, 0, ok.stderr);
});
