// The command table: every command's name, arguments, flags, summary and
// help, in one place. Parsing, the "does not apply to" checks, --help and the
// completion scripts are all worked out from it, so adding a flag is one
// edit here. main(argv, io) runs a command and returns the exit status; it
// never touches the process (lap.ts does).

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { EXIT_FAILURE, LapError, describe, usageError } from "./errors.js";
import type { Completes } from "./completion.js";
import type { IO, Preloaded } from "./io.js";
import type { FetchInit } from "./nodefetch.js";
import { cleanText, isShellWord, visible } from "./output.js";
import type { Settings } from "./settings.js";

// The settings module is loaded when a command first needs it, so that
// `lap --version` and `lap --help` start with less to load.
function settingsModule(): typeof import("./settings.js") {
  return require("./settings.js") as typeof import("./settings.js");
}

interface Flag {
  name: string;
  short?: string;
  // The name of its value in help ("D", "file"); absent for a switch.
  value?: string;
  help: string;
  // The commands that take it; absent: every command.
  for?: string[];
  // Listed under a command's usage line rather than in it, to keep that line short.
  detail?: true;
  // The option it sets in the parsed command (default: its name in
  // camelCase); "" for the flags parsing handles itself.
  key?: string;
  // Checks and converts its value; a bad one throws a usage error.
  parse?: (value: string) => unknown;
  // The option's value when the flag is not given.
  default?: unknown;
  // Another flag it makes sense only with.
  requires?: string;
  // Its value is a file name: the completion scripts offer files for it.
  file?: true;
}

// "open" is `lap <agent>`: what runs when the first word is not a command.
const SESSION_COMMANDS = ["open", "attach"];

// Cold starts take up to 8 minutes; wait a little longer by default.
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;
// Just over the 60 s of idleness many load balancers allow.
const DEFAULT_IDLE_MS = 65_000;

export const FLAGS: Flag[] = [
  { name: "agent", value: "name", help: "the agent, when its name is also a command", for: ["open"], detail: true, key: "" },
  { name: "resume", value: "id", help: "the same as 'lap attach <id>', for users of the older CLI", for: ["attach"], detail: true, key: "" },
  { name: "new", help: "start a new session even when one is live", for: ["open"], default: false },
  { name: "timeout", value: "D", help: "how long to wait for the sandbox, or for a restart (e.g. 90s, 10m; default 10m)", for: ["open", "attach", "doctor", "restart", "logs"],
    key: "timeoutMs", parse: (v) => settingsModule().parseDuration(v, "--timeout"), default: DEFAULT_TIMEOUT_MS },
  { name: "detach-keys", value: "K", help: "keys that detach, docker's syntax: ctrl-p,ctrl-q  ctrl-]  none (default ctrl-d)", for: SESSION_COMMANDS,
    parse: checkDetachKeys },
  { name: "record", value: "file.cast", help: "record the session as an asciicast v2 file (asciinema play <file>)", for: SESSION_COMMANDS, file: true,
    parse: (v) => {
      if (v === "") throw usageError("--record needs a file name", "e.g. --record session.cast");
      return v;
    } },
  { name: "record-input", help: "with --record, record what you type too", for: SESSION_COMMANDS, detail: true, requires: "record" },
  { name: "overwrite", help: "let --record or LAP_RECORD_FRAMES replace a file that exists (never through a symlink)", for: SESSION_COMMANDS, detail: true },
  { name: "read-only", help: "watch only: nothing typed and no window size is sent; the detach keys still detach", for: SESSION_COMMANDS },
  { name: "detach-on-eof", help: "with stdin not a terminal, detach when it ends, instead of sending end-of-file and printing until the program exits", for: SESSION_COMMANDS, detail: true },
  { name: "json", help: "print JSON for scripts (a chat: one object per answer)", for: ["agents", "sessions", "config", "logs", "doctor", ...SESSION_COMMANDS] },
  { name: "follow", short: "f", help: "after the log, print the session's events as they stream, until Ctrl-C", for: ["logs"] },
  { name: "show-thinking", help: "in a chat, show the agent's reasoning (default: only counted)", for: SESSION_COMMANDS, detail: true },
  { name: "history", value: "N", help: "in a chat, the earlier turns shown on entry (default 3; 0 for none)", for: SESSION_COMMANDS, detail: true,
    parse: (v) => {
      if (!/^\d{1,4}$/.test(v)) throw usageError(`--history '${visible(v)}': not a number of turns`, "e.g. --history 10, or --history 0 for none");
      return Number(v);
    } },
  { name: "stdin-message", help: "in a chat with stdin not a terminal, send all of stdin as one message", for: SESSION_COMMANDS, detail: true },
  { name: "yes", help: "do not ask for confirmation", for: ["stop", "restart"] },
  { name: "url", value: "URL", help: "the platform URL (then only the key is read)", for: ["login"] },
  { name: "idle", value: "D", help: "how long to leave the terminal connection idle (default 65s)", for: ["doctor"],
    key: "idleMs", parse: (v) => settingsModule().parseDuration(v, "--idle"), default: DEFAULT_IDLE_MS },
  { name: "profile", value: "name", help: "use the platform saved as that profile (lap login --profile <name>)", key: "" },
  { name: "help", short: "h", help: "help (also: lap <command> --help)", key: "" },
  { name: "version", short: "v", help: "version", key: "" },
];

