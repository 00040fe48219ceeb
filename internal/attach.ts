// `lap <agent>` and `lap attach <session>`: find or create the session, wait
// for it, open its terminal and bridge it to ours — or, for an
// agent without a terminal, chat with it line by line (chat.ts).

import { connectApi, hasTerminal, phaseOf, sessionIdFrom, terminalTarget, waitReady, type Agent, type Api, type Session } from "./api.js";
import { credentials, type Config } from "./config.js";
import { agentCommand } from "./cli.js";
import { say, shellQuoted, visible } from "./output.js";
import { describe, EXIT_FAILURE, EXIT_LINK_LOST, EXIT_OK, exitForSignal } from "./errors.js";
import { type IO } from "./io.js";
import { findSession } from "./sessions.js";
import { DEFAULT_DETACH_KEYS, detachRule, parseDetachKeys, type DetachKeys } from "./keys.js";
import type { End, Timings } from "./tty.js";

// What the terminal of a session is opened with.
export interface SessionOptions {
  timeoutMs: number;
  // --detach-keys, over the config file's "detachKeys".
  detachKeys?: string;
  // --record <file.cast>, and --record-input.
  record?: string;
  recordInput?: boolean;
  // For an agent without a terminal: --show-thinking, --history N,
  // --stdin-message and --json (see chat.ts).
  showThinking?: boolean;
  history?: number;
  stdinMessage?: boolean;
  json?: boolean;
  // --overwrite: a recording (--record, LAP_RECORD_FRAMES) may replace a
  // file that exists; without it one is refused.
  overwrite?: boolean;
  // --read-only: watch only; nothing typed and no size is sent.
  readOnly?: boolean;
  // --detach-on-eof: piped stdin that ends detaches at once, instead of
  // sending end-of-file and printing until the program closes.
  detachOnEof?: boolean;
}

export interface OpenOptions extends SessionOptions {
  agent: string;
  new: boolean;
}

export interface AttachOptions extends SessionOptions {
  session: string;
}

// Checked options: everything that can be wrong with them is said before a
// session is made.
interface Prepared extends SessionOptions {
  keys: DetachKeys;
}

// castModule is --record's writer, loaded only when a session is recorded.
function castModule(): typeof import("./cast.js") {
  return require("./cast.js") as typeof import("./cast.js");
}

// bridgeModule is the terminal bridge, loaded while the first request is
// on the wire (io.preload) or, at the latest, when the bridge starts.
function bridgeModule(): typeof import("./tty.js") {
  return require("./tty.js") as typeof import("./tty.js");
}

// openAgent runs `lap <agent>` and returns the exit status. What attaching
// needs is loaded while the platform answers: the bridge during the first
// call, the WebSocket client during the second.
export async function openAgent(io: IO, opts: OpenOptions): Promise<number> {
  const config = credentials(io);
  const prepared = prepare(io, opts, config);
  const api = connectApi(io, config);
  const resolving = api.resolveAgent(opts.agent);
  io.preload?.("bridge");
  const agent = await resolving;
  const live = opts.new ? null : api.liveSession(agent.id);
  if (!agent.harness_id || hasTerminal(agent)) io.preload?.("websocket");
  let session = await live;
  if (session) {
    say(io, `· reattaching to session ${session.id}`);
  } else {
    session = await api.createSession(agent.id, `lap: ${agent.name ?? agent.id}`);
    say(io, `· started session ${session.id}`);
  }
  return connect(io, api, session, agent, prepared);
}

// attachSession runs `lap attach <id | URL>` and returns the exit status;
// as for `lap stop`, the start of an id will do.
export async function attachSession(io: IO, opts: AttachOptions): Promise<number> {
  const config = credentials(io);
  const prepared = prepare(io, opts, config);
  const api = connectApi(io, config);
  const getting = findSession(api, sessionIdFrom(opts.session));
  io.preload?.("bridge");
  io.preload?.("websocket");
  const session = await getting;
  return connect(io, api, session, null, prepared);
}

