// The platform's HTTP API (SPEC §1): typed calls, paging, errors, waiting
// for a session to be ready, and where its terminal WebSocket is.

import { nodeFetch, type Fetch, type FetchAnswer } from "./nodefetch.js";
import { LapError, networkHint, networkReason, visible } from "./errors.js";

export interface Agent {
  id: string;
  name: string | null;
  harness_id: string;
  supports_tui?: boolean;
  has_active_session?: boolean;
}

export interface Session {
  id: string;
  agent_id: string;
  status: string;
  phase?: string | null;
  phase_detail?: string | null;
  failure_reason?: string | null;
  sandbox_url?: string | null;
  tty_url?: string | null;
  tty_token?: string | null;
  supports_tui?: boolean;
  created_at?: string;
  last_seen_at?: string;
}

// lap's own fetch-shaped types: global fetch is never touched (see nodefetch.ts).
export type { Fetch } from "./nodefetch.js";

// One part of an agent's answer: text, or a tool call, reasoning, ...
export interface Part {
  type: string;
  text?: string;
  [field: string]: unknown;
}

export interface CallOptions {
  // Instead of the client's timeout for one call.
  timeoutMs?: number;
  // Aborts the call early (the user cancelled).
  signal?: AbortSignal;
}

// callSignal fires after timeoutMs or when cancel does. AbortSignal.any
// would do it, but arrived in Node 20.3 and lap runs on 18.
function callSignal(timeoutMs: number, cancel?: AbortSignal): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!cancel) return timeout;
  const both = new AbortController();
  for (const s of [timeout, cancel]) {
    if (s.aborted) both.abort(s.reason);
    else s.addEventListener("abort", () => both.abort(s.reason), { once: true });
  }
  return both.signal;
}