const SHELLS = ["bash", "zsh", "fish"];

// Values is what parseArgs read: strings for flags with a value, true for
// switches, absent when not given.
type Values = Record<string, string | boolean | undefined>;

// What parsing hands a command: its positionals and flags, checked to be its own.
interface Words {
  pos: string[];
  v: Values;
}

// Command is a parsed command line: cmd names the command and the other
// fields are its options; profile is --profile, for every command.
export type Command = { cmd: string; profile?: string; [option: string]: unknown };

interface CommandSpec {
  name: string;
  // The positionals, as usage shows them.
  args: string;
  // Most positionals it takes; at least one when required names what is missing.
  max: number;
  required?: string;
  completes: Completes;
  summary: string;
  // The paragraph --help adds below the usage line and the flags.
  help: string;
  hidden?: true;
  parse?: (w: Words) => Command;
  run: (cmd: Command, io: IO) => Promise<number>;
}

// The detach keys are checked here, so a bad spec is a usage error before
// anything is sent; keys.ts is small and has no dependencies.
function checkDetachKeys(spec: string): string {
  (require("./keys.js") as typeof import("./keys.js")).parseDetachKeys(spec);
  return spec;
}

// flagOptions turns the flags given to a command into its options, each
// checked by its own parse, with the defaults of those not given.
function flagOptions(command: string, v: Values): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const f of flagsOf(command)) {
    if (f.key === "") continue;
    if (f.requires && v[f.name] !== undefined && v[f.requires] === undefined) {
      const needed = FLAGS.find((g) => g.name === f.requires)!;
      throw usageError(`--${f.name} needs ${flagUsage(needed)}`);
    }
    const key = f.key ?? f.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const given = v[f.name];
    if (given !== undefined) options[key] = typeof given === "string" && f.parse ? f.parse(given) : given;
    else if (f.default !== undefined) options[key] = f.default;
  }
  return options;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "open", args: "<agent>", max: 1, completes: "agents",
    summary: "open the agent's sandbox terminal (reuses a live session)",
    help: `Opens the agent's sandbox terminal: reattaches to its live session, or starts
one (--new always starts one), waits until it is ready, and bridges your
terminal to it. Ctrl-D detaches and leaves the session running.
'lap --agent <name>' names an agent whose name is also a command.

--detach-keys takes a comma-separated sequence of ctrl-<a-z @ [ \\ ] ^ _> or
single characters (ctrl-p,ctrl-q; ctrl-]), or none; also "detachKeys" in the
config file. With other keys, Ctrl-D goes to the program. --record writes the
session to a file (mode 0600); --record-input also records what you type.

An agent without a terminal (lap agents: TERMINAL no) gets a chat: the answer
is shown as it is written (markdown rendered on a colour terminal), tool calls
one line each, then a line of seconds, tokens and cost. Ctrl-C stops the
agent's turn; twice at the prompt, or Ctrl-D, ends the chat. / lists the
commands and skills: /<skill> text, /attach <image>, /history [n], /help,
/quit. Coming back shows the last 3 turns (--history N). Piped, each line is
a message (all of stdin with --stdin-message), the text goes to stdout
exactly, and --json prints one object per answer:
  echo 'summarise README.md' | lap my-agent --json | jq -r .text
`,
    parse: ({ pos, v }) => {
      const agent = typeof v.agent === "string" ? v.agent : pos[0];
      const extra = typeof v.agent === "string" ? pos : pos.slice(1);
      if (extra.length) throw usageError(`unexpected argument '${extra[0]}'`, "usage: lap <agent> [--new] [--timeout D]");
      return { cmd: "open", agent };
    },
    run: async (c, io) => (await import("./attach.js")).openAgent(io, c as never),
  },
  {
    name: "attach", args: "<session-id | URL>", max: 1, completes: "sessions",
    summary: "attach to a known session (alias: lap --resume <id>)",
    help: `Attaches to a known session by id, or by a pasted <base>/sessions/<id> URL.
'lap --resume <id>' does the same. --detach-keys, --record and the chat flags as
for 'lap <agent>'. Without an id, on a terminal: pick one of the live sessions
with the arrow keys (typing filters; Enter attaches; Esc cancels).
`,
    parse: ({ pos, v }) => {
      if (typeof v.resume === "string") {
        if (pos.length) throw usageError(`unexpected argument '${pos[0]}'`);
      } else if (pos.length > 1) {
        throw usageError(`unexpected argument '${pos[1]}'`);
      }
      const session = typeof v.resume === "string" ? v.resume : pos[0];
      return { cmd: "attach", session };
    },
    run: async (c, io) => {
      if (c.session !== undefined) return (await import("./attach.js")).attachSession(io, c as never);
      const { attachPicked, pickable } = await import("./picker.js");
      if (!pickable(io)) throw usageError("attach needs a session id", "usage: lap attach <session-id | URL>");
      return attachPicked(io, c as never);
    },
  },
  {
    name: "agents", args: "", max: 0, completes: "", summary: "list agents",
    help: `Lists the platform's agents: name, harness, whether it has a terminal, short id.
--json prints them as a JSON array: id, name, harness_id, supports_tui,
has_active_session.
`,
    parse: () => ({ cmd: "agents" }),
    run: async (c, io) => {
      await (await import("./agents.js")).listAgents(io, c as never);
      return 0;
    },
  },
  {
    name: "sessions", args: "[agent]", max: 1, completes: "agents", summary: "list sessions, newest first",
    help: `Lists sessions, of one agent or of all, newest first: short id, agent, status,
phase, age, last seen, and for a ready session how long until the platform
reaps it for want of messages (REAPED IN; terminal traffic does not count).
--json prints a JSON array: id, agent_id, agent, status, phase, phase_detail,
failure_reason, created_at, last_seen_at, idle_timeout_ms.
`,
    parse: ({ pos }) => ({ cmd: "sessions", ...(pos[0] !== undefined && { agent: pos[0] }) }),
    run: async (c, io) => {
      await (await import("./sessions.js")).listSessions(io, c as never);
      return 0;
    },
  },
  {
    name: "stop", args: "<session-id>", max: 1, required: "stop needs a session id", completes: "sessions",
    summary: "stop a session (asks first on a terminal)",
    help: `Stops a session (the id, its start as 'lap sessions' shows it, or a pasted
session URL). On a terminal it asks first; --yes does not ask, and is needed
when stdin is not a terminal.
`,
    parse: ({ pos }) => ({ cmd: "stop", session: pos[0] }),
    run: async (c, io) => (await import("./sessions.js")).stopSession(io, c as never),
  },
  {
    name: "logs", args: "<session-id | agent>", max: 1, required: "logs needs a session id or an agent name", completes: "agents",
    summary: "a session's timeline, also of a dead one (-f follows)",
    help: `Prints a session's timeline, one entry a line: local time, kind, title, detail
and meta. Dead and failed sessions too: their log ends with the reason. Given
an agent, its newest session. --json prints the entries as the platform gave
them (one JSON document: it does not follow). -f, --follow then prints the
agent's text and tool steps as they stream, reconnecting as the platform cuts
the stream, until Ctrl-C (exit 0); a session still being created is waited
for as long as --timeout allows (default 10m).
`,
    parse: ({ pos, v }) => {
      if (v.json && v.follow) throw usageError("logs --json prints one JSON document and does not follow", "drop -f, or --json");
      return { cmd: "logs", target: pos[0] };
    },
    run: async (c, io) => (await import("./lifecycle.js")).logs(io, c as never),
  },
  {
    name: "restart", args: "<session-id>", max: 1, required: "restart needs a session id", completes: "restartable",
    summary: "bring a dead or failed session back in a fresh sandbox",
    help: `Brings a dead or failed session back in a fresh sandbox; the platform replays
its conversation to it. Files and processes of the old sandbox are gone. On a
terminal it asks first; --yes does not ask, and is needed when stdin is not a
terminal. The platform answers only when done: --timeout bounds the wait
(default 10m). Then it says how to attach.
`,
    parse: ({ pos }) => ({ cmd: "restart", session: pos[0] }),
    run: async (c, io) => (await import("./lifecycle.js")).restart(io, c as never),
  },
  {
    name: "login", args: "", max: 0, completes: "", summary: "save the platform URL and master key",
    help: `Asks for the platform URL and the master key (not echoed) and saves them to
~/.lap/config.json (or $LAP_CONFIG), mode 0600. With stdin not a terminal,
reads the URL and the key as two lines:  printf '%s\\n%s\\n' "$URL" "$KEY" | lap login
With --url only the key is read:          echo "$KEY" | lap login --url "$URL"
With --profile the login is saved under that name, beside the others.
`,
    parse: () => ({ cmd: "login" }),
    run: async (c, io) => {
      await (await import("./auth.js")).login(io, c as never);
      return 0;
    },
  },
  {
    name: "logout", args: "", max: 0, completes: "", summary: "forget them",
    help: `Forgets the login (of that profile); the config file is deleted when nothing
is left in it. Succeeds when there is nothing to forget.
`,
    run: async (_c, io) => {
      (await import("./auth.js")).logout(io);
      return 0;
    },
  },
  {
    name: "config", args: "", max: 0, completes: "", summary: "show the platform in use, key masked",
    help: `Shows the config file, the active profile, the platform URL, the master key
masked, and which LAP_* environment overrides are set. --json prints the same
as one JSON object (the key still masked).
`,
    parse: () => ({ cmd: "config" }),
    run: async (c, io) => {
      (await import("./auth.js")).showConfig(io, c as never);
      return 0;
    },
  },
  {
    name: "doctor", args: "[agent | session-id]", max: 1, completes: "agents",
    summary: "check the path to the sandbox step by step",
    help: `Checks the path to the platform one step at a time and says which step fails
and what to do: config present and private, proxy, DNS, TCP, TLS, master key,
agents. Given an agent or a session, also the platform's own diagnosis of it
(detected issues, the end of the pod's log; --json prints the whole bundle on
stdout and the steps on stderr), the terminal WebSocket upgrade and whether an
idle connection survives --idle D (default 65s). An agent without a live
session gets one for the check, stopped afterwards. Exit status 1 when any
step failed.
`,
    parse: ({ pos, v }) => {
      if (v.json && pos[0] === undefined) throw usageError("doctor --json prints the platform's diagnosis of a session: give an agent or a session id");
      return { cmd: "doctor", ...(pos[0] !== undefined && { target: pos[0] }) };
    },
    run: async (c, io) => (await import("./doctor.js")).doctor(io, c as never),
  },
  {
    name: "completion", args: "bash|zsh|fish", max: 1, required: "completion needs a shell", completes: "shells",
    summary: "print a shell completion script",
    help: `Prints a completion script: commands, flags, agent names, session ids and
profiles. Load it with:
  bash:  source <(lap completion bash)      (e.g. in ~/.bashrc)
  zsh:   source <(lap completion zsh)       (e.g. in ~/.zshrc)
  fish:  lap completion fish | source       (e.g. in ~/.config/fish/config.fish)
`,
    parse: ({ pos }) => {
      if (!SHELLS.includes(pos[0])) throw usageError(`no completion for '${pos[0]}'`, "usage: lap completion bash|zsh|fish");
      return { cmd: "completion", shell: pos[0] };
    },
    run: async (c, io) => {
      const { completionScript } = await import("./completion.js");
      io.stdout.write(completionScript(c.shell as string, completionSpec()));
      return 0;
    },
  },
  {
    name: "help", args: "[command]", max: 1, completes: "commands", summary: "help on a command",
    help: "Prints the help of lap, or of one command.\n",
    parse: ({ pos }) => ({ cmd: "help", topic: pos[0] && COMMANDS.some((c) => c.name === pos[0] && !c.hidden) ? pos[0] : "lap" }),
    run: async (c, io) => {
      io.stdout.write(helpText(c.topic as string));
      return 0;
    },
  },
  {
    // Called by the completion scripts, not by people: not in the help.
    name: "__complete", args: "agents|sessions|restartable|profiles", max: 1, completes: "", summary: "", help: "", hidden: true,
    parse: ({ pos }) => ({ cmd: "complete", what: pos[0] ?? "" }),
    run: async (c, io) => {
      await (await import("./completion.js")).completeWords(io, c.what as string);
      return 0;
    },
  },
  {
    // `lap` alone: on a terminal, log in if needed and pick an agent; else the help.
    name: "start", args: "", max: 0, completes: "", summary: "", help: "", hidden: true,
    run: async (_c, io) => {
      const { firstRun, pickable } = await import("./picker.js");
      if (!pickable(io)) {
        io.stdout.write(helpText("lap"));
        return 0;
      }
      return firstRun(io, { timeoutMs: DEFAULT_TIMEOUT_MS });
    },
  },
  {
    name: "version", args: "", max: 0, completes: "", summary: "", help: "", hidden: true,
    run: async (_c, io) => {
      io.stdout.write(`lap ${version()}\n`);
      return 0;
    },
  },
];

