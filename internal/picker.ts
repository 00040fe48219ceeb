// The picker: `lap` alone on a terminal lists the agents (and `lap attach`
// without an id the live sessions) to choose from with the arrow keys. It
// draws on stderr's alternate screen, so stdout stays clean and the screen
// comes back exactly as it was, and leaves one summary line behind.

import { connectApi, hasTerminal, type Agent, type Api, type Session } from "./api.js";
import { login } from "./auth.js";
import { findCredentials } from "./config.js";
import { attachSession, openAgent, type AttachOptions, type OpenOptions } from "./attach.js";
import { EXIT_INTERRUPTED, exitForSignal, LapError } from "./errors.js";
import { type IO } from "./io.js";
import { cellWidth, fit, say, since, visible } from "./output.js";
import { agentNames } from "./sessions.js";

// A lone ESC is the Esc key only if nothing follows it this soon; arrow keys
// send ESC [ A in one burst.
const ESC_WAIT_MS = 50;
// Without a size (not a terminal after all), draw for the classic window.
const FALLBACK_SIZE = { cols: 80, rows: 24 };
// No column of the list is wider than this: long names are cut with "…".
const MAX_CELL = 40;
// Title, filter and header lines above the rows.
const CHROME_ROWS = 3;

const ALT_SCREEN_ON = "\x1b[?1049h";
const ALT_SCREEN_OFF = "\x1b[?1049l";
const HOME_AND_CLEAR = "\x1b[H\x1b[2J";
const SHOW_CURSOR = "\x1b[?25h";
const REVERSE = "\x1b[7m";
const PLAIN = "\x1b[0m";

// One row to choose: its cells as shown (already safe to print) and the
// strings the filter looks in.
export interface Item<T> {
  value: T;
  cells: string[];
  search: string[];
}

export interface PickOptions<T> {
  // What is picked, for the title and the summary line ("agent").
  what: string;
  header: string[];
  items: Item<T>[];
  // The summary line left behind once something is picked.
  summary: (value: T) => string;
}

export type Key =
  | { key: "up" | "down" | "pageup" | "pagedown" | "enter" | "esc" | "interrupt" | "backspace" | "clear" }
  | { key: "char"; text: string };

// Interrupted is Ctrl-C in the picker: exit status 130, nothing else to say.
export class Interrupted extends LapError {
  constructor() {
    super("cancelled (Ctrl-C)", "", EXIT_INTERRUPTED);
  }
}

// filterItems keeps the items where any search field contains the query,
// ignoring case; an empty query keeps all.
export function filterItems<T>(items: Item<T>[], query: string): Item<T>[] {
  const q = query.toLowerCase();
  if (q === "") return items;
  return items.filter((i) => i.search.some((s) => s.toLowerCase().includes(q)));
}

// decodeKeys reads the keys in what the terminal sent. An escape sequence
// cut off at the end is returned as rest, to be completed by the next read
// (or taken as Esc when nothing follows).
export function decodeKeys(input: string): { keys: Key[]; rest: string } {
  const keys: Key[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (c === "\x1b") {
      if (i + 1 >= input.length) return { keys, rest: input.slice(i) };
      const next = input[i + 1]!;
      if (next === "[" || next === "O") {
        // CSI or SS3: parameters, then one final byte in @..~.
        let j = i + 2;
        while (j < input.length && !/[@-~]/.test(input[j]!)) j++;
        if (j >= input.length) return { keys, rest: input.slice(i) };
        const seq = input.slice(i + 2, j + 1);
        const named: Record<string, Key["key"]> = { A: "up", B: "down", "5~": "pageup", "6~": "pagedown" };
        const k = named[seq];
        if (k) keys.push({ key: k } as Key);
        i = j + 1;
        continue;
      }
      if (next === "\x1b") {
        keys.push({ key: "esc" });
        i += 1;
        continue;
      }
      // Alt plus a key: nothing the picker uses.
      i += 2;
      continue;
    }
    i++;
    if (c === "\r" || c === "\n") keys.push({ key: "enter" });
    else if (c === "\x03") keys.push({ key: "interrupt" });
    else if (c === "\x10") keys.push({ key: "up" });
    else if (c === "\x0e") keys.push({ key: "down" });
    else if (c === "\x7f" || c === "\x08") keys.push({ key: "backspace" });
    else if (c === "\x15") keys.push({ key: "clear" });
    else if (c >= " ") {
      const last = keys[keys.length - 1];
      if (last?.key === "char") last.text += c;
      else keys.push({ key: "char", text: c });
    }
  }
  return { keys, rest: "" };
}

