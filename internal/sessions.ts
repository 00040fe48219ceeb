// The session commands: `lap sessions [agent]` lists them, `lap stop <id>`
// stops one.

import { HttpError, connectApi, isUUID, sessionIdFrom, type Api, type Session } from "./api.js";
import { LapError } from "./errors.js";
import { confirm, mayAsk, type IO } from "./io.js";
import { table, duration, json, print, say, since, visible } from "./output.js";

// Statuses after which there is nothing left to stop.
const STOPPED = new Set(["dead", "stopped", "deleted"]);

export interface ListOptions {
  agent?: string;
  json?: boolean;
  now?: () => number;
}

export interface StopOptions {
  session: string;
  yes?: boolean;
}

// SessionRow is one entry of `lap sessions --json`; its field names are stable.
// The tty token is never included.
export interface SessionRow {
  id: string;
  agent_id: string;
  agent: string | null;
  status: string;
  phase: string | null;
  phase_detail: string | null;
  failure_reason: string | null;
  created_at: string | null;
  last_seen_at: string | null;
  // How long without messages before the platform reaps it; null: never.
  idle_timeout_ms: number | null;
}

// listSessions prints the sessions, of one agent or all, newest first.
export async function listSessions(io: IO, opts: ListOptions = {}): Promise<void> {
  const api = connectApi(io);
  let agentId: string | undefined;
  let names: Map<string, string | null>;
  if (opts.agent === undefined) {
    names = await agentNames(api);
  } else {
    const agent = await api.resolveAgent(opts.agent);
    agentId = agent.id;
    names = agent.name === null ? await agentNames(api) : new Map([[agent.id, agent.name]]);
  }
  const rows = newestFirst(await api.listSessions(agentId)).map((s) => sessionRow(s, names));
  const now = (opts.now ?? Date.now)();
  if (opts.json) io.stdout.write(json(rows));
  else print(io, sessionTable(rows, now));
}

// agentNames maps agent ids to names, for showing sessions.
export async function agentNames(api: Api): Promise<Map<string, string | null>> {
  return new Map((await api.listAgents()).map((a) => [a.id, a.name]));
}

function newestFirst(sessions: Session[]): Session[] {
  const time = (s: Session) => Date.parse(s.created_at ?? "") || 0;
  return [...sessions].sort((a, b) => time(b) - time(a));
}

function sessionRow(s: Session, names: Map<string, string | null>): SessionRow {
  return {
    id: s.id,
    agent_id: s.agent_id,
    agent: names.get(s.agent_id) ?? null,
    status: s.status,
    phase: s.phase ?? null,
    phase_detail: s.phase_detail ?? null,
    failure_reason: s.failure_reason ?? null,
    created_at: s.created_at ?? null,
    last_seen_at: s.last_seen_at ?? null,
    idle_timeout_ms: typeof s.idle_timeout_ms === "number" && Number.isFinite(s.idle_timeout_ms) ? s.idle_timeout_ms : null,
  };
}

// sessionTable lays sessions out in columns: short id, agent, status, phase,
// age, last seen, and when the platform will reap a ready one.
export function sessionTable(rows: SessionRow[], now: number): string {
  const cells = rows.map((r) => [
    r.id.slice(0, 8),
    r.agent ?? r.agent_id.slice(0, 8),
    r.status,
    r.phase ?? "-",
    since(r.created_at, now),
    ago(since(r.last_seen_at, now)),
    reapedIn(r, now),
  ]);
  return table(["ID", "AGENT", "STATUS", "PHASE", "AGE", "LAST SEEN", "REAPED IN"], cells);
}

// ago is "12m ago", or "-" for a time lap cannot tell.
function ago(time: string): string {
  return time === "-" ? time : `${time} ago`;
}

// reapedIn is how long until the platform marks a ready session dead for
// want of messages (terminal traffic does not count): "-" when it never
// will or the session is not ready, "now" when it is overdue.
export function reapedIn(r: SessionRow, now: number): string {
  if (r.status !== "ready" || r.idle_timeout_ms === null) return "-";
  const seen = Date.parse(r.last_seen_at ?? r.created_at ?? "");
  if (Number.isNaN(seen)) return "-";
  const left = seen + r.idle_timeout_ms - now;
  return left <= 0 ? "now" : duration(left);
}

// stopSession runs `lap stop <id>` and returns the exit status. On a
// terminal it asks first; elsewhere it needs --yes, so a script never stops
// a session by accident of a missing flag.
export async function stopSession(io: IO, opts: StopOptions): Promise<number> {
  const id = sessionIdFrom(opts.session);
  mayAsk(io, opts.yes, `stopping session ${id}`, "stop it");
  const api = connectApi(io);
  const session = await findSession(api, id);
  const names = await agentNames(api).catch(() => new Map<string, string | null>());
  const agent = visible(names.get(session.agent_id) ?? session.agent_id, 60);
  if (STOPPED.has(session.status)) {
    say(io, `✓ session ${session.id} (agent ${agent}) is already ${visible(session.status)}`);
    return 0;
  }
  if (!opts.yes) {
    if (!(await confirm(io, `Stop session ${session.id} (agent ${agent})?`, "not stopped"))) {
      say(io, `· not stopped; session ${session.id} keeps running`);
      return 0;
    }
  }
  const status = await api.stopSession(session.id);
  say(io, `✓ stopped session ${session.id} (agent ${agent})${status ? `: ${visible(status)}` : ""}`);
  return 0;
}

// AmbiguousId is the start of an id that several sessions share.
export class AmbiguousId extends LapError {}

// findSession gets a session by id or, like docker, by the start of its id
// as `lap sessions` shows it.
export async function findSession(api: Api, id: string): Promise<Session> {
  try {
    return await api.getSession(id);
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err;
  }
  const matches = isUUID(id) ? [] : (await api.listSessions()).filter((s) => s.id.startsWith(id));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) throw new AmbiguousId(`${matches.length} sessions start with '${visible(id)}'`, "give more of the id; list them with 'lap sessions'");
  throw new LapError(`no session ${visible(id)}`, "list them with 'lap sessions'");
}

// sessionOrAgentError is for a word that named no agent (agentError says
// so): the session whose id it starts, else agentError. Several sessions
// it could be are said as such, not as a missing agent.
export async function sessionOrAgentError(api: Api, word: string, agentError: unknown): Promise<Session> {
  if (!/^[\w.-]+$/.test(word) || isUUID(word)) throw agentError;
  try {
    return await findSession(api, word);
  } catch (err) {
    throw err instanceof AmbiguousId ? err : agentError;
  }
}