// A platform that answers slower than this is treated as down; bring-up is
// waited for by polling, so no single call needs to be long.
const CALL_TIMEOUT_MS = 30_000;
// A message to an agent without a terminal is answered only when the agent's
// turn is over, which can take many minutes: its call gets this long, far
// beyond CALL_TIMEOUT_MS (the user cancels sooner with Ctrl-C).
export const MESSAGE_TIMEOUT_MS = 30 * 60_000;
// Bodies larger than this are cut: a misbehaving proxy must not fill memory.
const MAX_BODY_BYTES = 8 << 20;
// The platform's own cap on page sizes.
const PAGE_LIMIT = 200;
// Harnesses known to have a terminal, for platforms that omit supports_tui.
const TUI_HARNESSES = new Set(["claude-code", "codex"]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUUID(s: string): boolean {
  return UUID.test(s);
}

export function hasTerminal(agent: Agent): boolean {
  return agent.supports_tui ?? TUI_HARNESSES.has(agent.harness_id);
}

// HttpError is a LapError that remembers the status, so callers can word
// messages for it ("session create failed: 401").
export class HttpError extends LapError {
  readonly status: number;
  constructor(message: string, status: number, hint = "") {
    super(message, hint);
    this.status = status;
  }
}

export class Api {
  readonly base: string;
  private readonly key: string;
  private readonly fetch: Fetch;
  private readonly host: string;
  private readonly timeoutMs: number;

  constructor(base: string, key: string, fetchFn: Fetch = nodeFetch, timeoutMs = CALL_TIMEOUT_MS) {
    this.base = base;
    this.key = key;
    this.fetch = fetchFn;
    this.host = new URL(base).host;
    this.timeoutMs = timeoutMs;
  }

  // call sends one request and returns the parsed JSON answer. Any failure
  // becomes a LapError naming the host and what went wrong; a non-2xx answer
  // becomes an HttpError carrying the status.
  async call(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<unknown> {
    const url = this.base + path;
    let res: FetchAnswer;
    try {
      res = await this.fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // Never follow a redirect: fetch would send the master key along.
        redirect: "manual",
        signal: callSignal(opts.timeoutMs ?? this.timeoutMs, opts.signal),
      });
    } catch (err) {
      const reason = networkReason(err);
      throw new LapError(`${this.host}: ${reason}`, networkHint(reason, "check the platform URL with 'lap config'"));
    }
    const text = await readBody(res, this.host);
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get("location") ?? "?";
      throw new HttpError(`${this.host}: redirected (${res.status}) to ${visible(to)}; not following it with the master key`, res.status,
        "log in with the final platform URL: lap login");
    }
    if (!res.ok) {
      throw new HttpError(`${this.host}: ${method} ${path.split("?")[0]}: ${res.status} ${errorText(text)}`.trimEnd(), res.status,
        res.status === 401 || res.status === 403 ? "the master key was refused — run 'lap login' again" : "");
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new LapError(`${this.host}: answered ${res.status} with something that is not JSON: ${visible(text, 80)}`,
        "is the platform URL right, or is a proxy answering instead? see 'lap config'");
    }
  }

  // listAgents walks every page, newest first.
  async listAgents(): Promise<Agent[]> {
    const all: Agent[] = [];
    for (let offset = 0; ; ) {
      const page = await this.call("GET", `/api/v1/managed_agents/agents?limit=${PAGE_LIMIT}&offset=${offset}`);
      const data = (page as { data?: unknown }).data;
      const total = (page as { total?: unknown }).total;
      if (!Array.isArray(data)) throw this.shapeError("agents list");
      all.push(...data.filter(isAgent));
      offset += data.length;
      if (data.length === 0 || typeof total !== "number" || offset >= total) return all;
    }
  }

  // resolveAgent finds the agent a user named: a UUID is taken as it is,
  // anything else must match exactly one agent's name.
  async resolveAgent(nameOrId: string): Promise<Agent> {
    // A UUID needs no lookup; the session tells later whether it has a terminal.
    if (isUUID(nameOrId)) return { id: nameOrId, name: null, harness_id: "" };
    const agents = await this.listAgents();
    const matches = agents.filter((a) => a.name === nameOrId);
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) {
      throw new LapError(`${matches.length} agents are named '${visible(nameOrId)}'`,
        `use the id instead: ${matches.map((a) => a.id).join(", ")}`);
    }
    const names = agents.map((a) => a.name).filter((n): n is string => !!n);
    const some = names.slice(0, 8).map((n) => visible(n, 60)).join(", ");
    throw new LapError(`no agent named '${visible(nameOrId)}'`,
      names.length ? `agents here: ${some}${names.length > 8 ? ", …" : ""} (or logged in to another platform? see 'lap config')`
        : "this platform has no agents (or logged in to another platform? see 'lap config')");
  }

  // listSessions walks the sessions list, of one agent or all, newest first;
  // pages stops after the first page. A page shorter than the limit is the
  // last; so is one with nothing new, which is what a platform that ignores
  // offset sends, so lap cannot loop forever on it.
  async listSessions(agentId?: string, pages = Infinity): Promise<Session[]> {
    const seen = new Set<string>();
    const all: Session[] = [];
    for (let offset = 0, page = 0; page < pages; page++) {
      const query = new URLSearchParams();
      if (agentId) query.set("agent_id", agentId);
      query.set("limit", String(PAGE_LIMIT));
      query.set("offset", String(offset));
      const data = await this.call("GET", `/api/v1/managed_agents/sessions?${query}`);
      if (!Array.isArray(data)) throw this.shapeError("sessions list");
      const fresh = data.filter(isSession).filter((s) => !seen.has(s.id));
      for (const s of fresh) seen.add(s.id);
      all.push(...fresh);
      if (data.length < PAGE_LIMIT || fresh.length === 0) break;
      offset += data.length;
    }
    return all;
  }

  // liveSession is the newest session of the agent that can be attached to
  // (ready, or still coming up), or null. The newest are on the first page.
  async liveSession(agentId: string): Promise<Session | null> {
    const sessions = await this.listSessions(agentId, 1);
    return sessions.find((s) => s.agent_id === agentId && (s.status === "ready" || s.status === "creating")) ?? null;
  }

  // stopSession deletes a session and returns the status the platform
  // reports (dead, stopped or deleted), when it says.
  async stopSession(id: string): Promise<string | null> {
    const answer = await this.call("DELETE", `/api/v1/managed_agents/sessions/${encodeURIComponent(id)}`);
    const status = (answer as { status?: unknown } | null)?.status;
    return typeof status === "string" ? status : null;
  }

  async createSession(agentId: string, title: string): Promise<Session> {
    let s: unknown;
    try {
      s = await this.call("POST", `/api/v1/managed_agents/agents/${encodeURIComponent(agentId)}/session`, { title });
    } catch (err) {
      if (err instanceof HttpError) {
        throw new HttpError(`session create failed: ${err.status}`, err.status,
          err.status === 401 ? "master key is wrong — run 'lap login' again" : err.message);
      }
      throw err;
    }
    if (!isSession(s)) throw this.shapeError("new session");
    return s;
  }

  // sendMessage sends one line to an agent without a terminal and returns
  // the parts of its answer once its turn is over; signal cancels the wait.
  async sendMessage(sessionId: string, text: string, signal?: AbortSignal): Promise<Part[]> {
    const answer = await this.call("POST", `/api/v1/managed_agents/sessions/${encodeURIComponent(sessionId)}/message`, { text },
      { timeoutMs: MESSAGE_TIMEOUT_MS, signal });
    const parts = (answer as { parts?: unknown } | null)?.parts;
    if (!Array.isArray(parts)) throw this.shapeError("message");
    return parts.filter((p): p is Part => typeof p === "object" && p !== null && typeof (p as Part).type === "string");
  }

  async getSession(id: string): Promise<Session> {
    const s = await this.call("GET", `/api/v1/managed_agents/sessions/${encodeURIComponent(id)}`);
    if (!isSession(s)) throw this.shapeError("session");
    return s;
  }

  private shapeError(what: string): LapError {
    return new LapError(`${this.host}: the ${what} answer has an unexpected shape`, "is the platform URL right? see 'lap config'");
  }
}

