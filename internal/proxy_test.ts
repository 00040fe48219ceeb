import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { WebSocketServer } from "ws";
import { Api } from "./api.js";
import { LapError } from "./errors.js";
import { bypassed, proxyFetch, proxyFor, tunnel, wsConnection } from "./proxy.js";
import { readSettings, type ProxySettings } from "./settings.js";

// The proxy settings lap reads from these variables.
const px = (env: Record<string, string>): ProxySettings => readSettings(env, "/").proxy;
import { hasOpenssl, makeCerts, startProxy, type TestProxy, type TestProxyOptions } from "./testutil/testnet.js";
import { dial, type Link } from "./ws.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-proxy-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

// A platform stand-in: answers JSON, a redirect, a 204, or nothing at all,
// records every request, and echoes WebSocket messages with the upgrade's URL.
async function server(secure?: { key: Buffer; cert: Buffer }) {
  const seen: Seen[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "http://elsewhere.example/steal" });
        res.end();
      } else if (req.url === "/empty") {
        res.writeHead(204);
        res.end();
      } else if (req.url === "/silent") {
        // never answers
      } else {
        res.writeHead(200, { "content-type": "application/json", "set-cookie": ["a=1", "b=2"] });
        res.end(JSON.stringify({ data: [{ id: "a1", name: "demo", harness_id: "codex" }], total: 1, echo: body }));
      }
    });
  };
  const srv = secure ? https.createServer(secure, handler) : http.createServer(handler);
  const wss = new WebSocketServer({ server: srv });
  const upgrades: Seen[] = [];
  wss.on("connection", (ws, req) => {
    upgrades.push({ method: "GET", url: req.url ?? "", headers: req.headers, body: "" });
    ws.on("message", (data: Buffer) => ws.send(Buffer.concat([Buffer.from("echo:"), data])));
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as net.AddressInfo).port;
  closers.push(() => new Promise<void>((resolve) => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    srv.closeAllConnections();
    srv.close(() => resolve());
  }));
  const scheme = secure ? "https" : "http";
  return { port, base: `${scheme}://127.0.0.1:${port}`, ws: `${secure ? "wss" : "ws"}://127.0.0.1:${port}/tty`, seen, upgrades };
}

// proxy is a proxy that tunnels (CONNECT) and forwards requests in absolute form.
async function proxy(opts: TestProxyOptions = {}): Promise<TestProxy> {
  const p = await startProxy(opts);
  closers.push(() => p.close());
  return p;
}

const viaHttp = (url: string, noProxy = ""): ProxySettings => ({ http: { name: "HTTP_PROXY", value: url }, noProxy });
const viaHttps = (url: string): ProxySettings => ({ https: { name: "HTTPS_PROXY", value: url }, noProxy: "" });

function echoOnce(link: Link, text: string): Promise<string> {
  return new Promise((resolve) => {
    link.listen({ message: (d) => resolve(d.toString()), pong: () => {}, close: () => {} });
    link.sendBytes(Buffer.from(text));
  });
}

test("the proxy for a URL comes from the environment, lowercase first, by scheme", () => {
  const u = (s: string) => new URL(s);
  const table: [Record<string, string>, string, string | null][] = [
    [{}, "https://p.example", null],
    [{ HTTPS_PROXY: "http://big:1" }, "https://p.example", "http://big:1/"],
    [{ https_proxy: "http://small:1", HTTPS_PROXY: "http://big:1" }, "https://p.example", "http://small:1/"],
    [{ https_proxy: "", HTTPS_PROXY: "http://big:1" }, "wss://p.example/tty", "http://big:1/"],
    [{ HTTPS_PROXY: "http://big:1" }, "http://p.example", null],
    [{ HTTP_PROXY: "http://plain:3128" }, "ws://p.example/tty", "http://plain:3128/"],
    [{ http_proxy: "proxy.corp:3128" }, "http://p.example", "http://proxy.corp:3128/"],
    [{ HTTPS_PROXY: "https://user:pw@tls.proxy:8443" }, "https://p.example", "https://user:pw@tls.proxy:8443/"],
    [{ HTTPS_PROXY: "http://big:1", NO_PROXY: "p.example" }, "https://p.example", null],
    [{ HTTPS_PROXY: "http://big:1", no_proxy: "other.example", NO_PROXY: "p.example" }, "https://p.example", "http://big:1/"],
  ];
  for (const [env, url, want] of table) {
    assert.equal(proxyFor(u(url), px(env))?.toString() ?? null, want, `${JSON.stringify(env)} ${url}`);
  }
});

