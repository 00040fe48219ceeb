// Fault injection: lap's main(), run in this process, talks to the local
// platform through a TCP proxy that can drop, reset, stall, refuse and
// delay, as networks do.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import { once } from "node:events";
import { createHash } from "node:crypto";
import { startPlatform, type Platform } from "../platform/platform.js";
import { InProcessLap, homes } from "../testutil/testcli.js";

const { loggedIn } = homes("lap-faults-");

// FaultProxy forwards TCP to a target and misbehaves on request.
class FaultProxy {
  readonly server: net.Server;
  private pairs = new Set<[net.Socket, net.Socket]>();
  refusing = false;
  stalled = false;
  delayMs = 0;
  connections = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<string> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  private accept(client: net.Socket): void {
    this.connections++;
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on("data", (d) => {
        if (this.stalled) return; // a black hole: bytes vanish, nothing closes
        if (this.delayMs) setTimeout(() => to.write(d), this.delayMs);
        else to.write(d);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  }

  // drop ends every connection at once, as a NAT timeout or Wi-Fi change does.
  drop(): void {
    for (const [c, u] of this.pairs) {
      c.destroy();
      u.destroy();
    }
  }

  // truncate lets through only the first bytes of what the server sends
  // next, then cuts the connection: a frame ends in the middle.
  truncate(keep: number): void {
    for (const [c, u] of this.pairs) {
      u.removeAllListeners("data");
      u.once("data", (d: Buffer) => {
        c.write(d.subarray(0, keep));
        c.destroy();
        u.destroy();
      });
    }
  }

  // reset answers every connection with a TCP RST.
  reset(): void {
    for (const [c, u] of this.pairs) {
      c.resetAndDestroy();
      u.destroy();
    }
  }

  close(): void {
    this.drop();
    this.server.close();
  }
}

const cleanups: (() => unknown)[] = [];
// Closed together: each cleanup waits only on what it owns.
after(() => Promise.all(cleanups.map((c) => c())));

async function setup(restartMs?: number): Promise<{ p: Platform; proxy: FaultProxy; env: Record<string, string> }> {
  // tty_url as a path, so the terminal WebSocket goes through the proxy too.
  const p = await startPlatform({ bringUpMs: 0, ttyUrl: "path", ...(restartMs !== undefined && { restartMs }) });
  p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
  const proxy = new FaultProxy(Number(new URL(p.url).port));
  const base = await proxy.listen();
  cleanups.push(() => proxy.close(), () => p.close());
  return { p, proxy, env: loggedIn({ url: base, key: p.key }) };
}

test("a dropped connection is reconnected to the same session, and keys typed meanwhile arrive", async () => {
  const { p, proxy, env } = await setup();
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  l.type('MARK=kept; echo "A=$((1+1))"\r');
  await l.waitFor(/A=2/);
  proxy.refusing = true;
  proxy.drop();
  await l.waitFor(/reconnecting/, "stderr");
  l.type('echo "B=$MARK"\r');
  proxy.refusing = false;
  await l.waitFor(/B=kept/);
  l.end();
  assert.equal((await l.exited).code, 0, l.stderr);
  assert.equal(p.sessions.size, 1, "no second session");
  assert.match(l.stderr, /connection lost .*reconnecting, attempt 1/);
});

// survives attaches, breaks the link with fault once the shell is up, and
// checks that a command typed then runs in the same session. typeFirst
// types before the loss shows, for faults that need traffic to strike.
async function survives(fault: (proxy: FaultProxy) => void, opts: { env?: Record<string, string>; typeFirst?: boolean; afterLoss?: (proxy: FaultProxy) => void } = {}) {
  const { proxy, env } = await setup();
  const l = new InProcessLap(["demo"], { ...env, ...opts.env });
  await l.waitFor(/\$ /);
  fault(proxy);
  if (opts.typeFirst) l.type('echo "V=$((40+2))"\r');
  await l.waitFor(/reconnecting/, "stderr");
  opts.afterLoss?.(proxy);
  if (!opts.typeFirst) l.type('echo "V=$((40+2))"\r');
  await l.waitFor(/V=42/);
  l.end();
  assert.equal((await l.exited).code, 0, l.stderr);
}

test("a reset connection is reconnected too", () => survives((proxy) => proxy.reset()));

test("a stalled link is noticed by its unanswered ping and reconnected", () =>
  survives((proxy) => (proxy.stalled = true), {
    env: { LAP_KEEPALIVE: "400ms" },
    afterLoss: (proxy) => {
      proxy.stalled = false;
      proxy.drop();
    },
  }));

test("a frame cut off in the middle is a lost link, reconnected", () => survives((proxy) => proxy.truncate(3), { typeFirst: true }));

test("a link that stays down gives up with exit status 3, never 0", async () => {
  const { proxy, env } = await setup();
  const l = new InProcessLap(["demo"], { ...env, LAP_RECONNECT_TIMEOUT: "1s" });
  await l.waitFor(/\$ /);
  proxy.refusing = true;
  proxy.drop();
  assert.equal((await l.exited).code, 3, l.stderr);
  assert.match(l.stderr, /✗ connection lost .*\n  try again: lap demo\n$/);
});

test("a session stopped while the link was down is not reconnected to", async () => {
  const { p, proxy, env } = await setup();
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  const [s] = p.sessions.values();
  await fetch(`${p.url}/api/v1/managed_agents/sessions/${s.id}`, { method: "DELETE", headers: { authorization: `Bearer ${p.key}` } });
  proxy.drop();
  assert.equal((await l.exited).code, 1, l.stderr);
  assert.match(l.stderr, new RegExp(`· session ${s.id.slice(0, 8)} ended \\((deleted|stopped|dead)\\)`));
  assert.equal(p.sessions.size, 1, "no new session");
});

test("a session restarted while the link was down is waited for, then reached at its new address with its new token", async () => {
  const { p, proxy, env } = await setup(1_500);
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  const [s] = p.sessions.values();
  const before = s.tty_token;
  proxy.refusing = true;
  proxy.drop();
  await l.waitFor(/reconnecting/, "stderr");
  const restarted = fetch(`${p.url}/api/v1/managed_agents/sessions/${s.id}/restart`, { method: "POST", headers: { authorization: `Bearer ${p.key}` } });
  proxy.refusing = false;
  await l.waitFor(/session is starting again/, "stderr");
  assert.equal((await restarted).status, 200);
  assert.notEqual(s.tty_token, before, "the restart gave the sandbox a new token");
  l.type('echo "R=$((6*7))"\r');
  await l.waitFor(/R=42/);
  l.end();
  assert.equal((await l.exited).code, 0, l.stderr);
  assert.equal(p.sessions.size, 1, "no second session");
});

test("a session restarted under an open link is said to be starting again, not to have ended", async () => {
  const { p, env } = await setup(1_500);
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  const [s] = p.sessions.values();
  const restarted = fetch(`${p.url}/api/v1/managed_agents/sessions/${s.id}/restart`, { method: "POST", headers: { authorization: `Bearer ${p.key}` } });
  assert.equal((await l.exited).code, 1, l.stderr);
  assert.match(l.stderr, new RegExp(`· session ${s.id} is starting again \\(restarted\\); reattach: lap demo\n$`));
  assert.doesNotMatch(l.stderr, /ended/);
  await restarted;
});

test("a reconnect the harness refuses ends with the refusal and its hint", async () => {
  const { p, proxy, env } = await setup();
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  const [s] = p.sessions.values();
  s.tty_token = "not-the-harness-token";
  proxy.drop();
  assert.equal((await l.exited).code, 1, l.stderr);
  assert.match(l.stderr, /✗ 127\.0\.0\.1:\d+: terminal upgrade refused: 401.*\n  the harness refused the tty token: .*\n$/);
});

test("a slow link only slows things down: every typed byte arrives in order", async () => {
  const { proxy, env } = await setup();
  proxy.delayMs = 30;
  const l = new InProcessLap(["demo"], env);
  await l.waitFor(/\$ /);
  // 600 typed bytes, sent in many small writes, hashed inside the PTY.
  const text = Array.from({ length: 100 }, (_, i) => `w${i}`.padEnd(6, "x")).join("");
  l.type("printf %s '");
  for (let i = 0; i < text.length; i += 7) l.type(text.slice(i, i + 7));
  l.type("' | sha256sum\r");
  const want = createHash("sha256").update(text).digest("hex");
  await l.waitFor(new RegExp(`${want}  -`), "stdout", 30000);
  l.end();
  assert.equal((await l.exited).code, 0);
});

// agentsAgainst runs `lap agents` against a server made for one test.
async function agentsAgainst(server: net.Server, env: Record<string, string> = {}) {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const l = new InProcessLap(["agents"], { ...loggedIn({ url: `http://127.0.0.1:${port}`, key: "k" }), ...env });
  l.end();
  return { ...(await l.exited), port };
}

test("a silent platform does not hang lap: the first call times out with one line", async () => {
  // A server that accepts the connection and never answers.
  const r = await agentsAgainst(net.createServer(() => {}), { LAP_HTTP_TIMEOUT: "1s" });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split("\n")[0], `✗ 127.0.0.1:${r.port}: no answer (timed out)`);
});

test("a 200 with the wrong shape is one clear line", async () => {
  const server = http.createServer((_req, res) => {
    res.setHeader("content-type", "application/json");
    res.end('{"agents":"nope"}');
  });
  const r = await agentsAgainst(server);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ 127\.0\.0\.1:\d+: the agents list answer has an unexpected shape: no data array\n/);
});

