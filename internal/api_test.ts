import { test } from "node:test";
import assert from "node:assert/strict";
import { Api, errorText, hasTerminal, isUUID, sessionIdFrom, ttyURL, waitReady, type Session } from "./api.js";
import { visible } from "./output.js";
import { LapError, networkReason } from "./errors.js";
import { mask } from "./settings.js";
import { silentServer } from "./testutil/testnet.js";

const BASE = "https://lap.example.com";
const session = (s: Partial<Session>): Session => ({ id: "s1", agent_id: "a1", status: "ready", ...s });

test("the terminal URL is tty_url, else the sandbox's /tty, else the fallback, in every case", () => {
  const cases: [Partial<Session>, string | undefined, string][] = [
    [{ tty_url: "wss://tty.example.com/s1/tty" }, undefined, "wss://tty.example.com/s1/tty"],
    [{ tty_url: "ws://10.0.3.7:4096/tty" }, undefined, "ws://10.0.3.7:4096/tty"],
    [{ tty_url: "https://tty.example.com/tty" }, undefined, "wss://tty.example.com/tty"],
    [{ tty_url: "http://10.0.3.7:4096/tty" }, undefined, "ws://10.0.3.7:4096/tty"],
    [{ tty_url: "ws://10.0.3.7:4096/tty#frag" }, undefined, "ws://10.0.3.7:4096/tty"],
    [{ tty_url: "/api/v1/managed_agents/sessions/s1/tty" }, undefined, "wss://lap.example.com/api/v1/managed_agents/sessions/s1/tty"],
    [{ tty_url: "/api/tty", sandbox_url: "http://s-ab12.default.svc.cluster.local:4096" }, undefined, "wss://lap.example.com/api/tty"],
    [{ sandbox_url: "http://10.0.3.7:4096" }, undefined, "ws://10.0.3.7:4096/tty"],
    [{ sandbox_url: "https://sbx.example.com/" }, undefined, "wss://sbx.example.com/tty"],
    [{ sandbox_url: "http://s-ab12.default.svc.cluster.local:4096" }, "ws://localhost:9000/tty", "ws://localhost:9000/tty"],
    [{ sandbox_url: "http://s-ab12.default.svc:4096" }, "http://localhost:9000/tty", "ws://localhost:9000/tty"],
    [{ sandbox_url: "http://s-ab12.cluster.local:4096" }, "wss://gw/tty", "wss://gw/tty"],
    [{}, "ws://gw/tty", "ws://gw/tty"],
  ];
  for (const [s, fallback, want] of cases) assert.equal(ttyURL(session(s), BASE, fallback), want, JSON.stringify(s));
  assert.equal(ttyURL(session({ tty_url: "/x/tty" }), "http://127.0.0.1:4000/base", undefined), "ws://127.0.0.1:4000/x/tty");
});

test("an in-cluster sandbox without a fallback is the troubleshooting message", () => {
  for (const host of ["s-ab12.default.svc.cluster.local", "s-ab12.default.svc", "x.cluster.local"]) {
    assert.throws(() => ttyURL(session({ sandbox_url: `http://${host}:4096` }), BASE, undefined),
      (e: unknown) => e instanceof LapError && e.message === "session is in-cluster — no LAP_TTY_FALLBACK set");
  }
});

test("unusable terminal URLs are errors, not guesses", () => {
  assert.throws(() => ttyURL(session({ tty_url: "ftp://x/tty" }), BASE, undefined), /tty_url lap cannot use/);
  assert.throws(() => ttyURL(session({ sandbox_url: "::" }), BASE, undefined), /sandbox_url lap cannot use/);
  assert.throws(() => ttyURL(session({}), BASE, undefined), /neither tty_url nor sandbox_url/);
  assert.throws(() => ttyURL(session({}), BASE, "ftp://gw"), /not a WebSocket URL/);
});