test("a proxy lap cannot use is a clear error, with its password hidden", () => {
  assert.throws(() => proxyFor(new URL("https://p.example"), viaHttps("socks5://u:secret@s:1080")), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, "HTTPS_PROXY is a socks5 proxy; lap speaks to http(s) proxies only");
    return true;
  });
  assert.throws(() => proxyFor(new URL("http://p.example"), viaHttp("http://u:secret@[bad")), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, "HTTP_PROXY is not a URL: http://…@[bad");
    return true;
  });
  // Without a scheme, and with / or @ in the password: still hidden.
  for (const [raw, shown] of [["alice:hunter2@proxy.corp:31280x", "…@proxy.corp:31280x"], ["http://user:se/cr@t@[bad", "http://…@[bad"]]) {
    assert.throws(() => proxyFor(new URL("http://p.example"), viaHttp(raw)), { message: `HTTP_PROXY is not a URL: ${shown}` }, raw);
  }
});

test("NO_PROXY takes domains, subdomains, IPs, CIDR blocks, ports and *", () => {
  const table: [string, string, boolean][] = [
    ["*", "https://anything.example", true],
    ["example.com", "https://example.com", true],
    ["example.com", "https://lap.example.com", true],
    ["example.com", "https://notexample.com", false],
    [".example.com", "https://lap.example.com", true],
    [".example.com", "https://example.com", true],
    ["*.example.com", "https://lap.example.com", true],
    ["EXAMPLE.com", "https://Lap.Example.COM", true],
    ["a.test, example.com", "https://x.example.com/path", true],
    ["a.test b.test", "https://b.test", true],
    ["127.0.0.1", "http://127.0.0.1:8080", true],
    ["127.0.0.1", "http://127.0.0.2:8080", false],
    ["10.0.0.0/8", "https://10.20.30.40", true],
    ["10.0.0.0/8", "https://11.0.0.1", false],
    ["10.0.0.0/8", "https://ten.example", false],
    ["10.0.0.0/99", "https://10.0.0.1", false],
    ["::1", "http://[::1]:8080", true],
    ["[::1]:8080", "http://[::1]:8080", true],
    ["[::1]:9090", "http://[::1]:8080", false],
    ["fd00::/8", "https://[fd12::1]", true],
    ["example.com:443", "https://example.com", true],
    ["example.com:443", "http://example.com", false],
    ["example.com:8080", "ws://example.com:8080/tty", true],
    ["", "https://example.com", false],
  ];
  for (const [noProxy, url, want] of table) assert.equal(bypassed(new URL(url), noProxy), want, `${noProxy} ${url}`);
});

test("http:// API calls go to the proxy in absolute form, through a proxy that refuses CONNECT but to 443", async () => {
  const s = await server();
  const p = await proxy({ connect443Only: true });
  const api = new Api(s.base, "sk-master", proxyFetch(viaHttp(p.url)));
  const agents = await api.listAgents();
  assert.deepEqual(agents.map((a) => a.name), ["demo"]);
  const answer = await api.call("POST", "/echo", { title: "hi" });
  assert.equal((answer as { echo: string }).echo, '{"title":"hi"}');
  assert.deepEqual(p.forwarded, [`GET ${s.base}/api/v1/managed_agents/agents?limit=200&offset=0`, `POST ${s.base}/echo`]);
  assert.deepEqual(p.connects, []);
  assert.equal(s.seen[0].headers.authorization, "Bearer sk-master");
  assert.equal(s.seen[0].headers.host, `127.0.0.1:${s.port}`);
  assert.equal(s.seen[1].headers["content-type"], "application/json");
  assert.equal(p.forwardAuths[0], "");
  // The WebSocket still needs CONNECT, which this proxy refuses to a port but 443.
  await assert.rejects(dial(s.ws, { createConnection: wsConnection(s.ws, viaHttp(p.url)) }), /tunnel to 127\.0\.0\.1:\d+ refused: 403 Forbidden/);
});

