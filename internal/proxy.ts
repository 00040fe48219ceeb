// HTTPS_PROXY / HTTP_PROXY / NO_PROXY for the API calls and the terminal
// WebSocket alike, with Node's built-ins only. https:// and wss:// go through
// an HTTP CONNECT tunnel with TLS to the platform inside it, so the proxy
// never sees the master key or a keystroke in the clear. http:// API calls
// go to the proxy in absolute form ("GET http://host:port/path"), as curl
// and Go send them: many proxies allow CONNECT to port 443 only. A ws://
// WebSocket still needs CONNECT, as browsers do it.
//
// The requests themselves are nodefetch.ts's; this file only says which
// proxy applies and how to reach the platform through it.

import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import { visible } from "./output.js";
import { LapError, networkReason } from "./errors.js";
import type { ProxySettings } from "./settings.js";
import { bare, send, type Fetch, type FetchAnswer, type FetchInit, type Route } from "./nodefetch.js";

// A proxy that has not answered CONNECT in this long is not going to: the
// same bound as a WebSocket handshake.
const CONNECT_TIMEOUT_MS = 20_000;

// proxyFor is the proxy for a URL: the https proxy for https and wss, the
// http proxy for http and ws, none when NO_PROXY covers the host. A proxy
// without a scheme is taken as http://.
export function proxyFor(target: URL, settings: ProxySettings): URL | null {
  const secure = target.protocol === "https:" || target.protocol === "wss:";
  const chosen = secure ? settings.https : settings.http;
  if (!chosen) return null;
  const { name, value: raw } = chosen;
  if (bypassed(target, settings.noProxy)) return null;
  let proxy: URL;
  try {
    proxy = new URL(SCHEME.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new LapError(`${name} is not a URL: ${visible(hideCredentials(raw))}`, "e.g. export HTTPS_PROXY=http://proxy.example.com:3128");
  }
  if (proxy.protocol !== "http:" && proxy.protocol !== "https:") {
    throw new LapError(`${name} is a ${visible(proxy.protocol.slice(0, -1))} proxy; lap speaks to http(s) proxies only`,
      "point it at an HTTP proxy, or list the platform in NO_PROXY");
  }
  return proxy;
}

// describeProxy names a proxy for messages, without any user or password.
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

// hideCredentials masks all before the last @ of a proxy that did not
// parse, scheme or not: a password may hold / and @ itself.
function hideCredentials(raw: string): string {
  const scheme = SCHEME.exec(raw)?.[0] ?? "";
  const at = raw.lastIndexOf("@");
  return at < scheme.length ? raw : `${scheme}…@${raw.slice(at + 1)}`;
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

function defaultPort(url: URL): string {
  return url.protocol === "https:" || url.protocol === "wss:" ? "443" : "80";
}

// tunnel opens a CONNECT tunnel through the proxy to host:port and resolves
// with its socket. Failures name the proxy (never its credentials); an
// abort through signal rejects with the abort error itself.
export function tunnel(proxy: URL, host: string, port: number, signal?: AbortSignal, timeoutMs = CONNECT_TIMEOUT_MS): Promise<net.Socket> {
  const authority = `${net.isIPv6(host) ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority, ...proxyAuthorization(proxy) };
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
    const late = new Error("no answer to CONNECT (timed out)");
    const timer = setTimeout(() => req.destroy(late), timeoutMs);
    req.once("connect", (res: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      clearTimeout(timer);
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`${named}: tunnel to ${authority} refused: ${refusal(res)}`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once("error", (err) => {
      clearTimeout(timer);
      reject(signal?.aborted ? err : new Error(`${named}: ${err === late ? late.message : networkReason(err)}`));
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

// proxyFetch is a fetch that goes through the proxy the settings name for
// each URL: https:// through a CONNECT tunnel with TLS inside it, http://
// in absolute form to the proxy, as curl and Go do (many proxies allow
// CONNECT to port 443 only). URLs the proxy does not apply to go straight.
// extra is for tests (a CA for a certificate made by the test).
export function proxyFetch(settings: ProxySettings, extra: tls.ConnectionOptions = {}): Fetch {
  return async (input, init = {}) => {
    const url = new URL(input);
    const proxy = proxyFor(url, settings);
    if (!proxy) return send(url, init);
    if (url.protocol === "https:") {
      const host = bare(url.hostname);
      const port = Number(url.port) || 443;
      return send(url, init, { kind: "socket", open: async (signal) => secureOver(await tunnel(proxy, host, port, signal), host, extra) });
    }
    return absolute(url, init, proxy);
  };
}

// absolute sends one http:// request to the proxy in absolute form. Failures
// to reach the proxy, and its own refusal (407), name the proxy.
async function absolute(url: URL, init: FetchInit, proxy: URL): Promise<FetchAnswer> {
  const route: Route = { kind: "absolute", proxy, headers: proxyAuthorization(proxy) };
  const named = `via proxy ${describeProxy(proxy)}`;
  let res: FetchAnswer;
  try {
    res = await send(url, init, route);
  } catch (err) {
    // A bad argument or the caller's own abort is not the proxy's doing.
    throw err instanceof TypeError || init.signal?.aborted ? err : new Error(`${named}: ${networkReason(err)}`);
  }
  if (res.status === 407) {
    await res.body?.cancel();
    throw new Error(`${named}: refused ${url.host}: ${refusal({ statusCode: 407, statusMessage: "Proxy Authentication Required" })}`);
  }
  return res;
}

// refusal words a proxy's non-200 answer, with what to do about a 407.
function refusal(res: { statusCode?: number; statusMessage?: string }): string {
  const hint = res.statusCode === 407 ? " (the proxy wants credentials: http://user:password@proxy:port)" : "";
  return `${res.statusCode} ${visible(res.statusMessage ?? "", 80)}${hint}`.trimEnd();
}

// proxyAuthorization is the Proxy-Authorization header for a proxy URL with
// a user or password, empty otherwise.
function proxyAuthorization(proxy: URL): Record<string, string> {
  if (!proxy.username && !proxy.password) return {};
  const user = `${decoded(proxy.username)}:${decoded(proxy.password)}`;
  return { "proxy-authorization": `Basic ${Buffer.from(user).toString("base64")}` };
}

// decoded undoes a URL's %-escapes; a % that starts none is taken as itself.
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

// CreateConnection is what ws calls for the socket of a WebSocket: it may
// answer through done, later.
export type CreateConnection = (options: object, done: (err: Error | null, socket?: net.Socket) => void) => undefined;

// wsConnection is the createConnection for a WebSocket to url through the
// proxy, or undefined when no proxy applies. extra is for tests.
export function wsConnection(url: string, settings: ProxySettings, extra: tls.ConnectionOptions = {}): CreateConnection | undefined {
  const target = new URL(url);
  const proxy = proxyFor(target, settings);
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
