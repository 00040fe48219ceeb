// A local, faithful fake of the LAP platform's HTTP API and its harness /tty
// WebSocket, serving 127.0.0.1 only and running a real program on a
// real PTY inside a private tmux server. For tests and `make demo`; not shipped.

import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { isUtf8 } from "node:buffer";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { Duplex, Writable } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { REPO } from "../testutil/repo.js";
import { ChatFake, type ChatOptions } from "./chatfake.js";
import { closeLine, elapsed, frameLine, headerLine, type Side } from "../frames.js";

/** The chat knobs (message_stream, events, abort, messages, skills) are in chatfake.ts. */
export interface PlatformOptions extends ChatOptions {
  /** 0 (default): any free port. Always bound to 127.0.0.1. */
  port?: number;
  /** Master key every API call must carry; random by default. */
  key?: string;
  /** Program run in the PTY; default: the user's shell, interactive, no rc files. */
  command?: string[];
  /** Extra environment for the program (e.g. PS1). */
  env?: Record<string, string>;
  /** Bring-up time, walking the real phase names; 0 = ready at once. */
  bringUpMs?: number;
  /** Bring-up ends in status "failed" with this failure_reason. */
  failReason?: string;
  /** sandbox_url is an in-cluster name; tty_url is the platform's own proxy path (unless ttyUrl is "none"). */
  inCluster?: boolean;
  /** How tty_url is given (default "absolute"; "path" when inCluster). */
  ttyUrl?: "absolute" | "path" | "none";
  /** Sessions advertise a tty_token the harness refuses. */
  wrongTtyToken?: boolean;
  /** Write each harness connection as a recording (internal/frames.ts; the server's view). */
  recordDir?: string;
  /** How long POST S/restart works before answering (default: bringUpMs, else 1000). */
  restartMs?: number;
  /** POST S/restart fails with 502 "session restart failed: <this>"; the session is then failed. */
  restartFailReason?: string;
  /** idle_timeout_ms of new sessions (default 24 h); null: never reaped. */
  idleTimeoutMs?: number | null;
  /** How often idle ready sessions are reaped (off unless set, so hand-made sessions stay as tests left them). */
  reapEveryMs?: number;
  /** GET S/events: period of server.heartbeat events (default 10 s). */
  heartbeatMs?: number;
  /** GET S/events: the stream is cut after this long with "stream timeout" (default 600 s). */
  eventsCutMs?: number;
  /** GET S/events: answered 200 and ended at once, with nothing in it (a hostile or broken server). */
  eventsEmpty?: boolean;
  /** POST agents/ID/session creates the session at once but answers this long after, as a slow platform may. */
  createAnswerMs?: number;
  /** An older platform without log, restart, diagnose and events: 404 JSON, or an HTML page (200) as a web UI's fallback serves. */
  olderPlatform?: "404" | "html";
}

/** One entry of GET S/log. */
export interface LogEntry {
  id: string;
  at: string;
  kind: string;
  title: string;
  detail?: string;
  meta?: string;
  status?: string;
}

export interface Agent {
  id: string;
  name: string | null;
  harness_id: string;
  /** Absent when addAgent was not given one, like older platforms. */
  supports_tui?: boolean;
  created_at: string;
}

export interface Session {
  id: string;
  agent_id: string;
  title: string | null;
  status: "creating" | "ready" | "failed" | "dead" | "stopped" | "deleted";
  phase: string | null;
  phase_detail: string | null;
  failure_reason: string | null;
  sandbox_url: string | null;
  tty_url: string | null;
  tty_token: string | null;
  supports_tui: boolean;
  harness_session_id: string | null;
  created_at: string;
  last_seen_at: string;
  idle_timeout_ms: number | null;
}

export interface RequestRecord {
  method: string;
  /** The request target as sent: path and query string. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface Platform {
  /** http://127.0.0.1:PORT */
  url: string;
  key: string;
  /** Read when a session is created, so tests may change them between sessions. */
  options: PlatformOptions;
  agents: Agent[];
  sessions: Map<string, Session>;
  requests: RequestRecord[];
  /** Path of the private tmux server's socket (unique per platform; handy for pgrep -f). */
  tmuxSocket: string;
  /** How many PTY hosts were ever spawned (one per accepted /tty connection). */
  spawnCount: number;
  /** The token the harness really accepts for a session (differs from tty_token with wrongTtyToken). */
  harnessToken(sessionId: string): string;
  addAgent(a: { name: string | null; harness_id?: string; supports_tui?: boolean; id?: string }): Agent;
  /** The harness's own WebSocket URL for a session (what LAP_TTY_FALLBACK would name). */
  harnessTtyUrl(sessionId: string): string;
  /** Kills the session's program, as if it exited: its /tty sockets get a notice and close 1005. */
  endProgram(sessionId: string): Promise<void>;
  /** Drops the session's /tty sockets without a close frame, like a load balancer (client sees 1006). */
  dropConnections(sessionId: string): void;
  /** Stops everything: sockets, PTY hosts, the tmux server and its programs. */
  close(): Promise<void>;
  /** The chat side: messages received, aborts, threads. */
  chat: ChatFake;
  /** Timeline entries per session (GET S/log); tests may add or rewrite them. */
  timelines: Map<string, LogEntry[]>;
  /** A bundle that replaces the computed one for GET S/diagnose (hostile or odd answers). */
  diagnoses: Map<string, unknown>;
  /** Sends one event to every GET S/events stream of the session, as {"type":"harness_event","event":...}. */
  emitEvent(sessionId: string, event: unknown): void;
  /** How many GET S/events streams were opened, per session. */
  eventStreams(sessionId: string): number;
  /** Breaks the session's GET S/events connections mid-stream, as a dropped link would. */
  dropEventStreams(sessionId: string): void;
  /** Marks idle ready sessions dead now, as the reaper does every reapEveryMs. */
  reap(): void;
}