// State is what the picker shows: the filter, the selected row among the
// matches and the first row in view.
export interface State {
  query: string;
  selected: number;
  top: number;
}

// step applies one key; it returns the picked index into matches, "esc",
// "interrupt", or null to go on.
export function step<T>(state: State, key: Key, items: Item<T>[], pageRows: number): number | "esc" | "interrupt" | null {
  const matches = filterItems(items, state.query);
  switch (key.key) {
    case "up":
      state.selected = Math.max(0, state.selected - 1);
      break;
    case "down":
      state.selected = Math.min(Math.max(0, matches.length - 1), state.selected + 1);
      break;
    case "pageup":
      state.selected = Math.max(0, state.selected - pageRows);
      break;
    case "pagedown":
      state.selected = Math.min(Math.max(0, matches.length - 1), state.selected + pageRows);
      break;
    case "enter":
      return matches.length > 0 ? state.selected : null;
    case "esc":
      return "esc";
    case "interrupt":
      return "interrupt";
    case "backspace":
    case "clear":
    case "char":
      state.query = key.key === "char" ? state.query + key.text : key.key === "clear" ? "" : [...state.query].slice(0, -1).join("");
      state.selected = 0;
      state.top = 0;
      break;
  }
  return null;
}

// layout draws the picker into exactly cols x rows (fewer lines when the
// list is short): title, filter, header, then the rows in view, the
// selected one marked. It scrolls state.top to keep the selection in view.
export function layout<T>(state: State, opts: PickOptions<T>, cols: number, rows: number): { lines: string[]; cursor: { row: number; col: number } } {
  const width = Math.max(1, cols - 1);
  const matches = filterItems(opts.items, state.query);
  const view = Math.max(1, rows - CHROME_ROWS);
  if (state.selected < state.top) state.top = state.selected;
  if (state.selected >= state.top + view) state.top = state.selected - view + 1;
  state.top = Math.max(0, Math.min(state.top, Math.max(0, matches.length - view)));
  const count = `${matches.length}/${opts.items.length}`;
  const title = fit(`Pick ${article(opts.what)} ${opts.what} (${count}) — ↑↓ move, type to filter, enter opens, esc cancels`, width);
  const filter = fit(`> ${state.query}`, width);
  const widths = columnWidths(opts.header, matches.map((m) => m.cells));
  const header = fit("  " + row(opts.header, widths), width);
  const list: string[] = [];
  if (matches.length === 0) list.push(fit(`  no ${opts.what} matches '${state.query}'`, width));
  for (let i = state.top; i < Math.min(matches.length, state.top + view); i++) {
    const text = fit((i === state.selected ? "> " : "  ") + row(matches[i]!.cells, widths), width);
    list.push(i === state.selected ? REVERSE + text + PLAIN : text);
  }
  const col = Math.min(width, cellWidth(filter));
  // A window too short for it all keeps the row in view first, then the
  // filter, then the title: moving and picking are never done blind.
  if (rows > CHROME_ROWS) return { lines: [title, filter, header, ...list], cursor: { row: 1, col } };
  if (rows === CHROME_ROWS) return { lines: [title, filter, list[0]!], cursor: { row: 1, col } };
  if (rows === 2) return { lines: [filter, list[0]!], cursor: { row: 0, col } };
  return { lines: [list[0]!], cursor: { row: 0, col: 0 } };
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

function columnWidths(header: string[], rows: string[][]): number[] {
  return header.map((h, c) => Math.min(MAX_CELL, Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[c] ?? "")))));
}