const byName = new Map(COMMANDS.map((c) => [c.name, c]));

// specOf finds the command a parsed Command came from: its cmd is the
// command's name, but for the hidden __complete.
function specOf(cmd: Command): CommandSpec {
  return byName.get(cmd.cmd === "complete" ? "__complete" : cmd.cmd)!;
}

// version is what make build stamped next to the entry (build/version.json).
function version(): string {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "version.json"), "utf8")) as { version: string; commit: string };
    return `${v.version} (${v.commit})`;
  } catch {
    return "unknown (not built with make)";
  }
}

// The words that start a command (not an agent): the visible commands and the
// hidden __complete; "open" and "version" are reached otherwise.
function isCommandWord(word: string | undefined): boolean {
  return word !== undefined && word !== "open" && word !== "version" && word !== "start" && byName.has(word);
}

// agentCommand is how lap tells the user to open an agent by name: with
// --agent when the name is also a command's; null when the name is no
// plain word (a hostile or an odd one), for the caller to say otherwise.
export function agentCommand(name: string | null | undefined): string | null {
  if (!name || !isShellWord(name)) return null;
  return isCommandWord(name) ? `lap --agent ${name}` : `lap ${name}`;
}

// parseCommand turns argv (without node and the script) into a Command.
// Flags may stand before or after the positional arguments.
export function parseCommand(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(FLAGS.map((f) => [f.name, { type: f.value ? "string" : "boolean", ...(f.short && { short: f.short }) }] as const)),
    });
  } catch (err) {
    throw usageError(parseArgsMessage(err));
  }
  const v = parsed.values as Values;
  const pos = parsed.positionals;
  const profile = typeof v.profile === "string" ? { profile: settingsModule().checkProfileName(v.profile) } : {};

  if (v.version) return { cmd: "version" };
  const picked = v.agent !== undefined ? "open" : v.resume !== undefined ? "attach" : isCommandWord(pos[0]) ? pos[0] : undefined;
  const rest = picked && picked !== "open" && v.resume === undefined ? pos.slice(1) : pos;
  if (picked === "help") return byName.get("help")!.parse!({ pos: rest, v });
  if (v.help) return { cmd: "help", topic: picked ?? (pos.length ? "open" : "lap") };
  if (picked === undefined && pos.length === 0) {
    // `lap` alone: the first-run path on a terminal (run decides), else help.
    const flags = Object.keys(v).filter((k) => v[k] !== undefined && k !== "profile");
    return flags.length === 0 ? { cmd: "start", ...profile } : { cmd: "help", topic: "lap" };
  }
  const spec = byName.get(picked ?? "open")!;

  const owner = spec.name === "open" ? "<agent>" : spec.name;
  // An empty word is most often a variable that was never set (lap stop
  // "$ID"); as the start of an id it would match every session.
  if ([...rest, v.agent, v.resume].some((a) => typeof a === "string" && a.trim() === "")) {
    const usage = spec.name === "open" ? "lap <agent>" : `lap ${spec.name} ${spec.args}`.trimEnd();
    throw usageError(`an empty argument to 'lap ${owner}'`, `usage: ${usage}`);
  }
  if (v.resume !== undefined && (v.new || v.agent !== undefined)) {
    throw usageError("--resume attaches to a known session; it does not take --new or --agent");
  }
  for (const f of FLAGS) {
    if (v[f.name] !== undefined && f.for && !f.for.includes(spec.name)) throw usageError(`--${f.name} does not apply to 'lap ${owner}'`);
  }
  if (spec.name !== "open" && spec.name !== "attach") {
    if (spec.required && rest.length === 0) throw usageError(spec.required, `usage: lap ${spec.name} ${spec.args}`);
    if (rest.length > spec.max) throw usageError(`unexpected argument '${visible(rest[spec.max]!)}' for 'lap ${spec.name}'`);
  } else if (spec.required && rest.length === 0 && v.resume === undefined) {
    throw usageError(spec.required, `usage: lap ${spec.name} ${spec.args}`);
  }
  const cmd = { ...flagOptions(spec.name, v), ...(spec.parse ? spec.parse({ pos: rest, v }) : { cmd: spec.name }) };
  return { ...cmd, ...profile };
}