const API = "/api/v1/managed_agents";
const DEFAULT_BRING_UP_MS = 1000;
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
// The real platform reaps a session after 24 h without messages.
const IDLE_TIMEOUT_MS = 24 * 60 * 60 * 1000;
const MAX_BODY_BYTES = 1 << 20;
// A message may carry ten images of 5 MB each, base64 encoded.
const MAX_MESSAGE_BYTES = 80 << 20;
const CHAT_ROUTES = new Set([
  "POST sessions/ID/message",
  "POST sessions/ID/message_stream",
  "POST sessions/ID/abort",
  "GET sessions/ID/messages",
]);
// The real platform's heartbeat period and cut of an events stream.
const HEARTBEAT_MS = 10_000;
const EVENTS_CUT_MS = 600_000;
// Timeline details are cut to this many characters, as the real platform does.
const LOG_DETAIL_MAX = 600;
const DEFAULT_RESTART_MS = 1000;
const POD_LOG_LINES = 200;
// Size used until the client's first resize frame arrives (usually milliseconds later).
const INITIAL_COLS = 80;
const INITIAL_ROWS = 24;
// A PTY host that ignores SIGTERM (it should not) is killed after this long.
const HOST_KILL_GRACE_MS = 3000;
// Programs that survive tmux kill-server's SIGHUP get SIGKILL after this long.
const PANE_KILL_GRACE_MS = 1000;
// Stop reading the PTY while this much output waits to go out on the WebSocket.
const MAX_UNSENT_BYTES = 1 << 20;
const TMUX_TIMEOUT_MS = 5000;
const EXIT_NOTICE = "\r\n[program exited]\r\n";

const PHASES: readonly [string, string][] = [
  ["creating_sandbox", "creating the sandbox"],
  ["pod_pending", "waiting for a node"],
  ["pod_running", "pod is running"],
  ["waiting_harness", "waiting for the harness"],
  ["harness_ready", "harness is up"],
  ["ready", "ready"],
];
// A failing bring-up fails after the pod runs, like an image or harness error.
const FAIL_AFTER_PHASE = "pod_running";

// tmux options, loaded when the private server starts. window-size latest makes
// the newest client's size win, also after a reattach. escape-time 0 so Esc
// reaches vim at once. The status line stays on, as the real harness shows one
// ("[lap] 0:bash*"), so `tput lines` is rows - 1 there too. default-terminal is
// left at tmux's default, as the harness does.
const TMUX_CONF = [
  "set -g window-size latest",
  "set -g escape-time 0",
  'set -g status-left "[lap] "',
  "",
].join("\n");

/** The user's shell, interactive and without rc files so it starts fast and predictably. */
export function defaultCommand(shell: string = process.env.SHELL || "/bin/sh"): string[] {
  const name = path.basename(shell);
  if (name === "bash") return [shell, "--norc", "--noprofile", "-i"];
  if (name === "zsh") return [shell, "-f", "-i"];
  return [shell, "-i"];
}

/** Starts a platform on 127.0.0.1; resolves once it listens. */
export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const p = new LocalPlatform(opts);
  await p.listen(opts.port ?? 0);
  return p;
}

// How long the watchdog lets tmux's SIGHUP work before it kills what is left.
const WATCHDOG_GRACE_S = 1;

/**
 * The tmux server is a daemon: if this process dies without cleaning up
 * (SIGKILL, a closed terminal window), it and its programs would live on.
 * A watchdog in a session of its own reads a pipe whose only writer is this
 * process; when the pipe closes, however this process ended, it kills the
 * tmux server and what ran in it, and removes the platform's directory.
 */
function startWatchdog(socket: string, dir: string): ChildProcess {
  const script = `cat >/dev/null
s=$WATCHDOG_SOCKET
pids=$(tmux -S "$s" list-panes -a -F '#{pane_pid}' 2>/dev/null; tmux -S "$s" display-message -p '#{pid}' 2>/dev/null)
tmux -S "$s" kill-server 2>/dev/null
sleep ${WATCHDOG_GRACE_S}
[ -n "$pids" ] && kill -9 $pids 2>/dev/null
rm -rf "$WATCHDOG_DIR"`;
  // The paths go in the environment, not argv, so that looking for the
  // platform's processes by its socket path does not find the watchdog.
  const env = { ...tmuxEnv(), WATCHDOG_SOCKET: socket, WATCHDOG_DIR: dir };
  const dog = spawn("sh", ["-c", script, "lap-platform-watchdog"], { detached: true, stdio: ["pipe", "ignore", "ignore"], env });
  dog.on("error", () => {});
  dog.unref();
  (dog.stdin as unknown as { unref(): void }).unref();
  return dog;
}

const open = new Set<LocalPlatform>();
let exitWatched = false;

/**
 * One process "exit" listener for all open platforms (one each would trip
 * MaxListeners). A test runner that times a file out sends SIGTERM, which
 * skips "exit": the tmux servers are daemons and would outlive it, so the
 * terminating signals also clean up, then take their default course.
 */
