// `lap <agent>` and `lap attach <session>`: find or create the session, wait
// for it, open its terminal and bridge it to ours (SPEC §3.2).

import { Api, hasTerminal, sessionIdFrom, ttyURL, waitReady, type Agent, type Session } from "./api.js";
import { credentials } from "./auth.js";
import { EXIT_FAILURE, EXIT_LINK_LOST, EXIT_OK, LapError, describe, visible } from "./errors.js";
import { say, type IO } from "./io.js";
import { bridge, type End } from "./tty.js";

export interface OpenOptions {
  agent: string;
  new: boolean;
  timeoutMs: number;
}

export interface AttachOptions {
  session: string;
  timeoutMs: number;
}

// The exit status for a signal, as shells report it.
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

// openAgent runs `lap <agent>` and returns the exit status.
export async function openAgent(io: IO, opts: OpenOptions): Promise<number> {
  const { base, key } = credentials(io);
  const api = new Api(base, key, io.fetch);
  const agent = await api.resolveAgent(opts.agent);
  if (agent.harness_id && !hasTerminal(agent)) throw noTerminal(agent.name ?? agent.id, agent.harness_id);
  let session = opts.new ? null : await api.liveSession(agent.id);
  if (session) {
    say(io, `· reattaching to session ${session.id}`);
  } else {
    session = await api.createSession(agent.id, `lap: ${agent.name ?? agent.id}`);
    say(io, `· started session ${session.id}`);
  }
  return connect(io, api, session, agent, opts.timeoutMs);
}

// attachSession runs `lap attach <id | URL>` and returns the exit status.
export async function attachSession(io: IO, opts: AttachOptions): Promise<number> {
  const { base, key } = credentials(io);
  const api = new Api(base, key, io.fetch);
  const session = await api.getSession(sessionIdFrom(opts.session));
  return connect(io, api, session, null, opts.timeoutMs);
}

async function connect(io: IO, api: Api, first: Session, agent: Agent | null, timeoutMs: number): Promise<number> {
  const session = await waitReady(api, first, { timeoutMs, onPhase: (p) => say(io, `· ${visible(p, 80)}`) });
  if (session.supports_tui === false) throw noTerminal(agent?.name ?? session.agent_id, agent?.harness_id ?? "");
  const url = ttyURL(session, api.base, io.env.LAP_TTY_FALLBACK);
  const token = io.env.LAP_TTY_TOKEN || session.tty_token || undefined;
  // LAP_RECORD_FRAMES=<file> writes each WebSocket of the session as a SPEC §4 recording.
  const record = io.env.LAP_RECORD_FRAMES ? (await import("./record.js")).recorder(io.env.LAP_RECORD_FRAMES) : null;
  const dial = async () => (record ? record(await io.dial(url, { token }), io.terminal().size()) : io.dial(url, { token }));
  const link = await dial();

  const again = agent?.name ? `lap ${agent.name}` : `lap attach ${session.id}`;
  say(io, `· attached to ${visible(agent?.name ?? session.agent_id, 60)} (session ${session.id.slice(0, 8)}) — Ctrl-D detaches`);
  const end = await bridge(io.terminal(), link, {
    redial: dial,
    alive: async () => {
      const s = await api.getSession(session.id);
      return s.status === "ready" ? true : `session ${session.id} is ${visible(s.status)}`;
    },
  });
  return report(io, api, session, end, again);
}

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
      const reason = end.reason ? ` ${visible(end.reason, 120)}` : "";
      say(io, `[ws closed] ${end.code}${reason}`);
      const s = await api.getSession(session.id).catch(() => null);
      if (s?.status === "ready") say(io, `· session ${session.id} is still ready; reattach: lap attach ${session.id}`);
      return end.code === 1000 || end.code === 1005 ? EXIT_OK : EXIT_FAILURE;
    }
    case "lost":
      say(io, `✗ connection lost (${visible(end.error ?? `close ${end.code}`, 120)}); session ${session.id} may still be running`);
      say(io, `  try again: ${again}`);
      return EXIT_LINK_LOST;
    case "refused":
      say(io, `✗ ${describe(end.error)}`);
      return EXIT_FAILURE;
    case "ended":
      say(io, `✗ ${end.why}`);
      return EXIT_FAILURE;
    case "signal":
      say(io, `· ${end.signal} — left session ${session.id} running; reconnect: ${again}`);
      return 128 + (SIGNAL_NUMBERS[end.signal] ?? 1);
  }
}

function noTerminal(name: string, harness: string): LapError {
  return new LapError(`agent '${visible(name)}' has no terminal (harness ${visible(harness || "unknown")})`,
    "this harness is talked to by messages, not a terminal; pick an agent with a terminal (see 'lap agents')");
}
