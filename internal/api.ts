// The platform's HTTP API: typed calls, paging, errors, waiting
// for a session to be ready, and where its terminal WebSocket is.

import { credentials, type Config } from "./config.js";
import type { Fetch, FetchAnswer } from "./nodefetch.js";
import { asFlag, isPlain, shellQuoted, visible } from "./output.js";
import { LapError, networkHint, networkReason } from "./errors.js";
import type { IO } from "./io.js";
import { isToken, type Settings } from "./settings.js";

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
  harness_session_id?: string | null;
  idle_timeout_ms?: number | null;
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

// callSignal fires after timeoutMs or when cancel does; done takes its
// listener off cancel, which may outlive many calls (lap logs -f). AbortSignal.any
// would do it, but arrived in Node 20.3 and lap runs on 18.
function callSignal(timeoutMs: number, cancel?: AbortSignal): { signal: AbortSignal; done(): void } {
  const timeout = AbortSignal.timeout(timeoutMs);
  if (!cancel) return { signal: timeout, done: () => {} };
  const both = new AbortController();
  const onCancel = () => both.abort(cancel.reason);
  if (cancel.aborted) onCancel();
  else cancel.addEventListener("abort", onCancel, { once: true });
  timeout.addEventListener("abort", () => both.abort(timeout.reason), { once: true });
  return { signal: both.signal, done: () => cancel.removeEventListener("abort", onCancel) };
}

// A platform that answers slower than this is treated as down; bring-up is
// waited for by polling, so no single call needs to be long.
const CALL_TIMEOUT_MS = 30_000;
// A message to an agent without a terminal is answered only when the agent's
// turn is over, which can take many minutes: its call gets this long, far
// beyond CALL_TIMEOUT_MS (the user cancels sooner with Ctrl-C).
export const MESSAGE_TIMEOUT_MS = 30 * 60_000;
// An event stream carries a heartbeat about every 10 s: one from which
// nothing has come for this long is dead, however long it has been open.
const STREAM_QUIET_MS = 60_000;
// Bodies larger than this are cut: a misbehaving proxy must not fill memory.
const MAX_BODY_BYTES = 8 << 20;
// The platform's own cap on page sizes.
const PAGE_LIMIT = 200;
// A walk through a list stops here, whatever the platform says of more: a
// platform that keeps answering "there is more" must not make lap loop and
// grow without end.
export const MAX_PAGES = 100;
export const MAX_ITEMS = 10_000;
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

// node:http is loaded on the first call, not with this module: commands
// that never call the platform start without it.
const defaultFetch: Fetch = (url, init) => (require("./nodefetch.js") as typeof import("./nodefetch.js")).nodeFetch(url, init);

export class Api {
  readonly base: string;
  private readonly key: string;
  private readonly fetch: Fetch;
  private readonly host: string;
  private readonly timeoutMs: number;
  private readonly quietMs: number;
  // The key came from LAP_MASTER_KEY, which a new login would not replace.
  keyFromEnv = false;

  constructor(base: string, key: string, fetchFn: Fetch = defaultFetch, timeoutMs = CALL_TIMEOUT_MS, quietMs = STREAM_QUIET_MS) {
    this.base = base;
    this.key = key;
    this.fetch = fetchFn;
    this.host = new URL(base).host;
    this.timeoutMs = timeoutMs;
    this.quietMs = quietMs;
  }

  // refused is the hint for a refused master key: what would replace it.
  private refused(): string {
    return this.keyFromEnv ? "the master key was refused: LAP_MASTER_KEY is not this platform's master key"
      : "the master key was refused — run 'lap login' again";
  }

  // call sends one request and returns the parsed JSON answer. Any failure
  // becomes a LapError naming the host and what went wrong; a non-2xx answer
  // becomes an HttpError carrying the status.
  async call(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<unknown> {
    const { signal, done } = callSignal(opts.timeoutMs ?? this.timeoutMs, opts.signal);
    let res: FetchAnswer;
    let text: string;
    try {
      res = await this.send(method, path, body, "application/json", signal);
      text = await readBody(res, this.host, signal);
    } finally {
      done();
    }
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get("location") ?? "?";
      throw new HttpError(`${this.host}: redirected (${res.status}) to ${visible(to)}; not following it with the master key`, res.status,
        "log in with the final platform URL: lap login");
    }
    if (!res.ok) {
      throw new HttpError(`${this.host}: ${method} ${path.split("?")[0]}: ${res.status} ${errorText(text)}`.trimEnd(), res.status,
        res.status === 401 || res.status === 403 ? this.refused() : "");
    }
    try {
      return JSON.parse(text);
    } catch {
      const page = (res.headers.get("content-type") ?? "").startsWith("text/html") || text.trimStart().startsWith("<");
      throw new NotJsonError(`${this.host}: answered ${res.status} with something that is not JSON: ${visible(text, 80)}`,
        "is the platform URL right, or is a proxy answering instead? see 'lap config'", page);
    }
  }