// prepare checks the detach keys (flag first, then the config file) and
// that a recording could be written.
function prepare(io: IO, opts: SessionOptions, config: Config): Prepared {
  let keys: DetachKeys;
  if (opts.detachKeys !== undefined) keys = parseDetachKeys(opts.detachKeys);
  else if (config.detachKeys !== undefined) keys = parseDetachKeys(config.detachKeys, `config ${io.settings.configFile}: "detachKeys"`, EXIT_FAILURE);
  else keys = parseDetachKeys(DEFAULT_DETACH_KEYS);
  if (opts.record !== undefined) castModule().checkCastPath(opts.record, !!opts.overwrite);
  return { ...opts, keys };
}

async function connect(io: IO, api: Api, first: Session, agent: Agent | null, opts: Prepared): Promise<number> {
  const session = await waitReady(api, first, { timeoutMs: opts.timeoutMs, onPhase: (p) => say(io, `· ${visible(p, 80)}`) });
  const again = agentCommand(agent?.name) ?? `lap attach ${shellQuoted(session.id)}`;
  if (session.supports_tui === false || (agent?.harness_id && !hasTerminal(agent))) {
    if (opts.record !== undefined) say(io, "! nothing is recorded: --record records a terminal, and this agent has none");
    const { showThinking, history, stdinMessage, json } = opts;
    return (await import("./chat.js")).chat(io, api, session, { name: agent?.name ?? session.agent_id, again, showThinking, history, stdinMessage, json });
  }
  if (terminalTarget(session, api.base, io.settings).tokenInQuery) say(io, "! LAP_TTY_TOKEN_IN_QUERY: the tty token also goes in the URL, where access logs on the way will record it");
  // LAP_RECORD_FRAMES=<file> writes each WebSocket of the session as a frame recording.
  const recordFailed = (why: string) => say(io, `! LAP_RECORD_FRAMES: recording stopped, writing failed: ${visible(why)}`);
  const frames = io.settings.recordFrames;
  const record = frames ? (await import("./record.js")).recorder(frames, { overwrite: opts.overwrite, onFailure: recordFailed }) : null;
  // Each dial goes where the session last said its terminal is: a sandbox
  // restarted while the link was down has a new address and a new token.
  let latest = session;
  const dial = async () => {
    const { url, ...dialOpts } = terminalTarget(latest, api.base, io.settings);
    return record ? record(await io.dial(url, dialOpts), io.terminal().size()) : io.dial(url, dialOpts);
  };
  const link = await dial();

  const keys = opts.keys.label ? `${opts.keys.label} detaches` : "no detach keys (--detach-keys none)";
  const watching = opts.readOnly ? "read-only, " : "";
  say(io, `· attached to ${visible(agent?.name ?? session.agent_id, 60)} (session ${visible(session.id.slice(0, 8))}) — ${watching}${keys}`);
  const rule = detachRule(opts.keys);
  // --record: output, resizes, and (with --record-input) what is sent, but
  // never the detach keys themselves.
  const cast = opts.record !== undefined ? castModule().openCast(opts.record, { input: !!opts.recordInput, term: io.settings.term, overwrite: opts.overwrite }) : null;
  cast?.begin(io.terminal().size());
  let end: End;
  let failed: string | null | undefined;
  try {
    end = await bridgeModule().bridge(io.terminal(), link, {
      timings: linkTimings(io),
      redial: dial,
      alive: async () => {
        const s = await api.getSession(session.id);
        // A session starting again (a restart) is waited for, within the
        // reconnect budget, as a dropped link is.
        if (s.status === "creating") throw new Error(`session is starting again: ${visible(phaseOf(s), 60)}`);
        if (s.status !== "ready") return endedLine(s);
        latest = s;
        return true;
      },
      detachLabel: opts.keys.label,
      readOnly: opts.readOnly,
      detachOnEof: opts.detachOnEof,
      detach: cast ? (chunk) => {
        const r = rule(chunk);
        if (!opts.readOnly) cast.input(r.send);
        return r;
      } : rule,
      ...(cast && { onOutput: cast.output, onResize: cast.resize }),
    });
  } finally {
    failed = await cast?.close();
  }
  const code = await report(io, api, session, end, again);
  if (failed) say(io, `! the recording ${opts.record} is incomplete: ${visible(failed)}`);
  else if (cast) say(io, `· recorded to ${opts.record} — play it with: asciinema play ${opts.record}`);
  return code;
}

// After the server closed the link, how long lap asks whether the session
// itself ended before it reports the close as it is: the user is waiting.
const ENDED_CHECK_MS = 3_000;