function watchExit(p: LocalPlatform): void {
  if (!exitWatched) {
    const killAll = () => open.forEach((q) => q.killSync());
    process.once("exit", killAll);
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      // Only where nobody else handles the signal: the demo forwards SIGTERM to lap.
      if (process.listenerCount(signal) > 0) continue;
      process.once(signal, () => {
        killAll();
        process.kill(process.pid, signal);
      });
    }
  }
  exitWatched = true;
  open.add(p);
}

interface Connection {
  ws: WebSocket;
  host: ChildProcess;
  sessionId: string;
  clientGone: boolean;
  recorder: Recorder | null;
}

interface HarnessState {
  /** The token the harness accepts (differs from tty_token with wrongTtyToken). */
  token: string;
  timers: NodeJS.Timeout[];
}

class LocalPlatform implements Platform {
  url = "";
  key: string;
  options: PlatformOptions;
  agents: Agent[] = [];
  sessions = new Map<string, Session>();
  requests: RequestRecord[] = [];
  tmuxSocket: string;
  spawnCount = 0;
  chat = new ChatFake(() => this.options, (id, prompt, answer) => {
    this.addEntry(id, "user", "User message", { detail: prompt });
    this.addEntry(id, "response", "Response", { detail: answer, meta: "0.0s · 2 tok" });
  });

  private readonly server: http.Server;
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly harness = new Map<string, HarnessState>();
  private readonly connections = new Set<Connection>();
  private readonly hosts = new Set<ChildProcess>();
  private readonly tmpDir: string;
  private readonly tmuxConf: string;
  private readonly ptyHost: string;
  private recordings = 0;
  private closed = false;
  // Ends the tmux server if this process dies before close(); close() does
  // that itself and then dismisses it.
  private readonly watchdog: ChildProcess;
  timelines = new Map<string, LogEntry[]>();
  diagnoses = new Map<string, unknown>();
  private readonly streams = new Set<EventStream>();
  private readonly streamCounts = new Map<string, number>();
  private reaper: NodeJS.Timeout | null = null;

  harnessToken(sessionId: string): string {
    const state = this.harness.get(sessionId);
    if (!state) throw new Error(`no session ${sessionId}`);
    return state.token;
  }