  // listAgents walks every page, newest first. It stops at the last page,
  // at a page that brings no agent not seen before (a platform that ignores
  // offset), and at MAX_PAGES or MAX_ITEMS, with a line that says so.
  async listAgents(): Promise<Agent[]> {
    const seen = new Set<string>();
    const all: Agent[] = [];
    for (let offset = 0, page = 0; ; page++) {
      if (page >= MAX_PAGES || all.length >= MAX_ITEMS) throw this.endlessError("agents");
      const answer = await this.call("GET", `/api/v1/managed_agents/agents?limit=${PAGE_LIMIT}&offset=${offset}`);
      const data = isRecord(answer) ? answer.data : undefined;
      const total = isRecord(answer) ? answer.total : undefined;
      if (!Array.isArray(data)) throw this.shapeError("agents list", "no data array");
      const fresh = data.filter(isAgent).filter((a) => firstTime(seen, a.id)).map(agentOf);
      all.push(...fresh);
      offset += data.length;
      if (data.length === 0 || fresh.length === 0 || typeof total !== "number" || offset >= total) return all;
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
  async listSessions(agentId?: string, pages = MAX_PAGES): Promise<Session[]> {
    const seen = new Set<string>();
    const all: Session[] = [];
    for (let offset = 0, page = 0; ; page++) {
      if (page >= pages) {
        if (pages < MAX_PAGES) break;
        throw this.endlessError("sessions");
      }
      if (all.length >= MAX_ITEMS) throw this.endlessError("sessions");
      const query = new URLSearchParams();
      if (agentId) query.set("agent_id", agentId);
      query.set("limit", String(PAGE_LIMIT));
      query.set("offset", String(offset));
      const data = await this.call("GET", `/api/v1/managed_agents/sessions?${query}`);
      if (!Array.isArray(data)) throw this.shapeError("sessions list", "not an array");
      const fresh = data.filter((s) => sessionProblem(s) === null).map((s) => s as Session).filter((s) => firstTime(seen, s.id));
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
    const answer = await this.call("DELETE", `/api/v1/managed_agents/sessions/${pathId(id)}`);
    const status = (answer as { status?: unknown } | null)?.status;
    return typeof status === "string" ? status : null;
  }

  async createSession(agentId: string, title: string): Promise<Session> {
    let s: unknown;
    try {
      s = await this.call("POST", `/api/v1/managed_agents/agents/${pathId(agentId)}/session`, { title });
    } catch (err) {
      if (err instanceof HttpError) {
        throw new HttpError(`session create failed: ${err.status}`, err.status,
          err.status === 401 ? this.refused() : err.message);
      }
      throw err;
    }
    return this.checkSession(s, "new session");
  }

  async getSession(id: string, opts: CallOptions = {}): Promise<Session> {
    const s = await this.call("GET", `/api/v1/managed_agents/sessions/${pathId(id)}`, undefined, opts);
    return this.checkSession(s, "session");
  }

  private checkSession(s: unknown, what: string): Session {
    const problem = sessionProblem(s);
    if (problem !== null) throw this.shapeError(what, problem);
    return s as Session;
  }

  private shapeError(what: string, problem: string): LapError {
    return new LapError(`${this.host}: the ${what} answer has an unexpected shape: ${problem}`, "is the platform URL right? see 'lap config'");
  }

  private endlessError(what: string): LapError {
    return new LapError(`${this.host}: stopped reading the ${what} list after ${MAX_PAGES} pages or ${MAX_ITEMS} entries`,
      "the platform keeps answering that there is more; report it to its operators");
  }

  // ---- A session's life: its log, restart, diagnosis and events tail.
  // Older platforms lack these routes; each call then throws Unsupported.

  // sessionLog is the session's timeline, oldest first, as the platform
  // gave it (entries are checked to be objects, their fields are not).
  async sessionLog(id: string): Promise<LogEntry[]> {
    const answer = await this.lifecycle("GET", id, "log", "session logs");
    if (!Array.isArray(answer)) throw this.shapeError("session log", "not a list");
    if (!answer.every(isRecord)) throw this.shapeError("session log", "an entry is not an object");
    return answer as LogEntry[];
  }

  // restartSession brings a dead or failed session back in a fresh sandbox;
  // the platform answers only when done, so the wait is the caller's to bound.
  async restartSession(id: string, opts: CallOptions = {}): Promise<Session> {
    const s = await this.lifecycle("POST", id, "restart", "restarting sessions", { timeoutMs: opts.timeoutMs ?? MESSAGE_TIMEOUT_MS, signal: opts.signal });
    return this.checkSession(s, "restarted session");
  }

  // diagnose is what the platform knows about a stuck session.
  async diagnose(id: string): Promise<Diagnosis> {
    const bundle = await this.lifecycle("GET", id, "diagnose", "session diagnosis");
    if (!isRecord(bundle)) throw this.shapeError("diagnosis", "not an object");
    return bundle as Diagnosis;
  }

  // sessionEvents follows the session's event stream and yields each
  // event's JSON as it comes; it ends when the platform ends the stream or
  // signal fires. 409 (not ready) is an HttpError like any other status.
  async *sessionEvents(id: string, signal: AbortSignal): AsyncGenerator<unknown> {
    let body: AsyncIterable<Uint8Array>;
    try {
      body = await this.followEvents(id, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof HttpError && err.status === 404 && !SESSION_NOT_FOUND.test(err.message)) {
        throw new Unsupported(this.host, "following a session's events", 404);
      }
      throw err;
    }
    try {
      yield* (require("./events.js") as typeof import("./events.js")).readEvents(body);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof LapError) throw err;
      throw new LapError(`${this.host}: ${networkReason(err)} while following events`);
    }
  }

  // lifecycle calls one of these routes; a 404 that is not about the session
  // itself, or an HTML page, means the platform does not have the route.
  private async lifecycle(method: string, id: string, route: string, what: string, opts: CallOptions = {}): Promise<unknown> {
    try {
      return await this.call(method, `${sessionPath(id)}/${route}`, undefined, opts);
    } catch (err) {
      if (err instanceof NotJsonError && err.page) throw new Unsupported(this.host, what, 200);
      if (err instanceof HttpError && err.status === 404 && !SESSION_NOT_FOUND.test(err.message)) throw new Unsupported(this.host, what, 404);
      throw err;
    }
  }

  // ---- chat: streamed messages, abort, history, skills ----

  // sendTurn sends a message and returns the final assistant message once
  // the turn is over; signal cancels the wait (the turn goes on).
  async sendTurn(sessionId: string, body: MessageBody, signal?: AbortSignal): Promise<Answer> {
    const answer = await this.call("POST", `${sessionPath(sessionId)}/message`, body, { timeoutMs: MESSAGE_TIMEOUT_MS, signal });
    const parts = (answer as { parts?: unknown } | null)?.parts;
    if (!Array.isArray(parts)) throw this.shapeError("message", "no parts array");
    const info = (answer as { info?: unknown }).info;
    return { info: isRecord(info) ? info : {}, parts: parts.filter(isPart) };
  }

  // streamMessage sends a message and returns the body of its event stream.
  streamMessage(sessionId: string, body: MessageBody, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    // Its request carries the attachments: sending them may take long.
    return this.openStream("POST", `${sessionPath(sessionId)}/message_stream`, body, signal, MESSAGE_TIMEOUT_MS);
  }

  // followEvents returns the session's live event stream (nothing replayed).
  followEvents(sessionId: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    return this.openStream("GET", `${sessionPath(sessionId)}/events`, undefined, signal);
  }

  // abortTurn stops the turn in flight; the platform answers ok also when
  // nothing runs.
  async abortTurn(sessionId: string): Promise<void> {
    await this.call("POST", `${sessionPath(sessionId)}/abort`);
  }

  // messages is the session's thread, oldest first.
  async messages(sessionId: string): Promise<Answer[]> {
    const list = await this.call("GET", `${sessionPath(sessionId)}/messages`);
    if (!Array.isArray(list)) throw this.shapeError("messages", "not an array");
    return list.filter(isRecord).map((m) => ({
      info: isRecord(m.info) ? m.info : {},
      parts: Array.isArray(m.parts) ? m.parts.filter(isPart) : [],
    }));
  }

  // skills lists the platform's skills.
  async skills(): Promise<Skill[]> {
    const answer = await this.call("GET", "/api/v1/skills");
    const data = (answer as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw this.shapeError("skills", "no data array");
    return data.filter((s): s is Skill => isRecord(s) && typeof s.name === "string" && typeof s.content === "string")
      .map((s) => ({ name: s.name, description: typeof s.description === "string" ? s.description : "", content: s.content }));
  }

  // send makes one request with the master key and returns the answer as it
  // starts; a failure to reach the platform is a LapError naming the host.
  private async send(method: string, path: string, body: unknown, accept: string, signal: AbortSignal): Promise<FetchAnswer> {
    try {
      return await this.fetch(this.base + path, {
        method,
        headers: {
          authorization: `Bearer ${this.key}`,
          accept,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        // Never follow a redirect: fetch would send the master key along.
        redirect: "manual",
        signal,
      });
    } catch (err) {
      // A proxy setting lap cannot use says so itself, with its own hint.
      if (err instanceof LapError) throw err;
      const reason = networkReason(err);
      throw new LapError(`${this.host}: ${reason}`, networkHint(reason, "check the platform URL with 'lap config'"));
    }
  }

  // openStream sends a request whose answer is an event stream and returns
  // its body; a refusal becomes an HttpError as in call. The answer must
  // start within openMs (the client's call timeout); after that the stream may last
  // as long as something comes at least every quietMs (STREAM_QUIET_MS).
  private async openStream(method: string, path: string, body: unknown, signal?: AbortSignal, openMs = this.timeoutMs): Promise<AsyncIterable<Uint8Array>> {
    const quiet = new Quiet(signal);
    quiet.arm(openMs);
    try {
      const res = await this.send(method, path, body, "text/event-stream", quiet.signal);
      const type = res.headers.get("content-type") ?? "";
      if (!res.ok || !type.startsWith("text/event-stream") || !res.body) {
        const text = await readBody(res, this.host, quiet.signal);
        throw new HttpError(`${this.host}: ${method} ${path}: ${res.status} ${errorText(text)}`.trimEnd(), res.ok ? 404 : res.status,
          res.status === 401 || res.status === 403 ? this.refused() : "");
      }
      return watched(res.body, quiet, this.host, this.quietMs);
    } catch (err) {
      quiet.stop();
      throw err;
    }
  }
}

// Quiet aborts a stream's request when the caller's signal fires, or when
// the time armed last runs out: a dead link, or a server that went silent.
class Quiet {
  private readonly ctl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  readonly signal = this.ctl.signal;
  fired = false;

  constructor(private readonly cancel?: AbortSignal) {
    if (cancel?.aborted) this.ctl.abort(cancel.reason);
    else cancel?.addEventListener("abort", this.onCancel, { once: true });
  }

  private onCancel = (): void => {
    clearTimeout(this.timer);
    this.ctl.abort(this.cancel?.reason);
  };

  arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.ctl.abort(Object.assign(new Error("the stream went quiet"), { name: "TimeoutError" }));
    }, ms);
  }

  // stop ends the watch, and the request if it is still open.
  stop(): void {
    clearTimeout(this.timer);
    this.cancel?.removeEventListener("abort", this.onCancel);
    this.ctl.abort();
  }
}

// watched passes a stream's body on, rearming quiet at every chunk; a body
// cut because nothing came says so.
async function* watched(body: AsyncIterable<Uint8Array>, quiet: Quiet, host: string, quietMs: number): AsyncGenerator<Uint8Array> {
  quiet.arm(quietMs);
  try {
    for await (const chunk of body) {
      quiet.arm(quietMs);
      yield chunk;
    }
  } catch (err) {
    if (quiet.fired) throw new LapError(`${host}: nothing came for ${quietMs / 1000}s, not even a heartbeat`);
    throw err;
  } finally {
    quiet.stop();
  }
}

// The body of a message: text, or parts, and images.
export interface MessageBody {
  text?: string;
  parts?: Part[];
  attachments?: { name?: string; mime_type: string; base64: string }[];
}

// A message of the thread, or the final answer of a turn.
export interface Answer {
  info: Record<string, unknown>;
  parts: Part[];
}

export interface Skill {
  name: string;
  description: string;
  content: string;
}

function sessionPath(id: string): string {
  return `/api/v1/managed_agents/sessions/${pathId(id)}`;
}

// A platform's own 404 for a session it does not know, as opposed to a
// route it does not have.
const SESSION_NOT_FOUND = /\bsession\b[^:]*not found/i;

// Unsupported says the platform lacks a route: doctor skips its step on it.
export class Unsupported extends LapError {
  readonly feature: string;
  constructor(host: string, feature: string, status: number) {
    super(`${host} does not offer ${feature} (an older platform? it answered ${status === 404 ? "404" : "a web page"})`,
      "ask the platform's operators to upgrade it, or use its web UI");
    this.feature = feature;
  }
}

// NotJsonError is an answer that is not JSON: a proxy's or web UI's page
// (page), or a broken one.
export class NotJsonError extends LapError {
  constructor(message: string, hint: string, readonly page: boolean) {
    super(message, hint);
  }
}

// One entry of a session's timeline. The fields are the platform's and
// unchecked: print them through visible().
export interface LogEntry {
  id?: unknown;
  at?: unknown;
  kind?: unknown;
  title?: unknown;
  detail?: unknown;
  meta?: unknown;
  status?: unknown;
}

// What GET …/diagnose answers; every section may be {"exists": false} or
// anything else a hostile server sends, so each is read defensively.
export interface Diagnosis {
  session?: unknown;
  agent?: unknown;
  pod?: unknown;
  service?: unknown;
  node?: unknown;
  pod_logs_tail?: unknown;
  harness_probe?: unknown;
  detected_issues?: unknown;
  notes?: unknown;
}

function isPart(p: unknown): p is Part {
  return typeof p === "object" && p !== null && typeof (p as Part).type === "string";
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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
    const phase = phaseOf(s);
    if (phase !== lastPhase) {
      opts.onPhase(phase);
      lastPhase = phase;
    }
    if (s.status === "ready") return s;
    if (s.status !== "creating") {
      const reason = s.failure_reason ? `: ${visible(s.failure_reason)}` : "";
      throw new LapError(`session ${s.id} is ${visible(s.status)}${reason}`, `bring it back: lap restart ${shellQuoted(s.id)} — or start a new one: lap <agent> --new`);
    }
    if (now() >= deadline) throw notReady(s, opts.timeoutMs, `attach later: lap attach ${shellQuoted(s.id)}`);
    await sleep(Math.min(interval, Math.max(0, deadline - now())));
    interval = Math.min(interval * POLL_GROWTH, POLL_MAX_MS);
    s = await api.getSession(s.id);
  }
}