test("a huge error body is cut, not read into memory whole", async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(500, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(1 << 20, "e");
    let sent = 0;
    const pump = () => {
      while (sent < 64 && res.write(chunk)) sent++;
      if (sent < 64) res.once("drain", pump);
      else res.end();
    };
    pump();
  });
  const r = await agentsAgainst(server);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^✗ 127\.0\.0\.1:\d+: answer too large/);
});

test("hostile agent names are printed with their control characters made visible", async () => {
  const p = await startPlatform({ bringUpMs: 0 });
  cleanups.push(() => p.close());
  p.addAgent({ name: "evil\x1b]0;owned\x07\x1b[2J", harness_id: "codex\x1b[31m" });
  const env = loggedIn({ url: p.url, key: p.key });
  const l = new InProcessLap(["agents"], env);
  l.end();
  assert.equal((await l.exited).code, 0, l.stderr);
  assert.doesNotMatch(l.stdout, /\x1b|\x07/);
  assert.match(l.stdout, /evil\\x1b\]0;owned\\x07\\x1b\[2J/);
  const miss = new InProcessLap(["no\x1b[2Jbody"], env);
  miss.end();
  assert.equal((await miss.exited).code, 1);
  assert.doesNotMatch(miss.stderr, /\x1b|\x07/);
});