  constructor(opts: PlatformOptions) {
    this.options = { ...opts };
    this.key = opts.key ?? "sk-local-" + randomBytes(16).toString("hex");
    this.ptyHost = findPtyHost();
    // A short private directory: unix socket paths are limited to ~107 bytes.
    this.tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "lap-platform-"));
    this.tmuxSocket = path.join(this.tmpDir, "tmux.sock");
    this.tmuxConf = path.join(this.tmpDir, "tmux.conf");
    fs.writeFileSync(this.tmuxConf, TMUX_CONF);
    this.watchdog = startWatchdog(this.tmuxSocket, this.tmpDir);
    this.server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: String(err) });
        else res.destroy();
      });
    });
    this.server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.onUpgrade(req, socket, head);
    });
  }

  /** Last resort when the process exits without close(): the tmux server is a daemon and would outlive us. */
  killSync(): void {
    try {
      execFileSync("tmux", ["-S", this.tmuxSocket, "kill-server"], { stdio: "ignore", timeout: TMUX_TIMEOUT_MS, env: tmuxEnv() });
    } catch {
      // no server running
    }
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.watchdog.kill("SIGKILL");
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => {
        const addr = this.server.address();
        if (addr === null || typeof addr === "string") return reject(new Error("no TCP address"));
        this.url = `http://127.0.0.1:${addr.port}`;
        watchExit(this);
        this.startReaper();
        resolve();
      });
    });
  }

  addAgent(a: { name: string | null; harness_id?: string; supports_tui?: boolean; id?: string }): Agent {
    const agent: Agent = {
      id: a.id ?? randomUUID(),
      name: a.name,
      harness_id: a.harness_id ?? "claude-code",
      created_at: new Date().toISOString(),
    };
    if (a.supports_tui !== undefined) agent.supports_tui = a.supports_tui;
    this.agents.push(agent);
    return agent;
  }

  harnessTtyUrl(sessionId: string): string {
    return this.url.replace(/^http/, "ws") + `/h/${sessionId}/tty`;
  }

  async endProgram(sessionId: string): Promise<void> {
    const out = await this.tmux(["list-panes", "-s", "-t", "=" + sessionId, "-F", "#{pane_pid}"]);
    for (const pid of parsePids(out)) killQuietly(pid, "SIGKILL");
  }

  dropConnections(sessionId: string): void {
    for (const c of this.connections) {
      if (c.sessionId === sessionId) c.ws.terminate();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    for (const h of this.harness.values()) h.timers.forEach(clearTimeout);
    this.stopLifecycle();
    for (const c of this.connections) {
      c.clientGone = true;
      c.ws.terminate();
    }
    const panes = parsePids(await this.tmux(["list-panes", "-a", "-F", "#{pane_pid}"]));
    const serverPid = parsePids(await this.tmux(["display-message", "-p", "#{pid}"]));
    await this.tmux(["kill-server"]);
    for (const h of this.hosts) h.kill("SIGTERM");
    await Promise.all([...this.hosts].map((h) => waitExit(h, HOST_KILL_GRACE_MS)));
    await killAfterGrace([...panes, ...serverPid], PANE_KILL_GRACE_MS);
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.tmpDir, { recursive: true, force: true });
    this.watchdog.kill("SIGKILL");
    await waitExit(this.watchdog, HOST_KILL_GRACE_MS);
  }

  // ---- HTTP API ----

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.log(req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    if (url.pathname.startsWith("/h/")) return this.onHarnessRequest(url, res);
    if (url.pathname === "/api/v1/skills" && method === "GET") {
      if (!this.hasMasterKey(req)) return sendJson(res, 401, { error: "unauthorized" });
      return this.chat.skills(res);
    }
    if (!url.pathname.startsWith(API + "/")) return sendJson(res, 404, { error: "not found" });
    if (!this.hasMasterKey(req)) return sendJson(res, 401, { error: "unauthorized" });
    const parts = url.pathname.slice(API.length + 1).split("/").map(decodeURIComponent);
    const route = `${method} ${parts[0]}/${parts.length > 1 ? "ID" : ""}${parts.length > 2 ? "/" + parts[2] : ""}`;
    const id = parts[1] ?? "";
    if (parts.length > 3) return sendJson(res, 404, { error: "not found" });
    if (parts[0] === "sessions" && parts.length === 3 && LIFECYCLE_ROUTES.has(`${method} ${parts[2]}`)) {
      return this.onLifecycle(method, id, parts[2]!, req, res);
    }
    if (CHAT_ROUTES.has(route)) return this.chatRoute(route, id, req, res);
    switch (route) {
      case "GET agents/":
        return this.listAgents(url, res);
      case "POST agents/ID/session":
        return this.createSession(id, await readJson(req), res);
      case "GET sessions/":
        return this.listSessions(url, res);
      case "GET sessions/ID":
        return this.getSession(id, res);
      case "DELETE sessions/ID":
        return this.deleteSession(id, res);
    }
    return sendJson(res, 404, { error: "not found" });
  }

  private listAgents(url: URL, res: http.ServerResponse): void {
    const paging = readPaging(url);
    if (typeof paging === "string") return sendJson(res, 422, { error: [paging] });
    const search = (url.searchParams.get("search") ?? "").toLowerCase();
    const matches = this.agents
      .filter((a) => [a.name ?? "", a.id, a.harness_id].some((f) => f.toLowerCase().includes(search)))
      .reverse();
    const data = matches.slice(paging.offset, paging.offset + paging.limit).map((a) => this.agentJson(a));
    sendJson(res, 200, { data, total: matches.length, limit: paging.limit, offset: paging.offset });
  }

  private agentJson(a: Agent): Agent & { has_active_session: boolean } {
    const active = [...this.sessions.values()].some(
      (s) => s.agent_id === a.id && (s.status === "ready" || s.status === "creating"),
    );
    return { ...a, has_active_session: active };
  }

  private createSession(agentId: string, body: unknown, res: http.ServerResponse): void {
    const agent = this.agents.find((a) => a.id === agentId);
    if (agent === undefined) return sendJson(res, 404, { error: `agent ${agentId} not found` });
    const now = new Date().toISOString();
    const title = isRecord(body) && typeof body.title === "string" ? body.title : null;
    const session: Session = {
      id: randomUUID(),
      agent_id: agent.id,
      title,
      status: "creating",
      phase: PHASES[0]![0],
      phase_detail: PHASES[0]![1],
      failure_reason: null,
      sandbox_url: null,
      tty_url: null,
      tty_token: null,
      supports_tui: agent.supports_tui ?? ["claude-code", "codex"].includes(agent.harness_id),
      harness_session_id: null,
      created_at: now,
      last_seen_at: now,
      idle_timeout_ms: this.options.idleTimeoutMs === undefined ? IDLE_TIMEOUT_MS : this.options.idleTimeoutMs,
    };
    const token = randomBytes(24).toString("hex");
    this.sessions.set(session.id, session);
    this.harness.set(session.id, { token, timers: [] });
    this.addEntry(session.id, "created", "Session created", { detail: title ?? undefined });
    this.bringUp(session, { ...this.options });
    const delay = this.options.createAnswerMs;
    if (delay) setTimeout(() => sendJson(res, 200, session), delay);
    else sendJson(res, 200, session);
  }

  /** Walks the phases over bringUpMs, then marks the session ready or failed. */
  private bringUp(s: Session, opts: PlatformOptions): void {
    const state = this.harness.get(s.id)!;
    const total = opts.bringUpMs ?? DEFAULT_BRING_UP_MS;
    const step = total / (PHASES.length - 1);
    const advance = (i: number): void => {
      if (s.status !== "creating") return;
      const [phase, detail] = PHASES[i]!;
      s.phase = phase;
      s.phase_detail = detail;
      if (opts.failReason !== undefined && phase === FAIL_AFTER_PHASE) {
        s.status = "failed";
        s.failure_reason = opts.failReason;
        s.phase_detail = opts.failReason;
        this.addEnded(s);
        return;
      }
      if (phase === "ready") return this.markReady(s, opts, state);
      if (total === 0) return advance(i + 1);
      state.timers.push(setTimeout(() => advance(i + 1), step));
    };
    if (total === 0) advance(0);
    else state.timers.push(setTimeout(() => advance(1), step));
  }

  private markReady(s: Session, opts: PlatformOptions, state: HarnessState): void {
    s.status = "ready";
    s.harness_session_id = "hs_" + randomBytes(8).toString("hex");
    const harnessBase = `${this.url}/h/${s.id}`;
    s.sandbox_url = opts.inCluster ? `http://s-${s.id.slice(0, 8)}.default.svc.cluster.local:4096` : harnessBase;
    if (!s.supports_tui) return;
    s.tty_token = opts.wrongTtyToken ? randomBytes(24).toString("hex") : state.token;
    if (opts.ttyUrl === "none") s.tty_url = null;
    else if (opts.inCluster) s.tty_url = `${API}/sessions/${s.id}/tty`;
    else if (opts.ttyUrl === "path") s.tty_url = `/h/${s.id}/tty`;
    else s.tty_url = this.harnessTtyUrl(s.id);
  }

  private listSessions(url: URL, res: http.ServerResponse): void {
    const paging = readPaging(url);
    if (typeof paging === "string") return sendJson(res, 422, { error: [paging] });
    const agentId = url.searchParams.get("agent_id");
    const list = [...this.sessions.values()].filter((s) => agentId === null || s.agent_id === agentId).reverse();
    sendJson(res, 200, list.slice(paging.offset, paging.offset + paging.limit));
  }

  private getSession(id: string, res: http.ServerResponse): void {
    const s = this.sessions.get(id);
    if (s === undefined) return sendJson(res, 404, { error: `session ${id} not found` });
    sendJson(res, 200, s);
  }

  private deleteSession(id: string, res: http.ServerResponse): void {
    const s = this.sessions.get(id);
    if (s === undefined) return sendJson(res, 404, { error: `session ${id} not found` });
    this.harness.get(id)?.timers.forEach(clearTimeout);
    s.status = "deleted";
    // The tmux clients exit when their session dies, so the /tty sockets close too.
    void this.tmux(["kill-session", "-t", "=" + id]);
    sendJson(res, 200, { id, status: s.status });
  }

  // ---- chat routes (message_stream, abort, messages, events) ----

  private async chatRoute(route: string, id: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const s = this.sessions.get(id);
    if (route === "GET sessions/ID/messages") {
      if (s === undefined) return sendJson(res, 404, { error: `session ${id} not found` });
      return this.chat.messages(id, res);
    }
    if (s === undefined || s.status !== "ready") return sendJson(res, 404, { error: `session ${id} not found or not ready` });
    s.last_seen_at = new Date().toISOString();
    if (route === "POST sessions/ID/abort") return this.chat.abort(id, res);
    const body = await readJson(req, MAX_MESSAGE_BYTES);
    if (route === "POST sessions/ID/message") return this.chat.message(id, body, res);
    return this.chat.messageStream(id, body, res);
  }

  private onHarnessRequest(url: URL, res: http.ServerResponse): void {
    const id = url.pathname.split("/")[2] ?? "";
    if (this.sessions.get(id)?.status !== "ready") return sendJson(res, 404, { error: "not found" });
    if (url.pathname.endsWith("/tty")) return sendJson(res, 426, { error: "upgrade required" });
    sendJson(res, 200, { harness: "lap-local", session: id });
  }

  private hasMasterKey(req: http.IncomingMessage): boolean {
    const got = bearer(req.headers.authorization);
    return got !== null && safeEqual(got, this.key);
  }

  private log(req: http.IncomingMessage): void {
    this.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: { ...req.headers } });
  }

  // ---- Lifecycle routes: log, restart, diagnose, events, reaping ----

  private async onLifecycle(method: string, id: string, route: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.options.olderPlatform === "html") return sendHtml(res, 200, "<!doctype html><html><body><div id=root></div></body></html>");
    if (this.options.olderPlatform === "404") return sendJson(res, 404, { error: "not found" });
    switch (`${method} ${route}`) {
      case "GET log":
        return sendJson(res, 200, this.sessions.has(id) ? this.timelineOf(this.sessions.get(id)!) : []);
      case "POST restart":
        req.resume();
        return this.restart(id, res);
      case "GET diagnose":
        return this.diagnose(id, res);
      case "GET events":
        return this.events(id, req, res);
    }
  }

  /** The stored entries, ending with an "ended" entry for a dead or failed session. */
  private timelineOf(s: Session): LogEntry[] {
    const entries = [...(this.timelines.get(s.id) ?? [])];
    const last = entries[entries.length - 1];
    if ((s.status === "dead" || s.status === "failed") && last?.kind !== "ended") {
      entries.push(logEntry("ended", `Session ${s.status}`, { detail: s.failure_reason ?? undefined, status: s.status }));
    }
    return entries;
  }

  private addEntry(id: string, kind: string, title: string, extra: Partial<LogEntry> = {}): void {
    const list = this.timelines.get(id) ?? [];
    list.push(logEntry(kind, title, extra));
    this.timelines.set(id, list);
  }

  private addEnded(s: Session): void {
    this.addEntry(s.id, "ended", `Session ${s.status}`, { detail: s.failure_reason ?? undefined, status: s.status });
  }

  /** Answers only when done, like the real platform: the session, or 502 with the reason. */
  private async restart(id: string, res: http.ServerResponse): Promise<void> {
    const s = this.sessions.get(id);
    const state = this.harness.get(id);
    if (s === undefined || state === undefined) return sendJson(res, 404, { error: `session ${id} not found` });
    if (s.status === "creating") return sendJson(res, 409, { error: `session ${id} is still creating` });
    // The old sandbox's files and processes are gone.
    await this.tmux(["kill-session", "-t", "=" + id]);
    s.status = "creating";
    s.phase = PHASES[0]![0];
    s.phase_detail = PHASES[0]![1];
    s.failure_reason = null;
    s.sandbox_url = null;
    s.tty_url = null;
    s.tty_token = null;
    const opts = { ...this.options };
    await new Promise<void>((resolve) => state.timers.push(setTimeout(resolve, opts.restartMs ?? opts.bringUpMs ?? DEFAULT_RESTART_MS)));
    if (this.closed) return;
    if (opts.restartFailReason !== undefined) {
      s.status = "failed";
      s.failure_reason = opts.restartFailReason;
      s.phase_detail = opts.restartFailReason;
      this.addEnded(s);
      return sendJson(res, 502, { error: `session restart failed: ${opts.restartFailReason}` });
    }
    state.token = randomBytes(24).toString("hex");
    s.phase = "ready";
    s.phase_detail = "ready";
    s.last_seen_at = new Date().toISOString();
    this.markReady(s, opts, state);
    this.addEntry(id, "recovered", "Session restarted", { detail: "conversation replayed into a fresh sandbox" });
    sendJson(res, 200, s);
  }

  private diagnose(id: string, res: http.ServerResponse): void {
    const s = this.sessions.get(id);
    if (s === undefined) return sendJson(res, 404, { error: `session ${id} not found` });
    if (this.diagnoses.has(id)) return sendJson(res, 200, this.diagnoses.get(id));
    const running = s.status === "ready" || s.status === "creating";
    const pod = `sandbox-${id.slice(0, 8)}`;
    const issues: { code: string; severity: string; message: string; recommended_action?: string }[] = [];
    if (s.status === "failed" || s.status === "dead") {
      issues.push({
        code: s.failure_reason === "idle timeout" ? "idle_reaped" : "session_failed",
        severity: s.failure_reason === "idle timeout" ? "info" : "high",
        message: `session is ${s.status}: ${s.failure_reason ?? "no reason recorded"}`,
        recommended_action: "restart the session; its conversation is replayed into a fresh sandbox",
      });
      issues.push({ code: "harness_unreachable", severity: "high", message: "the harness does not answer", recommended_action: "restart the session" });
    }
    const tail = Array.from({ length: POD_LOG_LINES }, (_, i) => `harness: log line ${i + 1}`);
    const agent = this.agents.find((a) => a.id === s.agent_id);
    const { tty_token: _token, ...session } = s;
    sendJson(res, 200, {
      session,
      agent: agent ? this.agentJson(agent) : { exists: false },
      pod: running ? { name: pod, phase: s.status === "ready" ? "Running" : "Pending", restarts: 0 } : { exists: false },
      service: running ? { name: `s-${id.slice(0, 8)}`, port: 4096 } : { exists: false },
      node: running ? { name: "local-node", ready: true } : { exists: false },
      pod_logs_tail: running ? { available: true, text: tail.join("\n") } : { available: false, error: "pod not found" },
      harness_probe: s.status === "ready" ? { reachable: true, status: 200 } : { reachable: false, error: "connection refused" },
      detected_issues: issues,
      notes: ["local platform: a fake cluster"],
    });
  }

  /** A tail of the session's harness events: heartbeats, what emitEvent sends, and the cut. */
  private events(id: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const s = this.sessions.get(id);
    if (s?.status !== "ready") return sendJson(res, 409, { error: `session not ready, status=${s?.status ?? "missing"}` });
    req.resume();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    this.streamCounts.set(id, (this.streamCounts.get(id) ?? 0) + 1);
    if (this.options.eventsEmpty) return void res.end();
    const stream: EventStream = { sessionId: id, res, timers: [] };
    this.streams.add(stream);
    const heartbeat = { type: "harness_event", event: { type: "server.heartbeat", properties: {} } };
    stream.timers.push(setInterval(() => writeEvent(res, heartbeat), this.options.heartbeatMs ?? HEARTBEAT_MS));
    stream.timers.push(setTimeout(() => {
      writeEvent(res, { type: "error", message: "stream timeout" });
      this.endStream(stream);
    }, this.options.eventsCutMs ?? EVENTS_CUT_MS));
    // What the session's turns send reaches every tail.
    stream.off = this.chat.listen(id, (event) => writeEvent(res, { type: "harness_event", event }));
    res.on("close", () => this.endStream(stream));
  }

  private endStream(stream: EventStream): void {
    stream.off?.();
    stream.timers.forEach(clearTimeout);
    this.streams.delete(stream);
    stream.res.end();
  }

  emitEvent(sessionId: string, event: unknown): void {
    for (const st of this.streams) {
      if (st.sessionId === sessionId) writeEvent(st.res, { type: "harness_event", event });
    }
  }

  dropEventStreams(sessionId: string): void {
    for (const st of [...this.streams]) {
      if (st.sessionId !== sessionId) continue;
      this.endStream(st);
      st.res.socket?.destroy();
    }
  }

  eventStreams(sessionId: string): number {
    return this.streamCounts.get(sessionId) ?? 0;
  }

  private startReaper(): void {
    if (this.options.reapEveryMs === undefined) return;
    this.reaper = setInterval(() => this.reap(), this.options.reapEveryMs);
    this.reaper.unref();
  }

  reap(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (s.status !== "ready" || s.idle_timeout_ms === null || s.idle_timeout_ms === undefined) continue;
      const since = Date.parse(s.last_seen_at || s.created_at);
      if (Number.isNaN(since) || now - since <= s.idle_timeout_ms) continue;
      s.status = "dead";
      s.failure_reason = "idle timeout";
      this.addEnded(s);
      void this.tmux(["kill-session", "-t", "=" + s.id]);
      for (const st of [...this.streams]) if (st.sessionId === s.id) this.endStream(st);
    }
  }

  private stopLifecycle(): void {
    if (this.reaper) clearInterval(this.reaper);
    for (const st of [...this.streams]) this.endStream(st);
  }

  // ---- Harness /tty ----

  /** Checks everything before any process exists; refusals are plain HTTP answers. */
  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    this.log(req);
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const id = ttySessionId(url.pathname);
    if (id === null || this.closed) return refuse(socket, 404, "not found");
    const s = this.sessions.get(id);
    const state = this.harness.get(id);
    if (s === undefined || state === undefined) return refuse(socket, 404, "session not found");
    if (s.status !== "ready") return refuse(socket, 502, `sandbox is ${s.status}`);
    if (!s.supports_tui) return refuse(socket, 404, "this harness has no terminal");
    const token = bearer(req.headers.authorization) ?? url.searchParams.get("token");
    if (token === null || !safeEqual(token, state.token)) return refuse(socket, 401, "unauthorized");
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, s));
  }

  private attach(ws: WebSocket, s: Session): void {
    const host = this.spawnHost(s.id);
    const conn: Connection = {
      ws,
      host,
      sessionId: s.id,
      clientGone: false,
      recorder: this.options.recordDir ? new Recorder() : null,
    };
    this.connections.add(conn);
    const control = host.stdio[3] as Writable;
    host.stdin!.on("error", () => {});
    control.on("error", () => {});

    ws.on("message", (data: RawData, isBinary: boolean) => {
      const bytes = rawToBuffer(data);
      conn.recorder?.frame("client", bytes, isBinary);
      if (isBinary) {
        host.stdin!.write(bytes);
        return;
      }
      const text = bytes.toString("utf8");
      const ctl = text.startsWith("{") ? parseControl(text) : null;
      if (ctl === null) host.stdin!.write(bytes);
      else if (ctl.type === "resize") {
        conn.recorder?.size(ctl.cols, ctl.rows);
        control.write(`${ctl.cols} ${ctl.rows}\n`);
      }
    });
    ws.on("close", (code: number, reason: Buffer) => {
      if (!conn.clientGone) conn.recorder?.close("client", code, reason.toString());
      conn.clientGone = true;
      this.connections.delete(conn);
      // EOF makes the PTY host hang up its tmux client; the program keeps running.
      host.stdin!.end();
      control.end();
      this.finishRecording(conn);
    });
    ws.on("error", () => {});

    this.pumpOutput(conn);
    host.on("close", () => {
      if (conn.clientGone || ws.readyState !== WebSocket.OPEN) return;
      this.send(conn, EXIT_NOTICE);
      conn.recorder?.close("server", 1005, "");
      conn.clientGone = true;
      // No status code, like the real harness: the client sees 1005.
      ws.close();
    });
  }

  private spawnHost(sessionId: string): ChildProcess {
    const command = this.options.command ?? defaultCommand();
    const tmuxArgs = [
      "-S", this.tmuxSocket, "-f", this.tmuxConf, "-u",
      "new-session", "-A", "-s", sessionId, "--", ...command,
    ];
    const host = spawn(pythonPath(), [this.ptyHost, String(INITIAL_COLS), String(INITIAL_ROWS), "tmux", ...tmuxArgs], {
      stdio: ["pipe", "pipe", "pipe", "pipe"],
      env: programEnv(command[0] ?? "/bin/sh", this.options.env ?? {}),
    });
    this.spawnCount++;
    this.hosts.add(host);
    host.on("exit", () => this.hosts.delete(host));
    host.on("error", () => this.hosts.delete(host));
    host.stderr!.resume();
    return host;
  }

  private pumpOutput(conn: Connection): void {
    const framer = new OutputFramer();
    const out = conn.host.stdout!;
    out.on("data", (chunk: Buffer) => {
      for (const payload of framer.push(chunk)) this.send(conn, payload);
      if (conn.ws.bufferedAmount > MAX_UNSENT_BYTES) out.pause();
    });
    out.on("end", () => {
      for (const payload of framer.end()) this.send(conn, payload);
    });
  }

  private send(conn: Connection, payload: string | Buffer): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.recorder?.frame("server", typeof payload === "string" ? Buffer.from(payload) : payload, typeof payload !== "string");
    conn.ws.send(payload, () => {
      if (conn.ws.bufferedAmount <= MAX_UNSENT_BYTES) conn.host.stdout!.resume();
    });
  }

  private finishRecording(conn: Connection): void {
    const dir = this.options.recordDir;
    if (conn.recorder === null || dir === undefined) return;
    this.recordings++;
    const file = path.join(dir, `${conn.sessionId}-${this.recordings}.jsonl`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(file, conn.recorder.text());
  }

  /** Runs a command on the private tmux server; resolves to stdout, "" on any failure. */
  private tmux(args: string[]): Promise<string> {
    return new Promise((resolve) => {
      execFile("tmux", ["-S", this.tmuxSocket, ...args], { timeout: TMUX_TIMEOUT_MS, env: tmuxEnv() }, (err, stdout) => {
        resolve(err ? "" : stdout);
      });
    });
  }
}

