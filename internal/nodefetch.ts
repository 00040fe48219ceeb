// lap's one HTTP client: the little of fetch that api.ts uses (status, ok,
// headers.get, a body to iterate), over node:http(s), straight to the
// platform or through a proxy (proxy.ts says how, this file sends).
//
// Global fetch is undici, which parses HTTP in WebAssembly: V8 compiles it
// on first use and optimises it on a background thread, which cost about
// 40 ms before the first answer and about 30 MiB of peak memory in
// `make bench`. Merely touching one of its globals (fetch, Request,
// Response, Headers, FormData) loads it, so nothing here does: the types
// below are lap's own, and type-checking fails if a caller starts relying
// on more of fetch than this.

import type * as http from "node:http";
import type { Duplex } from "node:stream";

export interface FetchInit {
  method?: string;
  // A plain object: a Headers instance would load undici.
  headers?: Record<string, string>;
  body?: string;
  // Accepted for fetch's sake; redirects are never followed here anyway.
  redirect?: "manual";
  signal?: AbortSignal;
}

export interface FetchBody extends AsyncIterable<Uint8Array> {
  cancel(): Promise<void>;
}

export interface FetchAnswer {
  status: number;
  ok: boolean;
  headers: { get(name: string): string | null };
  // null for answers that carry none (HEAD, 204, 205, 304).
  body: FetchBody | null;
}

export type Fetch = (url: string, init?: FetchInit) => Promise<FetchAnswer>;

// Route says how a request reaches its server when not straight.
export type Route =
  // An HTTP proxy asked in absolute form ("GET http://host/path"), as curl
  // and Go do for http:// URLs; headers go to the proxy (its credentials).
  | { kind: "absolute"; proxy: URL; headers: Record<string, string> }
  // A socket made for this one request (a CONNECT tunnel, TLS inside it).
  | { kind: "socket"; open: (signal?: AbortSignal) => Promise<Duplex> };

// An idle kept-alive connection is dropped after this long: below the 5 s
// keep-alive of Node's own servers, so lap never writes to a socket the
// server is closing. The calls of one command come much closer together.
const IDLE_SOCKET_MS = 4_000;

const agents: { http?: http.Agent; https?: http.Agent } = {};

// keptAlive gives one keep-alive agent per scheme, made on first use (an
// http platform never loads TLS): the calls of a command share one
// connection (one TCP and TLS handshake, not one per call). The agent
// unrefs idle sockets, so they never keep lap running.
function keptAlive(secure: boolean): http.Agent {
  const options = { keepAlive: true, timeout: IDLE_SOCKET_MS };
  if (secure) return (agents.https ??= new (httpsModule().Agent)(options));
  return (agents.http ??= new (httpModule().Agent)(options));
}

// closeIdle drops the kept-alive connections (for a command's end, and tests).
export function closeIdle(): void {
  agents.http?.destroy();
  agents.https?.destroy();
  delete agents.http;
  delete agents.https;
}

// node:https pulls in TLS; loaded on first use, so commands that never make
// an https call do not pay for it.
function httpModule(): typeof import("node:http") {
  return require("node:http") as typeof import("node:http");
}

function httpsModule(): typeof import("node:https") {
  return require("node:https") as typeof import("node:https");
}

// nodeFetch sends straight to the URL's server.
export const nodeFetch: Fetch = (input, init = {}) => send(new URL(input), init);

// send makes one request and resolves with its answer once the headers are
// in; the body is read by the caller. A GET on a kept-alive connection the
// server closed meanwhile is sent again once, on a new connection.
export async function send(url: URL, init: FetchInit = {}, route?: Route): Promise<FetchAnswer> {
  if (init.body !== undefined && typeof init.body !== "string") {
    throw new TypeError("lap's fetch sends string bodies only");
  }
  const method = init.method ?? "GET";
  try {
    return await sendOnce(url, init, route);
  } catch (err) {
    if (!(err as { reusedSocket?: boolean }).reusedSocket || method !== "GET" || init.signal?.aborted) throw err;
    return sendOnce(url, init, route);
  }
}

async function sendOnce(url: URL, init: FetchInit, route?: Route): Promise<FetchAnswer> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { ...init.headers, host: url.host };
  if (init.body !== undefined) headers["content-length"] = String(Buffer.byteLength(init.body));
  const signal = init.signal;
  let options: http.RequestOptions;
  let secure = url.protocol === "https:";
  if (route?.kind === "socket") {
    const socket = await route.open(signal);
    // The socket is the connection: one request, then it closes.
    options = { path: url.pathname + url.search, createConnection: () => socket as import("node:net").Socket };
    secure = false;
  } else if (route?.kind === "absolute") {
    const proxy = route.proxy;
    secure = proxy.protocol === "https:";
    Object.assign(headers, route.headers);
    options = {
      hostname: bare(proxy.hostname),
      port: proxy.port || (secure ? 443 : 80),
      path: `${url.protocol}//${url.host}${url.pathname}${url.search}`,
      agent: keptAlive(secure),
    };
  } else {
    options = { hostname: bare(url.hostname), port: url.port || undefined, path: url.pathname + url.search, agent: keptAlive(secure) };
  }
  const client = secure ? httpsModule() : httpModule();
  return new Promise((resolve, reject) => {
    const req = client.request({ ...options, method, headers, signal }, (res) => resolve(answer(res, method)));
    req.once("error", (err) => {
      if (req.reusedSocket) Object.assign(err, { reusedSocket: true });
      reject(err);
    });
    req.end(init.body);
  });
}

// answer wraps a node:http answer. Redirects are answered as they are: lap
// never follows one with the master key.
function answer(res: http.IncomingMessage, method: string): FetchAnswer {
  const status = res.statusCode ?? 0;
  const empty = method === "HEAD" || status === 204 || status === 205 || status === 304;
  if (empty) res.resume();
  return {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
      },
    },
    // An IncomingMessage is async-iterable, as api.ts reads it.
    body: empty ? null : Object.assign(res, { cancel: async () => void res.destroy() }),
  };
}

// bare takes the brackets off an IPv6 hostname ("[::1]" → "::1").
export function bare(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}
