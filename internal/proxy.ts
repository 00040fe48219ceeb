// HTTPS_PROXY / HTTP_PROXY / NO_PROXY (and their lowercase forms) for the API
// calls and the terminal WebSocket alike, with Node's built-ins only: an HTTP
// CONNECT tunnel through the proxy, and TLS to the platform inside it when
// the platform is https:// or wss://. Everything goes through CONNECT, as
// browsers do for WebSockets, so the proxy never sees the master key or a
// keystroke in the clear on an https platform.
//
// Global fetch cannot be given a proxy in Node 18/20 without undici's own
// classes, so proxyFetch is a small fetch for what api.ts uses (method,
// headers, a string body, no redirects followed, an abort signal) over
// node:http; the WebSocket gets a createConnection for ws.

import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { Readable } from "node:stream";
import * as tls from "node:tls";
import type { Fetch } from "./api.js";
import type { ProxySettings } from "./settings.js";
import { LapError, networkReason, visible } from "./errors.js";
import { nodeFetch } from "./nodefetch.js";

// A proxy that has not answered CONNECT in this long is not going to: the
// same bound as a WebSocket handshake.
const CONNECT_TIMEOUT_MS = 20_000;

// proxyFor is the proxy for a URL: https_proxy for https and wss, http_proxy
// for http and ws (lowercase first, as curl reads them), none when NO_PROXY
// covers the host. A proxy without a scheme is taken as http://.
export function proxyFor(target: URL, proxies: ProxySettings): URL | null {
  const secure = target.protocol === "https:" || target.protocol === "wss:";
  const chosen = secure ? proxies.https : proxies.http;
  if (!chosen) return null;
  const { name, value: raw } = chosen;
  if (bypassed(target, proxies.noProxy)) return null;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new LapError(`${name} is not a URL: ${visible(hideCredentials(raw))}`, "e.g. export HTTPS_PROXY=http://proxy.example.com:3128");
  }
  if (proxy.protocol !== "http:" && proxy.protocol !== "https:") {
    throw new LapError(`${name} is a ${visible(proxy.protocol.slice(0, -1))} proxy; lap speaks to http(s) proxies only (CONNECT)`,
      "point it at an HTTP proxy, or list the platform in NO_PROXY");
  }
  return proxy;
}

// describeProxy names a proxy for messages, without any user or password.
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

function hideCredentials(raw: string): string {
  return raw.replace(/\/\/[^@/]*@/, "//…@");
}

// bypassed reads NO_PROXY: "*" for every host; otherwise comma- or
// space-separated entries, each a domain (matching it and its subdomains,
// with or without a leading dot), an IP address, or an IPv4/IPv6 CIDR
// block, any of them optionally with a :port.
export function bypassed(target: URL, noProxy: string): boolean {
  const host = bare(target.hostname).toLowerCase();
  const port = target.port || defaultPort(target);
  for (const entry of noProxy.split(/[\s,]+/).filter(Boolean)) {
    if (entry === "*") return true;
    const [name, only] = splitEntry(entry);
    if (only !== undefined && only !== port) continue;
    const want = name.toLowerCase();
    if (want.includes("/")) {
      if (inBlock(host, want)) return true;
    } else if (net.isIP(want) || net.isIP(host)) {
      if (want === host) return true;
    } else {
      const domain = want.replace(/^\*?\./, "");
      if (host === domain || host.endsWith("." + domain)) return true;
    }
  }
  return false;
}

// splitEntry separates a NO_PROXY entry's port: "[v6]:port", "host:port";
// an entry with more than one colon is a bare IPv6 address or block.
function splitEntry(entry: string): [string, string | undefined] {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (v6) return [v6[1], v6[2]];
  if ((entry.match(/:/g) ?? []).length > 1) return [entry, undefined];
  const colon = entry.indexOf(":");
  return colon < 0 ? [entry, undefined] : [entry.slice(0, colon), entry.slice(colon + 1)];
}

function inBlock(host: string, cidr: string): boolean {
  const [address, bits] = cidr.split("/");
  const family = net.isIP(address);
  if (!family || net.isIP(host) !== family) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(address, Number(bits), family === 6 ? "ipv6" : "ipv4");
  } catch {
    return false;
  }
  return list.check(host, family === 6 ? "ipv6" : "ipv4");
}

function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

function defaultPort(url: URL): string {
  return url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80";
}