// phaseOf is where a session's bring-up is, as the user is shown it.
export function phaseOf(s: Session): string {
  return s.phase_detail && s.phase && s.phase_detail !== s.phase ? `${s.phase} (${s.phase_detail})` : s.phase_detail || s.phase || s.status;
}

// notReady is the error of a wait for a session that outlasted timeoutMs
// (--timeout); later says what else the user can do.
export function notReady(s: Session, timeoutMs: number, later: string): LapError {
  return new LapError(`session ${s.id} not ready after ${asFlag(timeoutMs)} (last seen: ${visible(phaseOf(s))})`,
    `cold starts can take minutes: wait longer with --timeout, or ${later}`);
}

// Where and how to open a session's terminal: lap <agent>, lap attach and
// lap doctor all reach it through terminalTarget, so they cannot disagree.
export interface TerminalTarget {
  url: string;
  token?: string;
  // LAP_TTY_TOKEN_IN_QUERY: the token goes in the URL too.
  tokenInQuery: boolean;
}

// terminalTarget picks the URL (ttyURL) and the token: LAP_TTY_TOKEN, else
// the session's tty_token.
export function terminalTarget(s: Session, base: string, settings: Settings): TerminalTarget {
  const token = settings.ttyToken || s.tty_token || undefined;
  return { url: ttyURL(s, base, settings.ttyFallback), ...(token && { token }), tokenInQuery: settings.ttyTokenInQuery && !!token };
}