/**
 * Splits PTY output into WebSocket payloads like the real harness: text frames
 * for UTF-8, never splitting a character across frames; bytes that are not
 * UTF-8 go as a binary frame rather than being replaced.
 */
export class OutputFramer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): (string | Buffer)[] {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const keep = incompleteTail(buf);
    this.pending = Buffer.from(buf.subarray(buf.length - keep));
    return payloads(buf.subarray(0, buf.length - keep));
  }

  end(): (string | Buffer)[] {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest.length > 0 ? [Buffer.from(rest)] : [];
  }
}

function payloads(bytes: Buffer): (string | Buffer)[] {
  if (bytes.length === 0) return [];
  return [isUtf8(bytes) ? bytes.toString("utf8") : Buffer.from(bytes)];
}

/** Length of a multi-byte character cut off at the end of buf (0 if none). */
function incompleteTail(buf: Buffer): number {
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 3); i--) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue;
    if (b < 0xc0) return 0;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return buf.length - i < need ? buf.length - i : 0;
  }
  return 0;
}

/** Records one connection as a recording (internal/frames.ts), the server's view. */
class Recorder {
  private readonly start = performance.now();
  private readonly lines: string[] = [];
  private cols = INITIAL_COLS;
  private rows = INITIAL_ROWS;
  private sized = false;