// report tells the user how the bridge ended and picks the exit status:
// 0 for a detach or the program ending, 1 for a failure, 3 for a lost link.
async function report(io: IO, api: Api, session: Session, end: End, again: string): Promise<number> {
  // The remote program may have left the cursor mid-line.
  if (io.stdoutIsTTY) io.stderr.write("\r\n");
  switch (end.how) {
    case "detached":
      say(io, `· detached${end.by === "eof" ? " (stdin closed)" : ""} — session ${session.id} keeps running; reconnect: ${again}`);
      return EXIT_OK;
    case "closed": {
      // Said instead of a bare close code when the session itself is over.
      const s = await api.getSession(session.id, { timeoutMs: ENDED_CHECK_MS }).catch(() => null);
      if (s?.status === "creating") {
        say(io, `· session ${session.id} is starting again (restarted); reattach: ${again}`);
        return EXIT_FAILURE;
      }
      if (s && s.status !== "ready") {
        say(io, `· ${endedLine(s)}`);
        return EXIT_FAILURE;
      }
      const reason = end.reason ? ` ${visible(end.reason, 120)}` : "";
      say(io, `[ws closed] ${end.code}${reason}`);
      const programEnded = end.code === 1000 || end.code === 1005;
      if (s && programEnded) {
        say(io, `· the program ended; session ${session.id} is still ready, and a new attach starts the program afresh in the same sandbox, files kept: lap attach ${shellQuoted(session.id)}`);
      } else if (s) say(io, `· session ${session.id} is still ready; reattach: lap attach ${shellQuoted(session.id)}`);
      return programEnded ? EXIT_OK : EXIT_FAILURE;
    }
    case "broken":
      say(io, `✗ ${end.error}; the session link was ended, and not reopened`);
      say(io, `  session ${session.id} may still be running: ${again}`);
      return EXIT_FAILURE;
    case "lost":
      if (end.flapping) say(io, `✗ the link kept dropping right after each reconnect (${visible(end.error ?? `close ${end.code}`, 120)}); gave up`);
      else say(io, `✗ connection lost (${visible(end.error ?? `close ${end.code}`, 120)}); session ${session.id} may still be running`);
      say(io, `  try again: ${again}`);
      return EXIT_LINK_LOST;
    case "refused": {
      say(io, `✗ ${describe(end.error)}`);
      const hint = (end.error as { hint?: unknown }).hint;
      if (typeof hint === "string" && hint) say(io, `  ${hint}`);
      return EXIT_FAILURE;
    }
    case "ended":
      say(io, `· ${end.why}`);
      return EXIT_FAILURE;
    case "signal":
      say(io, `· ${end.signal} — left session ${session.id} running; reconnect: ${again}`);
      return exitForSignal(end.signal);
    case "outputGone":
      // Not the quiet end of lap agents | head: a script must not take an
      // attach cut short for one that ran to its end. 128+SIGPIPE is what a
      // shell shows for a pipe writer killed by it (kubectl exec is).
      say(io, `✗ the reader of stdout went away; session ${session.id} keeps running; reconnect: ${again}`);
      return exitForSignal("SIGPIPE");
  }
}

// endedLine says a session is over, with its status and why when the
// platform says why: "session 4f0c2a11 ended: idle timeout (failed)".
function endedLine(s: Session): string {
  const why = s.failure_reason ? `: ${visible(s.failure_reason, 200)} (${visible(s.status, 40)})` : ` (${visible(s.status, 40)})`;
  return `session ${visible(s.id.slice(0, 8))} ended${why}`;
}

// LAP_RECONNECT_TIMEOUT (seconds, or 30s, 5m) sets how long a lost link is
// retried before lap gives up with exit status 3. LAP_KEEPALIVE sets the ping
// period, for load balancers that drop idle connections sooner than 60 s; a
// pong is then awaited for at most half of it.
function linkTimings(io: IO): Partial<Timings> {
  const { reconnectTimeoutMs, keepaliveMs } = io.settings;
  return {
    ...(reconnectTimeoutMs !== undefined && { retryGiveUpMs: reconnectTimeoutMs }),
    ...(keepaliveMs !== undefined && { pingMs: keepaliveMs, pongDeadlineMs: Math.min(bridgeModule().TIMINGS.pongDeadlineMs, keepaliveMs / 2) }),
  };
}