const IN_CLUSTER = /(\.svc\.cluster\.local|\.svc|\.cluster\.local)$/i;

// ttyURL is where the session's terminal WebSocket is: tty_url when given
// (absolute, or a path on the platform), else sandbox_url + /tty when that
// host is reachable, else LAP_TTY_FALLBACK for an in-cluster host.
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
  // A WebSocket URL carries no fragment (the client refuses one).
  url.hash = "";
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
  let id = arg;
  try {
    if (m) id = decodeURIComponent(m[1]);
  } catch {
    id = "";
  }
  if (!/^[\w.-]+$/.test(id) || /^\.+$/.test(id)) throw new LapError(`'${visible(arg)}' is not a session id or a .../sessions/<id> URL`);
  return id;
}

// pathId is an id made fit to stand in a URL path: encoded, and never "."
// or "..", which would climb to another route.
export function pathId(id: string): string {
  if (id === "" || /^\.+$/.test(id)) throw new LapError(`'${visible(id)}' is not an id lap can use`);
  return encodeURIComponent(id);
}


// An id lap takes from the server: one to 200 characters, none of which a
// terminal obeys or reorders, since ids are printed and put in commands.
function isId(id: unknown): id is string {
  return typeof id === "string" && id.length >= 1 && id.length <= 200 && isPlain(id);
}