  size(cols: number, rows: number): void {
    if (this.sized) return;
    this.sized = true;
    this.cols = cols;
    this.rows = rows;
  }

  frame(from: Side, bytes: Buffer, binary: boolean): void {
    this.lines.push(frameLine(elapsed(this.start), from, bytes, binary));
  }

  close(from: Side, code: number, reason: string): void {
    this.lines.push(closeLine(elapsed(this.start), from, code, reason));
  }

  text(): string {
    const header = headerLine({ cols: this.cols, rows: this.rows }, "local platform (tmux + PTY), server side");
    return [header, ...this.lines].join("\n") + "\n";
  }
}

type Control = { type: "resize"; cols: number; rows: number } | { type: "other" };

/** A text frame starting with "{": control when it parses as JSON, else null (keystrokes). */
function parseControl(text: string): Control | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(msg)) return null;
  if (msg.type === "resize" && isSize(msg.cols) && isSize(msg.rows)) {
    return { type: "resize", cols: msg.cols, rows: msg.rows };
  }
  return { type: "other" };
}

function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n > 0 && n < 10000;
}

function ttySessionId(pathname: string): string | null {
  const harness = /^\/h\/([^/]+)\/tty$/.exec(pathname);
  if (harness) return decodeURIComponent(harness[1]!);
  const proxied = new RegExp(`^${API}/sessions/([^/]+)/tty$`).exec(pathname);
  return proxied ? decodeURIComponent(proxied[1]!) : null;
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      "Connection: close\r\n\r\n" +
      body,
  );
}