function row(cells: string[], widths: number[]): string {
  return widths.map((w, c) => pad(fit(cells[c] ?? "", w), w)).join("  ").trimEnd();
}

function pad(s: string, n: number): string {
  const len = cellWidth(s);
  return len >= n ? s : s + " ".repeat(n - len);
}

// pick shows the list until a row is picked (its value), Esc (null) or
// Ctrl-C (throws Interrupted). The terminal is given back as it was found on
// every path: cooked mode, main screen, cursor shown.
export async function pick<T>(io: IO, opts: PickOptions<T>): Promise<T | null> {
  const term = io.terminal();
  const state: State = { query: "", selected: 0, top: 0 };
  const size = () => {
    const s = term.size();
    return s && s.cols > 0 && s.rows > 0 ? s : FALLBACK_SIZE;
  };
  const draw = () => {
    const { cols, rows } = size();
    const { lines, cursor } = layout(state, opts, cols, rows);
    io.stderr.write(HOME_AND_CLEAR + lines.join("\r\n") + `\x1b[${cursor.row + 1};${cursor.col + 1}H`);
  };
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    io.stderr.write(ALT_SCREEN_OFF + SHOW_CURSOR);
    term.setRawMode(false);
  };
  term.setRawMode(true);
  io.stderr.write(ALT_SCREEN_ON);
  draw();
  let offResize = () => {};
  let offSignal = () => {};
  let onData: (chunk: Buffer | string) => void = () => {};
  try {
    let signalled = "";
    const outcome = await new Promise<number | "esc" | "interrupt" | "signal">((resolve) => {
      let pending = "";
      let escTimer: NodeJS.Timeout | undefined;
      const apply = (keys: Key[]) => {
        for (const k of keys) {
          const r = step(state, k, opts.items, Math.max(1, size().rows - CHROME_ROWS));
          if (r !== null) return resolve(r);
        }
        draw();
      };
      onData = (chunk) => {
        clearTimeout(escTimer);
        const { keys, rest } = decodeKeys(pending + chunk.toString());
        pending = rest;
        apply(keys);
        if (pending !== "") {
          escTimer = setTimeout(() => {
            pending = "";
            apply([{ key: "esc" }]);
          }, ESC_WAIT_MS);
        }
      };
      term.input.on("data", onData);
      term.input.resume();
      offResize = term.onResize(draw);
      offSignal = term.onSignal((signal) => {
        signalled = signal;
        resolve("signal");
      });
    });
    if (outcome === "esc") {
      restore();
      say(io, `· no ${opts.what} picked`);
      return null;
    }
    if (outcome === "signal") {
      restore();
      throw new LapError(`${signalled}: no ${opts.what} picked`, "", exitForSignal(signalled));
    }
    if (outcome === "interrupt") {
      restore();
      throw new Interrupted();
    }
    const picked = filterItems(opts.items, state.query)[outcome]!.value;
    restore();
    say(io, opts.summary(picked));
    return picked;
  } finally {
    term.input.off("data", onData);
    term.input.pause();
    offResize();
    offSignal();
    restore();
  }
}

// agentItems are the picker's rows for agents: name, harness, terminal or
// chat, and whether a session is live.
export function agentItems(agents: Agent[]): Item<Agent>[] {
  return agents.map((a) => ({
    value: a,
    cells: [
      visible(a.name ?? a.id.slice(0, 8), MAX_CELL),
      visible(a.harness_id, MAX_CELL),
      hasTerminal(a) ? "terminal" : "chat",
      a.has_active_session === undefined ? "?" : a.has_active_session ? "live" : "-",
    ],
    search: [a.name ?? "", a.harness_id, a.id],
  }));
}