function isAgent(a: unknown): a is Agent {
  return isRecord(a) && isId(a.id) && (a.name === undefined || a.name === null || typeof a.name === "string");
}

// firstTime tells whether id is new to seen, and adds it: an id a page
// repeats, or an earlier page held, is listed once.
function firstTime(seen: Set<string>, id: string): boolean {
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
}

// agentOf keeps only the fields lap uses, each of the type it expects. An
// empty name is no name: lap shows the id instead.
function agentOf(a: Agent): Agent {
  return {
    id: a.id,
    name: a.name || null,
    harness_id: typeof a.harness_id === "string" ? a.harness_id : "",
    ...(typeof a.supports_tui === "boolean" && { supports_tui: a.supports_tui }),
    ...(typeof a.has_active_session === "boolean" && { has_active_session: a.has_active_session }),
  };
}

const SESSION_STRINGS = ["phase", "phase_detail", "failure_reason", "sandbox_url", "tty_url", "tty_token", "created_at", "last_seen_at"] as const;

// sessionProblem names what is wrong with a session answer, or null when
// lap can use it: the fields it reads must have the types it expects.
function sessionProblem(s: unknown): string | null {
  if (!isRecord(s)) return "not an object";
  for (const f of ["id", "agent_id", "status"]) {
    if (typeof s[f] !== "string" || s[f] === "") return `${f} is ${s[f] === undefined ? "missing" : "not a string"}`;
  }
  if (!isId(s.id)) return "id is over 200 characters long or holds control characters";
  for (const f of SESSION_STRINGS) {
    if (s[f] !== undefined && s[f] !== null && typeof s[f] !== "string") return `${f} is not a string`;
  }
  // The token goes into a header: a line break there would split it, and
  // Node refuses anything but visible ASCII.
  if (typeof s.tty_token === "string" && s.tty_token !== "" && !isToken(s.tty_token)) return "tty_token holds control characters or others a header cannot carry";
  if (s.supports_tui !== undefined && s.supports_tui !== null && typeof s.supports_tui !== "boolean") return "supports_tui is not a boolean";
  if (s.idle_timeout_ms !== undefined && s.idle_timeout_ms !== null && typeof s.idle_timeout_ms !== "number") return "idle_timeout_ms is not a number";
  return null;
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

// The call's own time running out while the body trickles in shows as the
// connection being reset (lap resets it): signal tells which it was.
async function readBody(res: FetchAnswer, host: string, signal: AbortSignal): Promise<string> {
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
    if (signal.aborted && (signal.reason as Error | undefined)?.name === "TimeoutError") {
      throw new LapError(`${host}: timed out while reading the answer`, "try again: the platform was slow, or the connection stalled");
    }
    throw new LapError(`${host}: ${networkReason(err)} while reading the answer`);
  }
}

// connectApi is the API client for the saved credentials (or config, when
// the caller has read them already), with LAP_HTTP_TIMEOUT applied.
export function connectApi(io: IO, config: Config = credentials(io)): Api {
  const api = new Api(config.base, config.key, io.fetch, io.settings.httpTimeoutMs);
  api.keyFromEnv = !!io.settings.masterKey;
  return api;
}