test("a proxy URL with credentials sends them as Proxy-Authorization, and a 407 says so", async () => {
  const s = await server();
  const p = await proxy();
  const res = await proxyFetch(viaHttp(p.url.replace("//", "//me:p%40ss@")))(s.base + "/x");
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers.get("set-cookie"), "a=1, b=2");
  assert.equal(p.forwardAuths[0], `Basic ${Buffer.from("me:p@ss").toString("base64")}`);
  assert.equal(s.seen[0].headers["proxy-authorization"], undefined);
  // A % that starts no escape is the password's own character, not an error.
  assert.equal((await proxyFetch(viaHttp(p.url.replace("//", "//me:50%zz@")))(s.base + "/x")).status, 200);
  assert.equal(p.forwardAuths[1], `Basic ${Buffer.from("me:50%zz").toString("base64")}`);

  const refusing = await proxy({ refuse: 407 });
  const api = new Api(s.base, "k", proxyFetch(viaHttp(refusing.url.replace("//", "//me:secret@"))));
  await assert.rejects(api.listAgents(), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `127.0.0.1:${s.port}: via proxy ${refusing.url}: refused 127.0.0.1:${s.port}: 407 Proxy Authentication Required ` +
      "(the proxy wants credentials: http://user:password@proxy:port)");
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });

  await assert.rejects(tunnel(new URL(refusing.url.replace("//", "//me:secret@")), "127.0.0.1", s.port), (err: unknown) => {
    assert.equal((err as Error).message, `via proxy ${refusing.url}: tunnel to 127.0.0.1:${s.port} refused: 407 Proxy Authentication Required ` +
      "(the proxy wants credentials: http://user:password@proxy:port)");
    return true;
  });
  assert.equal(refusing.auths[0], `Basic ${Buffer.from("me:secret").toString("base64")}`);
});

test("a proxy that never answers CONNECT is given up on, named once and without its password", async (t) => {
  const net = await import("node:net");
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.after(() => silent.close());
  const port = (silent.address() as net.AddressInfo).port;
  await assert.rejects(tunnel(new URL(`http://me:secret@127.0.0.1:${port}`), "127.0.0.1", 9, undefined, 100), (err: unknown) => {
    assert.equal((err as Error).message, `via proxy http://127.0.0.1:${port}: no answer to CONNECT (timed out)`);
    return true;
  });
});

test("a proxy setting lap cannot use is its own one line, with its own hint", async () => {
  const api = new Api("http://p.example", "k", proxyFetch(viaHttp("socks5://127.0.0.1:1080")));
  await assert.rejects(api.listAgents(), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.match(err.message, /^HTTP_PROXY is a socks5 proxy; lap speaks to http\(s\) proxies only/);
    assert.doesNotMatch(err.hint ?? "", /platform URL/);
    return true;
  });
});

test("a proxy that is down is named in the error", async () => {
  const s = await server();
  const p = await proxy();
  await p.close();
  const api = new Api(s.base, "k", proxyFetch(viaHttp(p.url)));
  await assert.rejects(api.listAgents(), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `127.0.0.1:${s.port}: via proxy ${p.url}: connection refused`);
    assert.equal(err.hint, "check HTTPS_PROXY / HTTP_PROXY, or list the platform's host in NO_PROXY");
    return true;
  });
});

test("NO_PROXY sends the call straight to the platform", async () => {
  const s = await server();
  const p = await proxy();
  const api = new Api(s.base, "k", proxyFetch(viaHttp(p.url, "localhost,127.0.0.1")));
  assert.equal((await api.listAgents()).length, 1);
  assert.equal(p.forwarded.length + p.connects.length, 0);
  assert.equal(s.seen.length, 1);
  assert.equal(wsConnection(s.ws, viaHttp(p.url, "127.0.0.1")), undefined);
});

