import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type * as net from "node:net";
import * as path from "node:path";
import { Api } from "./api.js";
import { closeIdle, nodeFetch } from "./nodefetch.js";
import { Lap, attachAndRun, homes, lap, platforms } from "./testutil/testcli.js";
import { startProxy } from "./testutil/testnet.js";

const { tmp, loggedIn } = homes("lap-nodefetch-test-");
const platform = platforms();

// A server that counts the connections its requests came in on.
async function counting() {
  const sockets = new Set<net.Socket>();
  const srv = http.createServer((req, res) => {
    sockets.add(req.socket);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ data: [], total: 0, path: req.url }));
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return { base: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, sockets };
}

test("the calls of a command share one kept-alive connection", async () => {
  const s = await counting();
  const api = new Api(s.base, "k", nodeFetch);
  await api.listAgents();
  await api.call("GET", "/one");
  await api.call("POST", "/two", { x: 1 });
  assert.equal(s.sockets.size, 1);
  closeIdle();
  await api.call("GET", "/three");
  assert.equal(s.sockets.size, 2);
  closeIdle();
});

// A server that drops a kept-alive connection the moment a second request
// arrives on it, as one closing an idle connection does when lap's next
// request crosses the close.
async function dropping() {
  const served = new Set<net.Socket>();
  let connections = 0;
  const srv = http.createServer((req, res) => {
    if (served.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    served.add(req.socket);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ method: req.method }));
  });
  srv.on("connection", () => connections++);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return { base: `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, connections: () => connections };
}

test("a GET on a kept-alive connection the server dropped is sent again on a new one; a POST is not", async () => {
  const s = await dropping();
  const api = new Api(s.base, "k", nodeFetch);
  assert.deepEqual(await api.call("GET", "/a"), { method: "GET" });
  assert.deepEqual(await api.call("GET", "/b"), { method: "GET" });
  assert.equal(s.connections(), 2);
  await assert.rejects(api.call("POST", "/c", {}), /connection reset|socket hang up/);
  closeIdle();
});

test("answers without a body have none, and non-string bodies are refused", async () => {
  const srv = http.createServer((_req, res) => {
    res.writeHead(204);
    res.end();
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}/`;
  const res = await nodeFetch(url, { method: "DELETE" });
  assert.equal(res.status, 204);
  assert.equal(res.ok, true);
  assert.equal(res.body, null);
  assert.equal(res.headers.get("content-type"), null);
  await assert.rejects(nodeFetch(url, { method: "POST", body: Buffer.from("x") as unknown as string }), TypeError);
  closeIdle();
  srv.close();
});

// ---- undici is never loaded ----

// The probe is --require'd into the compiled CLI and writes the list of
// modules Node loaded (its own, then the files required), at exit, to the
// file PROBE_OUT names.
const probe = path.join(tmp, "probe.js");
fs.writeFileSync(probe, 'process.on("exit", () => require("fs").writeFileSync(process.env.PROBE_OUT, [...process.moduleLoadList, ...Object.keys(require.cache)].join("\\n")));\n');
let probes = 0;

function probed(env: Record<string, string>): { env: Record<string, string>; loaded: () => string[] } {
  const out = path.join(tmp, `loaded-${++probes}.txt`);
  return {
    env: { ...env, NODE_OPTIONS: `--require ${probe}`, PROBE_OUT: out },
    loaded: () => fs.readFileSync(out, "utf8").split("\n"),
  };
}

function assertNoUndici(what: string, loaded: string[]): void {
  // The probe saw the command's own modules: it did run.
  assert.ok(loaded.some((m) => m === "NativeModule fs"), `${what}: the probe ran`);
  // Node's own modules only (the files required follow them: nodefetch.js is lap's).
  const undici = loaded.filter((m) => !path.isAbsolute(m) && /undici|fetch/i.test(m));
  assert.deepEqual(undici, [], `${what} loaded ${undici.join(", ")}`);
}