// tunnel opens a CONNECT tunnel through the proxy to host:port and resolves
// with its socket. Failures name the proxy (never its credentials); an
// abort through signal rejects with the abort error itself.
export function tunnel(proxy: URL, host: string, port: number, signal?: AbortSignal): Promise<net.Socket> {
  const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username || proxy.password) {
    const user = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers["proxy-authorization"] = `Basic ${Buffer.from(user).toString("base64")}`;
  }
  const named = `via proxy ${describeProxy(proxy)}`;
  return new Promise((resolve, reject) => {
    const secure = proxy.protocol === "https:";
    const req = (secure ? https : http).request({
      host: bare(proxy.hostname),
      port: proxy.port || (secure ? 443 : 80),
      method: "CONNECT",
      path: authority,
      headers,
      agent: false,
      signal,
    });
    const timer = setTimeout(() => req.destroy(new Error(`${named}: no answer to CONNECT (timed out)`)), CONNECT_TIMEOUT_MS);
    req.once("connect", (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        const hint = res.statusCode === 407 ? " (the proxy wants credentials: http://user:password@proxy:port)" : "";
        reject(new Error(`${named}: tunnel to ${authority} refused: ${res.statusCode} ${visible(res.statusMessage ?? "", 80)}${hint}`.trimEnd()));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(signal?.aborted ? err : new Error(`${named}: ${networkReason(err)}`));
    });
    req.end();
  });
}

// secureOver starts TLS to the platform inside a tunnel. The certificate is
// checked against the platform's name (an IP address checks the IP SANs),
// with Node's CAs plus NODE_EXTRA_CA_CERTS.
function secureOver(socket: net.Socket, host: string, extra: tls.ConnectionOptions): tls.TLSSocket {
  return tls.connect({ ...extra, socket, host, servername: net.isIP(host) ? undefined : host });
}

// proxyFetch is a fetch that goes through the proxy the environment names
// for each URL, and is global fetch for URLs the proxy does not apply to.
// extra is for tests (a CA for a certificate made by the test).
export function proxyFetch(env: ProxySettings, extra: tls.ConnectionOptions = {}): Fetch {
  const fetchThrough = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const proxy = proxyFor(url, env);
    if (!proxy) return nodeFetch(input, init);
    return viaProxy(url, init, proxy, extra);
  };
  return fetchThrough as Fetch;
}

async function viaProxy(url: URL, init: RequestInit, proxy: URL, extra: tls.ConnectionOptions): Promise<Response> {
  if (init.body !== undefined && init.body !== null && typeof init.body !== "string") {
    throw new TypeError("lap's proxied fetch sends string bodies only");
  }
  const signal = init.signal ?? undefined;
  const secure = url.protocol === "https:";
  const host = bare(url.hostname);
  const socket = await tunnel(proxy, host, Number(url.port) || (secure ? 443 : 80), signal);
  const conn = secure ? secureOver(socket, host, extra) : socket;
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  headers.host = url.host;
  const body = init.body ?? undefined;
  if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = http.request({
      method: init.method ?? "GET",
      path: url.pathname + url.search,
      headers,
      // The tunnel is the connection: one request, then it closes.
      createConnection: () => conn,
      signal,
    });
    req.once("response", (res: http.IncomingMessage) => resolve(toResponse(res, init.method ?? "GET")));
    req.once("error", (err) => {
      conn.destroy();
      reject(err);
    });
    req.end(body);
  });
}

// toResponse wraps a node:http answer as a fetch Response. Redirects are
// answered as they are: lap never follows one with the master key.
function toResponse(res: http.IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of [value ?? []].flat()) headers.append(name, v);
  }
  const status = res.statusCode ?? 502;
  // These statuses must not carry a body, or Response refuses to be made.
  const noBody = method === "HEAD" || status === 204 || status === 205 || status === 304;
  if (noBody) res.resume();
  const body = noBody ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: res.statusMessage, headers });
}

// CreateConnection is what ws calls for the socket of a WebSocket: it may
// answer through done, later.
export type CreateConnection = (options: object, done: (err: Error | null, socket?: net.Socket) => void) => undefined;

// wsConnection is the createConnection for a WebSocket to url through the
// proxy, or undefined when no proxy applies. extra is for tests.
export function wsConnection(url: string, env: ProxySettings, extra: tls.ConnectionOptions = {}): CreateConnection | undefined {
  const target = new URL(url);
  const proxy = proxyFor(target, env);
  if (!proxy) return undefined;
  const secure = target.protocol === "wss:";
  const host = bare(target.hostname);
  const port = Number(target.port) || (secure ? 443 : 80);
  return (_options, done) => {
    tunnel(proxy, host, port).then(
      (socket) => done(null, secure ? secureOver(socket, host, extra) : socket),
      (err: Error) => done(err),
    );
    return undefined;
  };
}