function readPaging(url: URL): { limit: number; offset: number } | string {
  const limit = readInt(url.searchParams.get("limit"), DEFAULT_LIMIT);
  const offset = readInt(url.searchParams.get("offset"), 0);
  if (limit === null || limit < 1) return "limit must be a positive integer";
  if (offset === null || offset < 0) return "offset must be a non-negative integer";
  return { limit: Math.min(limit, MAX_LIMIT), offset };
}

function readInt(raw: string | null, fallback: number): number | null {
  if (raw === null || raw === "") return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : null;
}

// The routes an older platform lacks: handled apart from the chat routes.
const LIFECYCLE_ROUTES = new Set(["GET log", "POST restart", "GET diagnose", "GET events"]);

interface EventStream {
  sessionId: string;
  res: http.ServerResponse;
  timers: NodeJS.Timeout[];
  off?: () => void;
}

function logEntry(kind: string, title: string, extra: Partial<LogEntry> = {}): LogEntry {
  const entry: LogEntry = { id: "log_" + randomBytes(6).toString("hex"), at: new Date().toISOString(), kind, title };
  if (extra.detail !== undefined) entry.detail = extra.detail.slice(0, LOG_DETAIL_MAX);
  if (extra.meta !== undefined) entry.meta = extra.meta;
  if (extra.status !== undefined) entry.status = extra.status;
  return entry;
}

