// A session's life after bring-up: `lap logs` reads its timeline (and with
// --follow tails its events), `lap restart` brings a dead one back in a fresh
// sandbox.

import { HttpError, connectApi, isUUID, sessionIdFrom, type Api, type LogEntry, type Session } from "./api.js";
import { EXIT_INTERRUPTED, LapError } from "./errors.js";
import { confirm, mayAsk, type IO } from "./io.js";
import { agentCommand } from "./cli.js";
import { cleanText, json, print, say, shellQuoted, visible } from "./output.js";
import { findSession } from "./sessions.js";

// A detail cut to fit a terminal keeps at least this much, even in a narrow window.
const MIN_DETAIL_COLS = 10;
// Without a terminal lines are not cut, but a hostile detail still is.
const MAX_FIELD = 600;
// After the platform cuts an events stream (every 600 s) or it drops, wait
// this long before opening the next: quick enough to miss little, slow
// enough not to hammer a platform that refuses.
const RECONNECT_MS = 1000;
// The elapsed-time line while a restart is awaited is redrawn this often.
const TICK_MS = 1000;
// A restart is a cold bring-up plus replaying the conversation: minutes,
// sometimes many. --timeout changes it.
export const RESTART_TIMEOUT_MS = 10 * 60_000;

export interface LogsOptions {
  // A session id (or URL, or the start of an id) or an agent name or id.
  target: string;
  json?: boolean;
  follow?: boolean;
  // For tests: the pause between reconnects.
  reconnectMs?: number;
}

export interface RestartOptions {
  session: string;
  yes?: boolean;
  // How long to wait for the platform's answer (--timeout; RESTART_TIMEOUT_MS).
  timeoutMs?: number;
  // For tests: the elapsed-time redraw period.
  tickMs?: number;
}

// logs runs `lap logs` and returns the exit status: 0 once the timeline is
// printed (and, following, when Ctrl-C ends the tail or the session ends).
export async function logs(io: IO, opts: LogsOptions): Promise<number> {
  const api = connectApi(io);
  const session = await targetSession(api, opts.target);
  const entries = await api.sessionLog(session.id);
  if (opts.json) {
    io.stdout.write(json(entries));
  } else {
    const reason = session.failure_reason ? `: ${visible(session.failure_reason, 200)}` : "";
    say(io, `· session ${session.id} — ${visible(session.status, 20)}${reason}`);
    const width = io.stdoutIsTTY ? io.terminal().size()?.cols : undefined;
    print(io, entries.map((e) => entryLine(e, width) + "\n").join(""));
    if (entries.length === 0) say(io, "· no entries yet");
  }
  if (!opts.follow) return 0;
  return follow(io, api, session, opts.reconnectMs ?? RECONNECT_MS);
}

// targetSession reads the argument as a session (URL, UUID, or start of an
// id) or an agent, whose newest session is taken.
export async function targetSession(api: Api, target: string): Promise<Session> {
  if (target.includes("/sessions/") || isUUID(target)) {
    try {
      return await api.getSession(sessionIdFrom(target));
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404 && isUUID(target))) throw err;
    }
  }
  let agentError: unknown;
  try {
    const agent = await api.resolveAgent(target);
    const newest = newestFirst((await api.listSessions(agent.id, 1)).filter((s) => s.agent_id === agent.id))[0];
    if (newest) return newest;
    if (agent.harness_id !== "" || !isUUID(target)) {
      throw new LapError(`agent ${visible(agent.name ?? agent.id)} has no sessions`, `start one with: ${agentCommand(agent.name) ?? `lap ${shellQuoted(agent.id)}`}`);
    }
    agentError = new LapError(`no agent or session with id ${target}`, "see 'lap agents' and 'lap sessions'");
  } catch (err) {
    if (!(err instanceof LapError) || !/^no agent named/.test(err.message)) throw err;
    agentError = err;
  }
  if (/^[\w.-]+$/.test(target) && !isUUID(target)) {
    try {
      return await findSession(api, target);
    } catch {
      // neither an agent nor a session: say what was looked for first
    }
  }
  throw agentError;
}

function newestFirst(sessions: Session[]): Session[] {
  const time = (s: Session) => Date.parse(s.created_at ?? "") || 0;
  return [...sessions].sort((a, b) => time(b) - time(a));
}

