// A session's life after bring-up: `lap logs` reads its timeline (and with
// --follow tails its events), `lap restart` brings a dead one back in a fresh
// sandbox.

import { HttpError, connectApi, isUUID, notReady, sessionIdFrom, type Api, type LogEntry, type Session } from "./api.js";
import { LapError, exitForSignal } from "./errors.js";
import { FOLLOW_ATTEMPTS, follow, type Followed } from "./events.js";
import { confirm, mayAsk, type IO } from "./io.js";
import { DEFAULT_TIMEOUT_MS, agentCommand } from "./cli.js";
import { asFlag, cleanText, json, print, say, shellQuoted, visible } from "./output.js";
import { findSession, sessionOrAgentError } from "./sessions.js";

// A detail cut to fit a terminal keeps at least this much, even in a narrow window.
const MIN_DETAIL_COLS = 10;
// Without a terminal lines are not cut, but a hostile detail still is.
const MAX_FIELD = 600;
// What the event printer remembers of parts, messages and tool calls: the
// newest this many of each, so an endless stream cannot fill memory.
const REMEMBERED = 1000;
// Of a part's text printed so far, this much of its end is kept, to check
// that a whole part sent later continues it.
const TAIL = 256;
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
  // Following, how long a session may stay creating (--timeout, as attach
  // waits for one).
  timeoutMs?: number;
  // For tests: the least time between opening two streams.
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
  return followLog(io, api, session, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, opts.reconnectMs);
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
  return sessionOrAgentError(api, target, agentError);
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

// followLog tails the session's events until Ctrl-C (0), another signal
// (128 + its number), the session ends (0) or it cannot be followed (a
// LapError). Streams are cut and may drop: the next is opened as events.ts's
// follow bounds it; a session still coming up is waited for, timeoutMs at
// most.
async function followLog(io: IO, api: Api, session: Session, timeoutMs: number, retryMs?: number): Promise<number> {
  const stop = new AbortController();
  let signalled = "";
  const off = io.terminal().onSignal((signal) => {
    signalled = signal;
    stop.abort();
  });
  const printer = new EventPrinter(io);
  // The error that ended the following (a refused key, a session that
  // never came up): follow would take a thrown one for a failed stream.
  let ended: LapError | HttpError | null = null;
  let creatingSince = session.status === "creating" ? Date.now() : null;
  say(io, `· following session ${session.id} — Ctrl-C stops`);
  const readOnce = async (): Promise<Followed> => {
    let brought = false;
    try {
      for await (const ev of api.sessionEvents(session.id, stop.signal)) {
        brought = true;
        printer.event(ev);
      }
    } catch (err) {
      // A refused key or a session gone is so on every try.
      if (err instanceof HttpError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        ended = err;
        return "over";
      }
      // 409: not ready yet, or no longer; the session's status tells.
      if (!(err instanceof HttpError && err.status === 409)) throw err;
    }
    printer.endLine();
    if (stop.signal.aborted) return "over";
    const now = await api.getSession(session.id, { signal: stop.signal });
    if (now.status !== "ready" && now.status !== "creating") {
      const reason = now.failure_reason ? `: ${visible(now.failure_reason, 200)}` : "";
      say(io, `· session ${session.id} ${visible(now.status, 20)}${reason}`);
      return "over";
    }
    if (now.status !== "creating") {
      creatingSince = null;
      return brought ? "brought" : "empty";
    }
    creatingSince ??= Date.now();
    if (Date.now() - creatingSince >= timeoutMs) {
      ended = notReady(now, timeoutMs, `follow it later: lap logs -f ${shellQuoted(session.id)}`);
      return "over";
    }
    return "brought";
  };
  try {
    await follow(readOnce, stop.signal, () => new LapError(`the session's event stream ended ${FOLLOW_ATTEMPTS} times in a row with nothing in it; stopped following`,
      `see the timeline again with: lap logs ${shellQuoted(session.id)}`), retryMs);
  } catch (err) {
    if (!stop.signal.aborted) throw err;
  } finally {
    off();
    printer.endLine();
  }
  if (ended) throw ended;
  return signalled && signalled !== "SIGINT" ? exitForSignal(signalled) : 0;
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
  private readonly userMessages = new Map<string, true>();
  // How much of each part's text is printed, and its last TAIL characters,
  // so a part.updated only adds what deltas missed.
  private readonly printed = new Map<string, { length: number; tail: string }>();
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
        if (info.role === "user" && typeof info.id === "string") remember(this.userMessages, info.id, true);
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
      const { length, tail } = this.printed.get(id) ?? { length: 0, tail: "" };
      const full = str(part.text);
      if (full.length >= length && full.slice(length - tail.length, length) === tail) this.text(id, full.slice(length));
      return;
    }
    if (part.type !== "tool") return;
    const state = rec(part.state);
    const status = str(state.status) || "pending";
    const key = str(part.callID) || str(part.id);
    if (this.toolStates.get(key) === status) return;
    remember(this.toolStates, key, status);
    const error = status === "error" && state.error !== undefined ? `: ${visible(state.error, 200)}` : "";
    this.line(`· tool ${visible(part.tool ?? "?", 60)} ${visible(status, 20)}${error}`);
  }

  private text(partId: string, piece: string): void {
    if (piece === "") return;
    const before = this.printed.get(partId) ?? { length: 0, tail: "" };
    remember(this.printed, partId, { length: before.length + piece.length, tail: (before.tail + piece).slice(-TAIL) });
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

// remember sets key in a map that keeps the newest REMEMBERED keys.
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > REMEMBERED) map.delete(map.keys().next().value!);
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
  if (typeof fresh === "string") return exitForSignal(fresh);
  say(io, `✓ session ${fresh.id} restarted: ${visible(fresh.status, 20)}`);
  say(io, `  attach: lap attach ${shellQuoted(fresh.id)}`);
  return 0;
}

// awaitRestart waits for the platform's answer, showing the time passing on
// a terminal, or the signal (Ctrl-C, SIGTERM, ...) that stopped the wait;
// the platform carries on.
async function awaitRestart(io: IO, api: Api, session: Session, timeoutMs: number, tickMs: number): Promise<Session | string> {
  const stop = new AbortController();
  let why: "timeout" | "signal" | null = null;
  let signalled = "";
  const timer = setTimeout(() => {
    why = "timeout";
    stop.abort();
  }, timeoutMs);
  const off = io.terminal().onSignal((signal) => {
    why = "signal";
    signalled = signal;
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
      return signalled;
    }
    if (why === "timeout") {
      throw new LapError(`no answer after ${asFlag(timeoutMs)}: the platform may still be restarting session ${session.id}`,
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