function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? "";
  // Node names a flag with a short form as '-h, --help': the long one is meant.
  const flag = /'(?:-\w, )?(-[^' ,]+)/.exec(message)?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown flag '${flag ?? "?"}'`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return /does not take an argument/.test(message) ? `flag '${flag ?? "?"}' takes no value` : `flag '${flag ?? "?"}' needs a value`;
  }
  return (e.message ?? String(err)).split("\n")[0];
}

// flagUsage is a flag as help shows it: "--timeout <D>".
function flagUsage(f: Flag): string {
  return `--${f.name}${f.value ? ` <${f.value}>` : ""}`;
}

function flagsOf(name: string): Flag[] {
  return FLAGS.filter((f) => f.for?.includes(name));
}

// usageLine is one command with its own flags, as its --help shows it;
// brief leaves the flags out, for the overview in `lap --help`.
function usageLine(c: CommandSpec, brief = false): string {
  const flags = brief ? [] : flagsOf(c.name).filter((f) => !f.detail);
  const words = ["lap", c.name === "open" ? "" : c.name, c.args, ...flags.map((f) => `[${flagUsage(f).replace(/<([^>]+)>/, "$1")}]`)];
  return words.filter(Boolean).join(" ");
}

function columns(rows: [string, string][], indent = "  "): string {
  const width = Math.max(...rows.map(([a]) => a.length)) + 2;
  return rows.map(([a, b]) => `${indent}${a.padEnd(width)}${b}`.trimEnd()).join("\n") + "\n";
}

// helpText is `lap --help` for "lap", else one command's help.
export function helpText(topic: string): string {
  const shown = COMMANDS.filter((c) => !c.hidden);
  if (topic === "lap") {
    return `lap — attach your terminal to a sandbox of a LiteLLM Agent Platform