test("through the proxy a redirect is answered as it is, never followed", async () => {
  const s = await server();
  const p = await proxy();
  const api = new Api(s.base, "k", proxyFetch(viaHttp(p.url)));
  await assert.rejects(api.call("GET", "/redirect"), /redirected \(302\) to http:\/\/elsewhere\.example\/steal; not following it/);
  const empty = await proxyFetch(viaHttp(p.url))(s.base + "/empty", { method: "DELETE" });
  assert.equal(empty.status, 204);
  assert.equal(empty.body, null);
  const head = await proxyFetch(viaHttp(p.url))(s.base + "/x", { method: "HEAD" });
  assert.equal(head.ok, true);
  assert.equal(s.seen.filter((q) => q.url === "/redirect").length, 1);
});

test("a call through the proxy gives up when its signal fires", async () => {
  const s = await server();
  const p = await proxy();
  const api = new Api(s.base, "k", proxyFetch(viaHttp(p.url)), 200);
  await assert.rejects(api.call("GET", "/silent"), /no answer \(timed out\)/);
  const early = new AbortController();
  early.abort();
  await assert.rejects(tunnel(new URL(p.url), "127.0.0.1", s.port, early.signal), { name: "AbortError" });
  await assert.rejects(proxyFetch(viaHttp(p.url))(s.base, { method: "POST", body: new Uint8Array([1]) as unknown as string }), TypeError);
});

test("the WebSocket goes through the proxy too, and only the header carries the token by default", async () => {
  const s = await server();
  const p = await proxy();
  const link = await dial(s.ws, { token: "tty-secret", createConnection: wsConnection(s.ws, viaHttp(p.url)) });
  assert.equal(await echoOnce(link, "hi"), "echo:hi");
  link.close(1000);
  assert.deepEqual(p.connects, [`127.0.0.1:${s.port}`]);
  assert.equal(s.upgrades[0].url, "/tty");
  assert.equal(s.upgrades[0].headers.authorization, "Bearer tty-secret");

  const both = await dial(s.ws, { token: "tty-secret", tokenInQuery: true });
  both.close(1000);
  assert.equal(s.upgrades[1].url, "/tty?token=tty-secret");
  assert.equal(s.upgrades[1].headers.authorization, "Bearer tty-secret");
});

test("a WebSocket whose proxy refuses the tunnel fails with the proxy's answer", async () => {
  const s = await server();
  const p = await proxy({ refuse: 403 });
  await assert.rejects(dial(s.ws, { createConnection: wsConnection(s.ws, viaHttp(p.url)) }), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `127.0.0.1:${s.port}: terminal connection failed: via proxy ${p.url}: tunnel to 127.0.0.1:${s.port} refused: 403 Forbidden`);
    return true;
  });
});

test("https and wss go through the tunnel with TLS to the platform, checked against its CA", { skip: !hasOpenssl() && "no openssl" }, async () => {
  const dir = fs.mkdtempSync(path.join(tmp, "certs-"));
  const certs = makeCerts(dir);
  const s = await server({ key: certs.key, cert: certs.cert });
  const p = await proxy();
  const env = viaHttps(p.url);
  const api = new Api(s.base, "k", proxyFetch(env, { ca: certs.ca }));
  assert.equal((await api.listAgents()).length, 1);
  const link = await dial(s.ws, { createConnection: wsConnection(s.ws, env, { ca: certs.ca }) });
  assert.equal(await echoOnce(link, "tls"), "echo:tls");
  link.close(1000);
  assert.equal(p.connects.length, 2);

  // localhost is checked by name (SNI), 127.0.0.1 by IP address.
  const byName = new Api(`https://localhost:${s.port}`, "k", proxyFetch(env, { ca: certs.ca }));
  assert.equal((await byName.listAgents()).length, 1);
  assert.equal(p.connects[2], `localhost:${s.port}`);

  // Without the CA the platform's certificate is refused, and the error says TLS.
  const untrusted = new Api(s.base, "k", proxyFetch(env));
  await assert.rejects(untrusted.listAgents(), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, `127.0.0.1:${s.port}: TLS error (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`);
    assert.match(err.hint, /NODE_EXTRA_CA_CERTS/);
    return true;
  });
  await assert.rejects(dial(s.ws, { createConnection: wsConnection(s.ws, env) }), /terminal connection failed: TLS error \(/);
});