// pickAgent lets the user choose an agent: the agent, or null after Esc
// (already said). Ctrl-C throws Interrupted. No agents: a LapError saying
// where agents are made.
export async function pickAgent(io: IO, api: Api): Promise<Agent | null> {
  return pickAgentFrom(io, api, await api.listAgents());
}

async function pickAgentFrom(io: IO, api: Api, agents: Agent[]): Promise<Agent | null> {
  if (agents.length === 0) {
    throw new LapError(`no agents on ${api.base}: agents are created in the platform's web UI`);
  }
  return pick(io, {
    what: "agent",
    header: ["NAME", "HARNESS", "KIND", "SESSION"],
    items: agentItems(agents),
    summary: (a) => `· agent ${visible(a.name ?? a.id, 60)}`,
  });
}

// Sessions that can be attached to.
const LIVE = new Set(["ready", "creating"]);

export function sessionItems(sessions: Session[], names: Map<string, string | null>, now: number): Item<Session>[] {
  return sessions.map((s) => {
    const agent = names.get(s.agent_id) ?? s.agent_id.slice(0, 8);
    return {
      value: s,
      cells: [visible(s.id.slice(0, 8)), visible(agent, MAX_CELL), visible(s.status, 12), since(s.created_at ?? null, now)],
      search: [s.id, agent, s.status],
    };
  });
}

// pickSession lets the user choose a live session, like pickAgent.
export async function pickSession(io: IO, api: Api, now = Date.now()): Promise<Session | null> {
  const sessions = (await api.listSessions()).filter((s) => LIVE.has(s.status));
  if (sessions.length === 0) throw new LapError("no live sessions to attach to", "start one with: lap <agent>");
  const names = await agentNames(api).catch(() => new Map<string, string | null>());
  return pick(io, {
    what: "session",
    header: ["ID", "AGENT", "STATUS", "AGE"],
    items: sessionItems(sessions, names, now),
    summary: (s) => `· session ${s.id}`,
  });
}

// pickable is whether the picker can run: it needs a terminal to read keys
// from and one to draw on. Otherwise `lap` alone prints the help.
export function pickable(io: IO): boolean {
  return io.stdinIsTTY && !!io.stderrIsTTY;
}

// firstRun is `lap` alone on a terminal: log in if needed (the prompts of
// `lap login`), pick an agent, and open it as `lap <name>` does. Returns the
// exit status: 0 after Esc, 130 after Ctrl-C.
export async function firstRun(io: IO, opts: Omit<OpenOptions, "agent" | "new"> & { new?: boolean }): Promise<number> {
  try {
    findCredentials(io);
  } catch (err) {
    if (!(err instanceof LapError && /^not logged in/.test(err.message))) throw err;
    say(io, "lap — your terminal, in an agent's sandbox. First, the platform to use:");
    await login(io);
  }
  const api = connectApi(io);
  const agents = await api.listAgents();
  let agent: Agent | null;
  try {
    agent = await pickAgentFrom(io, api, agents);
  } catch (err) {
    if (err instanceof Interrupted) return EXIT_INTERRUPTED;
    throw err;
  }
  if (agent === null) return 0;
  // By name, as `lap <name>` does; by id when the name is missing or shared.
  const unique = agent.name !== null && agents.filter((a) => a.name === agent!.name).length === 1;
  return openAgent(io, { ...opts, agent: unique ? agent.name! : agent.id, new: !!opts.new });
}

// attachPicked is `lap attach` without an id on a terminal: pick a live
// session, then attach as `lap attach <id>` does.
export async function attachPicked(io: IO, opts: Omit<AttachOptions, "session">): Promise<number> {
  let session: Session | null;
  try {
    session = await pickSession(io, connectApi(io));
  } catch (err) {
    if (err instanceof Interrupted) return EXIT_INTERRUPTED;
    throw err;
  }
  if (session === null) return 0;
  return attachSession(io, { ...opts, session: session.id });
}