test("a session is named by id or by a pasted URL", () => {
  assert.equal(sessionIdFrom("4f0c2a"), "4f0c2a");
  assert.equal(sessionIdFrom("https://lap.example.com/api/v1/managed_agents/sessions/4f0c2a"), "4f0c2a");
  assert.equal(sessionIdFrom("https://lap.example.com/ui/sessions/4f0c2a/?tab=1"), "4f0c2a");
  assert.throws(() => sessionIdFrom("a b"), /not a session id/);
});

test("agents without supports_tui have a terminal only for claude-code and codex", () => {
  assert.equal(hasTerminal({ id: "1", name: "a", harness_id: "claude-code" }), true);
  assert.equal(hasTerminal({ id: "1", name: "a", harness_id: "codex" }), true);
  assert.equal(hasTerminal({ id: "1", name: "a", harness_id: "hermes" }), false);
  assert.equal(hasTerminal({ id: "1", name: "a", harness_id: "hermes", supports_tui: true }), true);
  assert.equal(hasTerminal({ id: "1", name: "a", harness_id: "codex", supports_tui: false }), false);
  assert.equal(isUUID("0b7e6a4e-2f7c-4d3e-9a51-2b8c1d0e9f10"), true);
  assert.equal(isUUID("demo"), false);
});

test("error bodies are read whatever their shape, and made safe to print", () => {
  assert.equal(errorText('{"error":"unauthorized"}'), "unauthorized");
  assert.equal(errorText('{"error":["bad limit",{"loc":"offset"}]}'), 'bad limit; {"loc":"offset"}');
  assert.equal(errorText("<html><h1>502 Bad Gateway</h1></html>"), "502 Bad Gateway");
  assert.equal(errorText("plain\x1b[2Jtext"), "plain\\x1b[2Jtext");
  assert.equal(visible("a\u009bb\u2028"), "a\\x9bb\\u2028");
  assert.equal(visible("x".repeat(400)).length, 301);
});

test("keys are masked so they can be recognised but not used", () => {
  assert.equal(mask("sk-1234567890abc9xyz"), "…9xyz");
  assert.equal(mask("sk-123456789abcd"), "…abcd", "sixteen characters show their last four");
  assert.equal(mask("sk-123456789abc"), "****", "a key shorter than sixteen shows nothing");
  assert.equal(mask("short"), "****");
});

test("network failures are worded for people", () => {
  const withCode = (code: string) => Object.assign(new Error("fetch failed"), { cause: { code } });
  assert.equal(networkReason(withCode("ENOTFOUND")), "host not found (DNS)");
  assert.equal(networkReason(withCode("ECONNREFUSED")), "connection refused");
  assert.equal(networkReason(withCode("DEPTH_ZERO_SELF_SIGNED_CERT")), "TLS error (DEPTH_ZERO_SELF_SIGNED_CERT)");
  assert.equal(networkReason(Object.assign(new Error("t"), { name: "TimeoutError" })), "no answer (timed out)");
  assert.equal(networkReason(Object.assign(new Error("x"), { code: "ECONNRESET" })), "connection reset");
});

// A fetch that answers from a script, so waitReady's timing can be driven
// by a fake clock. The wire format itself is covered by cli_test.ts.
function scripted(statuses: Partial<Session>[]): { api: Api; calls: number } {
  const state = { calls: 0 };
  const fetchFn = (async () => {
    const s = statuses[Math.min(state.calls++, statuses.length - 1)];
    return new Response(JSON.stringify(session(s)), { status: 200 });
  }) as typeof fetch;
  return { api: new Api(BASE, "k", fetchFn), get calls() { return state.calls; } } as { api: Api; calls: number };
}

test("waiting polls at once, shows each phase once, and backs off gently", async () => {
  const phases: string[] = [];
  const sleeps: number[] = [];
  let now = 0;
  const { api } = scripted([
    { status: "creating", phase: "pod_pending" },
    { status: "creating", phase: "pod_pending" },
    { status: "creating", phase: "pod_running" },
    { status: "ready", phase: "ready" },
  ]);
  const s = await waitReady(api, session({ status: "creating", phase: "creating_sandbox" }), {
    timeoutMs: 60_000,
    onPhase: (p) => phases.push(p),
    sleep: async (ms) => void (sleeps.push(ms), (now += ms)),
    now: () => now,
  });
  assert.equal(s.status, "ready");
  assert.deepEqual(phases, ["creating_sandbox", "pod_pending", "pod_running", "ready"]);
  assert.deepEqual(sleeps, [250, 375, 562.5, 843.75]);
});