for (const via of ["", "a proxy"]) {
  test(`no command loads undici (fetch's HTTP client)${via ? " through " + via : ""}: agents, attach, chat, doctor`, async () => {
    const p = await platform();
    p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
    const proxy = via ? await startProxy() : null;
    after(() => proxy?.close());
    const base = () => loggedIn(p, proxy ? { HTTP_PROXY: proxy.url } : {});

    const agents = probed(base());
    const listed = await lap(["agents"], agents.env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /demo/);
    assertNoUndici("lap agents", agents.loaded());

    const attach = probed(base());
    const attached = await attachAndRun(["demo"], attach.env);
    assert.equal(attached.code, 0, attached.stderr);
    assertNoUndici("lap demo (attach)", attach.loaded());

    const byId = probed(base());
    const [id] = [...p.sessions.keys()];
    const reattached = await attachAndRun(["attach", id!], byId.env);
    assert.equal(reattached.code, 0, reattached.stderr);
    assertNoUndici("lap attach <id>", byId.loaded());

    const chat = probed(base());
    const chatted = new Lap(["sdk"], chat.env);
    await chatted.waitFor(/chatting with sdk/, "stderr");
    chatted.type("hello\n");
    chatted.child.stdin.end();
    const ended = await chatted.exited;
    assert.equal(ended.code, 0, ended.stderr);
    assertNoUndici("lap sdk (chat)", chat.loaded());

    const doctor = probed(base());
    const checked = await lap(["doctor", "demo", "--idle", "1s"], doctor.env);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    assertNoUndici("lap doctor", doctor.loaded());

    if (proxy) assert.ok(proxy.forwarded.length >= 4 && proxy.connects.length >= 2, "the commands went through the proxy");
  });
}

// ---- what a command loads ----

test("start-up loads no stream machinery for --version and --help, and attaching loads ws's client class alone", async () => {
  const p = await platform();
  // What Node loads by itself does not count: Node 18 loads the streams
  // before any script runs, Node 20 does not.
  const bare = probed({ PATH: process.env.PATH ?? "" });
  execFileSync(process.execPath, ["-e", "0"], { env: bare.env });
  const byNode = new Set(bare.loaded());
  for (const args of [["--version"], ["--help"]]) {
    const run = probed(loggedIn(p));
    const r = await lap(args, run.env);
    assert.equal(r.code, 0, r.stderr);
    const loaded = run.loaded();
    assert.ok(loaded.some((m) => m.endsWith(path.join("internal", "cli.js"))), "the probe saw lap");
    // Making process.stdout (a pipe here) loads net and the streams: 3–6 ms.
    const streams = loaded.filter((m) => /^NativeModule (net|stream|tty|internal\/streams\/(readable|writable|duplex))$/.test(m) && !byNode.has(m));
    assert.deepEqual(streams, [], `lap ${args.join(" ")} loaded ${streams.join(", ")}`);
  }

  const listing = probed(loggedIn(p));
  assert.equal((await lap(["agents"], listing.env)).code, 0);
  assert.deepEqual(listing.loaded().filter((m) => m.includes(`${path.sep}ws${path.sep}`)), [], "lap agents loads no ws");

  const attach = probed(loggedIn(p));
  const attached = await attachAndRun(["demo"], attach.env);
  assert.equal(attached.code, 0, attached.stderr);
  const ws = attach.loaded().filter((m) => m.includes(`node_modules${path.sep}ws${path.sep}`)).map((m) => m.slice(m.lastIndexOf(`${path.sep}ws${path.sep}`) + 4));
  assert.ok(ws.includes(path.join("lib", "websocket.js")), `ws loaded: ${ws.join(", ")}`);
  for (const unused of ["index.js", path.join("lib", "websocket-server.js"), path.join("lib", "stream.js")]) {
    assert.ok(!ws.includes(unused), `attaching loaded ws's ${unused}`);
  }
});