// entryLine is one timeline entry on one line: local time, kind, title,
// detail and meta; cut to width when given (a terminal).
export function entryLine(e: LogEntry, width?: number): string {
  const head = `${clock(e.at)}  ${pad(field(e.kind, 10), 9)}  ${field(e.title, 80)}`;
  const meta = e.meta === undefined || e.meta === null || e.meta === "" ? "" : `  (${field(e.meta, 60)})`;
  const detail = e.detail === undefined || e.detail === null || e.detail === "" ? "" : ` — ${field(e.detail, MAX_FIELD)}`;
  if (width === undefined) return head + detail + meta;
  const room = width - [...head].length - [...meta].length;
  if ([...detail].length <= room) return cutTo(head + detail + meta, width);
  if (room >= MIN_DETAIL_COLS) return head + [...detail].slice(0, room - 1).join("") + "…" + meta;
  return cutTo(head + detail, width);
}

function cutTo(line: string, width: number): string {
  return [...line].length <= width ? line : [...line].slice(0, Math.max(1, width - 1)).join("") + "…";
}

function field(v: unknown, max: number): string {
  if (v === undefined || v === null) return "-";
  return visible(v, max);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

// clock shows the entry's time in local time, with the date when it is not today.
export function clock(at: unknown, now = new Date()): string {
  const t = typeof at === "string" ? new Date(at) : null;
  if (t === null || Number.isNaN(t.getTime())) return pad(field(at, 19), 8);
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
  const sameDay = t.getFullYear() === now.getFullYear() && t.getMonth() === now.getMonth() && t.getDate() === now.getDate();
  return sameDay ? time : `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ${time}`;
}

// follow tails the session's events until Ctrl-C (0), the session ends (0)
// or it cannot be followed (a LapError). The platform cuts each stream after
// a while and sends heartbeats meanwhile: lap opens the next one.
async function follow(io: IO, api: Api, session: Session, reconnectMs: number): Promise<number> {
  const stop = new AbortController();
  const off = io.terminal().onSignal(() => stop.abort());
  const printer = new EventPrinter(io);
  say(io, `· following session ${session.id} — Ctrl-C stops`);
  try {
    for (;;) {
      try {
        for await (const ev of api.sessionEvents(session.id, stop.signal)) printer.event(ev);
      } catch (err) {
        if (!(err instanceof HttpError && err.status === 409)) throw err;
      }
      printer.endLine();
      if (stop.signal.aborted) return 0;
      const now = await api.getSession(session.id);
      if (now.status !== "ready" && now.status !== "creating") {
        const reason = now.failure_reason ? `: ${visible(now.failure_reason, 200)}` : "";
        say(io, `· session ${session.id} ${visible(now.status, 20)}${reason}`);
        return 0;
      }
      await pause(reconnectMs, stop.signal);
      if (stop.signal.aborted) return 0;
    }
  } finally {
    off();
    printer.endLine();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

// EventPrinter turns harness events into what a reader wants: the
// assistant's text as it streams (stdout), one line per tool step and a
// line for errors (stderr). The user's own messages are skipped.
export class EventPrinter {
  private readonly userMessages = new Set<string>();
  // Text printed so far per part, so a part.updated only adds what deltas missed.
  private readonly printed = new Map<string, string>();
  private readonly toolStates = new Map<string, string>();
  private midLine = false;

  constructor(private readonly io: IO) {}

  event(raw: unknown): void {
    const msg = rec(raw);
    if (msg.type === "error") {
      // The platform's cut of a long stream is routine: the tail goes on.
      if (msg.message !== "stream timeout") this.line(`! ${visible(msg.message, 200)}`);
      return;
    }
    if (msg.type !== "harness_event") return;
    const ev = rec(msg.event);
    const props = rec(ev.properties);
    switch (ev.type) {
      case "message.updated": {
        const info = rec(props.info);
        if (info.role === "user" && typeof info.id === "string") this.userMessages.add(info.id);
        return;
      }
      case "message.part.delta":
        if (props.field !== "text" || this.userMessages.has(str(props.messageID))) return;
        this.text(str(props.partID), str(props.delta));
        return;
      case "message.part.updated":
        return this.part(rec(props.part));
      case "session.error":
        this.line(`! session error: ${visible(props.message ?? props.error ?? "unknown", 200)}`);
        return;
      case "session.aborted":
        this.line("· turn aborted");
        return;
      case "session.idle":
        this.endLine();
        return;
    }
  }

  private part(part: Rec): void {
    if (this.userMessages.has(str(part.messageID))) return;
    if (part.type === "text") {
      const id = str(part.id);
      const seen = this.printed.get(id) ?? "";
      const full = str(part.text);
      if (full.startsWith(seen)) this.text(id, full.slice(seen.length));
      return;
    }
    if (part.type !== "tool") return;
    const state = rec(part.state);
    const status = str(state.status) || "pending";
    const key = str(part.callID) || str(part.id);
    if (this.toolStates.get(key) === status) return;
    this.toolStates.set(key, status);
    const error = status === "error" && state.error !== undefined ? `: ${visible(state.error, 200)}` : "";
    this.line(`· tool ${visible(part.tool ?? "?", 60)} ${visible(status, 20)}${error}`);
  }

  private text(partId: string, piece: string): void {
    if (piece === "") return;
    this.printed.set(partId, (this.printed.get(partId) ?? "") + piece);
    const safe = cleanText(piece.replace(/\r\n/g, "\n"));
    this.io.stdout.write(safe);
    this.midLine = !safe.endsWith("\n");
  }

  private line(text: string): void {
    this.endLine();
    say(this.io, text);
  }

  endLine(): void {
    if (!this.midLine) return;
    this.io.stdout.write("\n");
    this.midLine = false;
  }
}

// restart runs `lap restart <session>` and returns the exit status. Like
// `lap stop` it asks first on a terminal and needs --yes elsewhere.
export async function restart(io: IO, opts: RestartOptions): Promise<number> {
  const id = sessionIdFrom(opts.session);
  mayAsk(io, opts.yes, `restarting session ${id}`, "restart it");
  const api = connectApi(io);
  const session = await findSession(api, id);
  const was = `${visible(session.status, 20)}${session.failure_reason ? `: ${visible(session.failure_reason, 120)}` : ""}`;
  const gone = "files and processes of the old sandbox are gone; its conversation is replayed into a fresh one";
  if (!opts.yes) {
    if (!(await confirm(io, `Restart session ${session.id} (${was})? The ${gone}.`, "not restarted"))) {
      say(io, `· not restarted; session ${session.id} is left ${visible(session.status, 20)}`);
      return 0;
    }
  } else {
    say(io, `· restarting session ${session.id} (${was}): ${gone}`);
  }
  const fresh = await awaitRestart(io, api, session, opts.timeoutMs ?? RESTART_TIMEOUT_MS, opts.tickMs ?? TICK_MS);
  if (fresh === null) return EXIT_INTERRUPTED;
  say(io, `✓ session ${fresh.id} restarted: ${visible(fresh.status, 20)}`);
  say(io, `  attach: lap attach ${shellQuoted(fresh.id)}`);
  return 0;
}

// awaitRestart waits for the platform's answer, showing the time passing on
// a terminal. null: the user pressed Ctrl-C (the platform carries on).
async function awaitRestart(io: IO, api: Api, session: Session, timeoutMs: number, tickMs: number): Promise<Session | null> {
  const stop = new AbortController();
  let why: "timeout" | "signal" | null = null;
  const timer = setTimeout(() => {
    why = "timeout";
    stop.abort();
  }, timeoutMs);
  const off = io.terminal().onSignal(() => {
    why = "signal";
    stop.abort();
  });
  const start = Date.now();
  const status = (text: string) => io.stderr.write(`\r\x1b[K${text}`);
  const ticker = io.stderrIsTTY ? setInterval(() => status(`· restarting… ${Math.round((Date.now() - start) / 1000)}s`), tickMs) : null;
  if (io.stderrIsTTY) status("· restarting… 0s");
  else say(io, "· waiting for the platform (this can take minutes)…");
  try {
    return await api.restartSession(session.id, { signal: stop.signal, timeoutMs: timeoutMs + TICK_MS });
  } catch (err) {
    if (why === "signal") {
      say(io, `· stopped waiting; the platform may still be restarting session ${session.id} — see: lap sessions`);
      return null;
    }
    if (why === "timeout") {
      throw new LapError(`no answer after ${Math.round(timeoutMs / 1000)}s: the platform may still be restarting session ${session.id}`,
        `see 'lap sessions', or wait longer with --timeout`);
    }
    if (err instanceof HttpError && err.status === 409) {
      throw new LapError(`session ${session.id} is still being created: nothing to restart`, `attach when it is ready: lap attach ${shellQuoted(session.id)}`);
    }
    if (err instanceof HttpError && err.status === 502) {
      const reason = err.message.replace(/^.*?: 502 /, "");
      throw new LapError(/^session restart failed/i.test(reason) ? reason : `session restart failed: ${reason}`,
        `the session is now failed; see why with: lap doctor ${shellQuoted(session.id)}`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    if (ticker) clearInterval(ticker);
    if (io.stderrIsTTY) status("");
    off();
  }
}