export interface WaitOptions {
  timeoutMs: number;
  // Called with each new phase, for the progress line.
  onPhase: (phase: string) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

// The first poll is immediate; then the interval grows gently, because a warm
// pool answers in seconds but a cold start takes minutes.
export const POLL_FIRST_MS = 250;
export const POLL_MAX_MS = 3_000;
const POLL_GROWTH = 1.5;

// waitReady polls the session until it is ready. It throws at once on
// failed/dead and on 401/403, and after timeoutMs with the last state seen.
export async function waitReady(api: Api, first: Session, opts: WaitOptions): Promise<Session> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const now = opts.now ?? Date.now;
  const deadline = now() + opts.timeoutMs;
  let s = first;
  let lastPhase = "";
  let interval = POLL_FIRST_MS;
  for (;;) {
    const phase = s.phase_detail && s.phase && s.phase_detail !== s.phase ? `${s.phase} (${s.phase_detail})` : s.phase_detail || s.phase || s.status;
    if (phase !== lastPhase) {
      opts.onPhase(phase);
      lastPhase = phase;
    }
    if (s.status === "ready") return s;
    if (s.status !== "creating") {
      const reason = s.failure_reason ? `: ${visible(s.failure_reason)}` : "";
      throw new LapError(`session ${s.id} is ${visible(s.status)}${reason}`, "start a new one with: lap <agent> --new");
    }
    if (now() >= deadline) {
      throw new LapError(`session ${s.id} not ready after ${Math.round(opts.timeoutMs / 1000)}s (last seen: ${visible(phase)})`,
        "cold starts can take minutes: wait longer with --timeout, or run 'lap attach " + s.id + "' later");
    }
    await sleep(Math.min(interval, Math.max(0, deadline - now())));
    interval = Math.min(interval * POLL_GROWTH, POLL_MAX_MS);
    s = await api.getSession(s.id);
  }
}

const IN_CLUSTER = /(\.svc\.cluster\.local|\.svc|\.cluster\.local)$/i;

// ttyURL is where the session's terminal WebSocket is (SPEC §3.2 step 4).
export function ttyURL(s: Session, base: string, fallback: string | undefined): string {
  if (s.tty_url) {
    if (/^(wss?|https?):\/\//i.test(s.tty_url)) return toWs(s.tty_url);
    if (s.tty_url.startsWith("/")) return toWs(new URL(s.tty_url, base + "/").toString());
    throw new LapError(`session ${s.id} has a tty_url lap cannot use: ${visible(s.tty_url)}`);
  }
  if (!s.sandbox_url) {
    if (fallback) return toWs(fallback);
    throw new LapError(`session ${s.id} has neither tty_url nor sandbox_url`, "the platform may be too old; export LAP_TTY_FALLBACK=ws://host:port/tty");
  }
  let sandbox: URL;
  try {
    sandbox = new URL(s.sandbox_url);
  } catch {
    throw new LapError(`session ${s.id} has a sandbox_url lap cannot use: ${visible(s.sandbox_url)}`);
  }
  if (IN_CLUSTER.test(sandbox.hostname)) {
    if (fallback) return toWs(fallback);
    throw new LapError("session is in-cluster — no LAP_TTY_FALLBACK set",
      "the platform exposes no public WebSocket URL; export LAP_TTY_FALLBACK=ws://host:port/tty");
  }
  return toWs(s.sandbox_url.replace(/\/+$/, "") + "/tty");
}

function toWs(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LapError(`'${visible(raw)}' is not a WebSocket URL`, "expected ws://host:port/tty");
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new LapError(`'${visible(raw)}' is not a WebSocket URL`, "expected ws://host:port/tty");
  }
  return url.toString();
}

// sessionIdFrom accepts a session id or a pasted URL ending in /sessions/<id>.
export function sessionIdFrom(arg: string): string {
  const m = /\/sessions\/([^/?#]+)/.exec(arg);
  const id = m ? decodeURIComponent(m[1]) : arg;
  if (!/^[\w.-]+$/.test(id)) throw new LapError(`'${visible(arg)}' is not a session id or a .../sessions/<id> URL`);
  return id;
}

function isAgent(a: unknown): a is Agent {
  return typeof a === "object" && a !== null && typeof (a as Agent).id === "string";
}

function isSession(s: unknown): s is Session {
  return typeof s === "object" && s !== null && typeof (s as Session).id === "string" && typeof (s as Session).status === "string";
}

// errorText pulls the message out of {"error": string | array}, or shows the
// start of whatever else came back (HTML from a proxy, plain text).
export function errorText(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof e === "string") return visible(e);
    if (Array.isArray(e)) return visible(e.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join("; "));
  } catch {
    // not JSON: fall through
  }
  const squeezed = body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return visible(squeezed, 120);
}

async function readBody(res: FetchAnswer, host: string): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    await res.body?.cancel();
    throw new LapError(`${host}: answer too large (${declared} bytes)`);
  }
  try {
    if (!res.body) return "";
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new LapError(`${host}: answer too large (over ${MAX_BODY_BYTES} bytes)`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    if (err instanceof LapError) throw err;
    throw new LapError(`${host}: ${networkReason(err)} while reading the answer`);
  }
}