test("waiting stops at once on failed or dead, naming the reason and the session", async () => {
  const { api } = scripted([{ status: "failed", failure_reason: "quota exceeded" }]);
  await assert.rejects(
    waitReady(api, session({ status: "creating" }), { timeoutMs: 60_000, onPhase: () => {}, sleep: async () => {} }),
    (e: unknown) => e instanceof LapError && e.message === "session s1 is failed: quota exceeded",
  );
  await assert.rejects(
    waitReady(api, session({ status: "dead" }), { timeoutMs: 60_000, onPhase: () => {} }),
    /session s1 is dead/,
  );
});

test("waiting gives up after the timeout with what it last saw", async () => {
  let now = 0;
  const { api } = scripted([{ status: "creating", phase: "pod_pending" }]);
  await assert.rejects(
    waitReady(api, session({ status: "creating", phase: "pod_pending" }), {
      timeoutMs: 5_000,
      onPhase: () => {},
      sleep: async (ms) => void (now += ms),
      now: () => now,
    }),
    /not ready after 5s \(last seen: pod_pending\)/,
  );
});

test("a call whose answer trickles in past the time allowed is a timeout, not a reset", async (t) => {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"data":[');
    const drip = setInterval(() => res.write(" "), 50);
    req.socket.on("close", () => clearInterval(drip));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const api = new Api(`http://127.0.0.1:${port}`, "k", undefined, 300);
  await assert.rejects(api.listAgents(), (err: LapError) => {
    assert.equal(err.message, `127.0.0.1:${port}: timed out while reading the answer`);
    assert.match(err.hint ?? "", /try again/);
    return true;
  });
});

test("an event stream whose answer does not start within the call's time is given up", async (t) => {
  const { url, port } = await silentServer(t);
  const api = new Api(url, "k", undefined, 300);
  const events = api.sessionEvents("s1", new AbortController().signal);
  await assert.rejects(events.next(), (err: LapError) => err.message === `127.0.0.1:${port}: no answer (timed out)`);
});

test("an event stream that goes quiet, heartbeats and all, is given up; one that keeps beating is not", async (t) => {
  const http = await import("node:http");
  // Heartbeats every 100 ms for 3 s, then silence with the connection open.
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    let beats = 0;
    const beat = setInterval(() => (++beats <= 30 ? res.write(": heartbeat\n\n") : clearInterval(beat)), 100);
    req.socket.on("close", () => clearInterval(beat));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.closeAllConnections());
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const api = new Api(`http://127.0.0.1:${port}`, "k", undefined, 1_000, 1_000);
  const started = Date.now();
  const events = api.sessionEvents("s1", new AbortController().signal);
  await assert.rejects(async () => {
    for await (const _ of events); // heartbeats are not events
  }, (err: LapError) => err.message === `127.0.0.1:${port}: nothing came for 1s, not even a heartbeat`);
  assert.ok(Date.now() - started >= 3_000, "the beats kept it open past the quiet time");
});

test("a call leaves no listener on the caller's signal once it is over", async (t) => {
  const http = await import("node:http");
  const { EventEmitter } = await import("node:events");
  const server = http.createServer((_req, res) => res.end(JSON.stringify({ id: "s1", agent_id: "a", status: "ready" })));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => server.close());
  const api = new Api(`http://127.0.0.1:${(server.address() as { port: number }).port}`, "k");
  const stop = new AbortController();
  for (let i = 0; i < 20; i++) await api.getSession("s1", { signal: stop.signal });
  assert.equal(EventEmitter.getEventListeners(stop.signal, "abort").length, 0);
});