usage:
${columns(shown.filter((c) => c.name !== "help").map((c) => [usageLine(c, true), c.summary]))}
flags:
${columns(FLAGS.map((f) => [`${f.short ? `-${f.short}, ` : ""}${flagUsage(f)}`, f.help]))}
'lap' alone, on a terminal: log in if needed, then pick an agent with the arrow keys.
Ctrl-D detaches; the session keeps running and 'lap <agent>' comes back to it.
An agent without a terminal gets a line-by-line chat instead (Ctrl-D ends it).

environment:
${columns(settingsModule().VARIABLES.map((v) => [v.name, v.help]))}`;
  }
  const c = byName.get(topic)!;
  const own = flagsOf(c.name);
  const global = FLAGS.filter((f) => !f.for && f.name !== "version");
  return `usage: ${usageLine(c)}

${c.help}
flags:
${columns([...own, ...global].map((f) => [`${f.short ? `-${f.short}, ` : ""}${flagUsage(f)}`, f.help]))}`;
}

// completionSpec is what the completion scripts complete, from the table.
export function completionSpec(): import("./completion.js").CompletionSpec {
  const asFlags = (fs: Flag[]) => fs.map((f) => ({ name: `--${f.name}`, value: !!f.value, file: !!f.file }));
  const global = asFlags(FLAGS.filter((f) => !f.for && f.name !== "version"));
  const commands = COMMANDS.filter((c) => !c.hidden && c.name !== "open");
  // --resume stands for 'attach' (parseCommand): it is given instead of a
  // command word, like the flags of 'lap <agent>', and not after 'attach'.
  const resume = FLAGS.filter((f) => f.name === "resume");
  return {
    commands: Object.fromEntries(commands.map((c) => [c.name, asFlags(flagsOf(c.name).filter((f) => !resume.includes(f)))])),
    open: asFlags([...flagsOf("open"), ...resume]),
    global,
    args: Object.fromEntries(commands.map((c) => [c.name, c.completes])),
    shells: SHELLS,
  };
}

// The part of IO that main fills in itself: the settings (read from env
// once the command line is parsed) and the version.
export type ProcessIO = Omit<IO, "settings" | "fetch" | "dial"> & Partial<Pick<IO, "fetch" | "dial">>;

// main runs the command line and returns the exit status. Errors meant for
// the user are printed as one "✗" line and a hint; anything else as an
// internal error, with its stack only under LAP_DEBUG.
export async function main(argv: string[], base: ProcessIO): Promise<number> {
  let debug = !!base.env.LAP_DEBUG;
  try {
    const cmd = parseCommand(argv);
    // Help and the version need nothing but stdout: no settings, no streams
    // made that they do not use.
    if (cmd.cmd === "help" || cmd.cmd === "version") return await specOf(cmd).run(cmd, base as IO);
    const env = cmd.profile ? { ...base.env, LAP_PROFILE: cmd.profile } : base.env;
    // Completion works whatever the environment holds; every other command
    // refuses a bad setting before it does anything.
    const lenient = cmd.cmd === "completion" || cmd.cmd === "complete";
    const settings = lenient ? tryReadSettings(env, base.home) : settingsModule().readSettings(env, base.home);
    debug = settings.debug;
    const extra = { env, settings, fetch: base.fetch ?? httpFetch(settings), dial: base.dial ?? dialer(settings), preload: base.preload ?? preload };
    // Copied as descriptors, not spread: the process's streams are getters
    // that make each stream on first use, and a spread would make them all.
    const io = Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(base), ...Object.getOwnPropertyDescriptors(extra) }) as IO;
    return await specOf(cmd).run(cmd, io);
  } catch (err) {
    return report(err, base, debug);
  }
}

// tryReadSettings reads what it can: a bad variable does not stop `lap --help`.
function tryReadSettings(env: IO["env"], home: string): Settings {
  const { readSettings } = settingsModule();
  try {
    return readSettings(env, home);
  } catch {
    return readSettings({ HOME: home }, home);
  }
}

// report prints an error and returns its exit status.
export function report(err: unknown, io: Pick<IO, "stderr">, debug: boolean): number {
  if (err instanceof LapError) {
    io.stderr.write(cleanText(`✗ ${err.message}\n${err.hint ? `  ${err.hint}\n` : ""}`));
    return err.code;
  }
  io.stderr.write(`✗ internal error: ${describe(err)}\n`);
  if (debug) io.stderr.write(`${cleanText((err as Error)?.stack ?? "")}\n`);
  else io.stderr.write("  set LAP_DEBUG=1 to see where, and please report it\n");
  return EXIT_FAILURE;
}

// httpFetch is lap's fetch: node:http, through the proxy when one is set
// (the proxy code is loaded only then).
function httpFetch(settings: Settings): IO["fetch"] {
  const proxied = !!(settings.proxy.https || settings.proxy.http);
  return (async (input: string, init?: FetchInit) => {
    if (proxied) return (await import("./proxy.js")).proxyFetch(settings.proxy)(input, init);
    return (await import("./nodefetch.js")).nodeFetch(input, init);
  }) as IO["fetch"];
}

// preload loads a part of attaching on the next turn of the event loop,
// which is after the requests just made were written.
function preload(part: Preloaded): void {
  setImmediate(() => require(part === "bridge" ? "./tty.js" : "./ws.js"));
}

// dialer opens terminal WebSockets, through the proxy when one is set; the
// ws module is loaded only when a command attaches.
function dialer(settings: Settings): IO["dial"] {
  const proxied = !!(settings.proxy.https || settings.proxy.http);
  return async (url, opts) => {
    const { dial } = await import("./ws.js");
    if (!proxied) return dial(url, opts);
    return dial(url, { ...opts, createConnection: (await import("./proxy.js")).wsConnection(url, settings.proxy) });
  };
}