/** One server-sent event: a data line and a blank line, nothing else. */
function writeEvent(res: http.ServerResponse, body: unknown): void {
  if (!res.writableEnded) res.write(`data: ${JSON.stringify(body)}\n\n`);
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html) });
  res.end(html);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage, max = MAX_BODY_BYTES): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) return null;
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function rawToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * The environment the tmux server (and so the program) starts with: the user's
 * PATH and HOME, a UTF-8 locale so CJK and emoji work, a simple prompt, no
 * history file written, and no TMUX variable so this works inside the user's tmux.
 */
function programEnv(shell: string, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    ...tmuxEnv(),
    SHELL: shell,
    TERM: "xterm-256color",
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PS1: "$ ",
    HISTFILE: "",
  };
  return { ...env, ...extra };
}

function tmuxEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: process.env.HOME ?? os.homedir(),
    LANG: "C.UTF-8",
  };
  for (const name of ["USER", "LOGNAME", "TMPDIR"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

let python: string | null = null;

/**
 * The real python3 binary. A version-manager shim (pyenv) is a bash script, and
 * non-interactive bash drops PS1 from the environment it passes on; it is also
 * slow to start. Asking python itself once avoids both; PTYHOST_PYTHON, when
 * set (make test sets it once for every test process), saves even that.
 */
export function pythonPath(): string {
  python ??= process.env.PTYHOST_PYTHON || execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim();
  return python;
}

/** ptyhost.py sits next to this module (internal/*.ts) or in ../../internal (build/internal/*.js). */
function findPtyHost(): string {
  const candidates = [path.join(__dirname, "ptyhost.py"), path.join(REPO, "internal", "platform", "ptyhost.py")];
  const found = candidates.find((p) => fs.existsSync(p));
  if (found === undefined) throw new Error(`ptyhost.py not found in ${candidates.join(" or ")}`);
  return found;
}

function parsePids(text: string): number[] {
  return text
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((n) => Number.isInteger(n) && n > 1);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** False for exited processes, including zombies nobody reaps (PID 1 in some containers does not). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    // no /proc (macOS): ask the kernel
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killAfterGrace(pids: number[], graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
  for (const pid of pids.filter(isAlive)) killQuietly(pid, "SIGKILL");
}

function waitExit(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
