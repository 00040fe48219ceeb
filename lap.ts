#!/usr/bin/env node
// lap: attach your terminal to a sandbox of a LiteLLM Agent Platform.
// This file parses arguments, dispatches, and is the only one that touches
// the process: its streams, environment, signals and exit status.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { EXIT_FAILURE, LapError, describe, usageError } from "./internal/errors.js";
import type { IO } from "./internal/io.js";
import type { Fetch } from "./internal/nodefetch.js";
import { checkProfileName, parseDuration } from "./internal/config.js";
import { colourWanted, paintMarks, paintedStream } from "./internal/colour.js";
import { parseDetachKeys } from "./internal/keys.js";
import type { Terminal } from "./internal/tty.js";

// profile: from --profile; lap runs the command with LAP_PROFILE set to it.
export type Command = Words & { profile?: string };

type Words =
  | { cmd: "help"; topic: string }
  | { cmd: "version" }
  | { cmd: "sessions"; agent?: string; json?: true }
  | { cmd: "stop"; session: string; yes?: true }
  | { cmd: "doctor"; target?: string; idleMs: number; timeoutMs: number }
  | { cmd: "completion"; shell: string }
  | { cmd: "complete"; what: string }
  | { cmd: "login"; url?: string }
  | { cmd: "logout" }
  | { cmd: "config"; json?: true }
  | { cmd: "agents"; json?: true }
  | ({ cmd: "open"; agent: string; new: boolean; timeoutMs: number } & SessionFlags)
  | ({ cmd: "attach"; session: string; timeoutMs: number } & SessionFlags);

// The flags of a terminal session, present only when given.
type SessionFlags = { detachKeys?: string; record?: string; recordInput?: true };

const COMMANDS = ["login", "logout", "config", "agents", "sessions", "stop", "attach", "doctor", "completion", "help"];
// Called by the completion scripts, not by people: not in the help.
const HIDDEN_COMMANDS = ["__complete"];
const SHELLS = ["bash", "zsh", "fish"];
// Just over the 60 s of idleness many load balancers allow.
const DEFAULT_IDLE_MS = 65_000;

// Cold starts take up to 8 minutes; wait a little longer by default.
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

const HELP: Record<string, string> = {
  lap: `lap — attach your terminal to a sandbox of a LiteLLM Agent Platform

usage:
  lap <agent> [--new] [--timeout D]   open the agent's sandbox terminal (reuses a live session)
  lap attach <session-id | URL>       attach to a known session (alias: lap --resume <id>)
  lap agents [--json]                 list agents
  lap sessions [agent] [--json]       list sessions, newest first
  lap stop <session-id> [--yes]       stop a session (asks first on a terminal)
  lap login [--url URL]               save the platform URL and master key
  lap logout                          forget them
  lap config [--json]                 show the platform in use, key masked
  lap doctor [agent | session-id]     check the path to the sandbox step by step
  lap completion bash|zsh|fish        print a shell completion script

flags:
  --agent <name>    the agent, when its name is also a command
  --new             start a new session even when one is live
  --timeout <D>     how long to wait for the sandbox (e.g. 90s, 10m; default 10m)
  --profile <name>  use the platform saved as that profile (lap login --profile <name>)
  --detach-keys <K> keys that detach, docker's syntax: ctrl-p,ctrl-q  ctrl-]  none (default ctrl-d)
  --record <file>   record the session as an asciicast v2 file (asciinema play <file>)
  --record-input    with --record, record what you type too
  -h, --help        help (also: lap <command> --help)
  -v, --version     version

Ctrl-D detaches; the session keeps running and 'lap <agent>' comes back to it.
An agent without a terminal gets a line-by-line chat instead (Ctrl-D ends it).

environment:
  LAP_CONFIG        config file (default ~/.lap/config.json)
  LAP_PROFILE       the profile to use, like --profile
  LAP_BASE_URL, LAP_MASTER_KEY  the platform and its key, with no config file needed (CI)
  LAP_TTY_TOKEN     bearer token for the terminal WebSocket (default: the session's tty_token)
  LAP_TTY_FALLBACK  WebSocket URL to use when the sandbox is only reachable in-cluster
  LAP_RECONNECT_TIMEOUT  how long to retry a lost link (default 2m)
  LAP_KEEPALIVE     how often to ping an idle terminal connection (default 20s)
  LAP_HTTP_TIMEOUT  how long one API call may take (default 30s)
  LAP_TTY_TOKEN_IN_QUERY=1  also send the tty token as ?token= (for load balancers that strip headers)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY  a proxy for the API and the terminal (CONNECT tunnel)
  NODE_EXTRA_CA_CERTS  a file of extra CA certificates, for a platform with a private CA
  LAP_DEBUG=1       show stack traces of internal errors
  NO_COLOR          never colour the output (it is coloured only on a terminal)
`,
  login: `usage: lap login [--url URL] [--profile NAME]

Asks for the platform URL and the master key (not echoed) and saves them to
~/.lap/config.json (or $LAP_CONFIG), mode 0600. With stdin not a terminal,
reads the URL and the key as two lines:  printf '%s\\n%s\\n' "$URL" "$KEY" | lap login
With --url only the key is read:          echo "$KEY" | lap login --url "$URL"
With --profile the login is saved under that name, beside the others.
`,
  logout: `usage: lap logout [--profile NAME]

Forgets the login (of that profile); the config file is deleted when nothing
is left in it. Succeeds when there is nothing to forget.
`,
  config: `usage: lap config [--json] [--profile NAME]

Shows the config file, the active profile, the platform URL, the master key
masked, and which LAP_* environment overrides are set. --json prints the same
as one JSON object (the key still masked).
`,
  agents: `usage: lap agents [--json]

Lists the platform's agents: name, harness, whether it has a terminal, short id.
--json prints them as a JSON array: id, name, harness_id, supports_tui,
has_active_session.
`,
  sessions: `usage: lap sessions [agent] [--json]

Lists sessions, of one agent or of all, newest first: short id, agent, status,
phase, age, last seen. --json prints a JSON array: id, agent_id, agent,
status, phase, phase_detail, failure_reason, created_at, last_seen_at.
`,
  stop: `usage: lap stop <session-id> [--yes]

Stops a session (the id, its start as 'lap sessions' shows it, or a pasted
session URL). On a terminal it asks first; --yes does not ask, and is needed
when stdin is not a terminal.
`,
  doctor: `usage: lap doctor [agent | session-id] [--idle D] [--timeout D]

Checks the path to the platform one step at a time and says which step fails
and what to do: config present and private, proxy, DNS, TCP, TLS, master key,
agents. Given an agent or a session, also the terminal WebSocket upgrade and
whether an idle connection survives --idle D (default 65s). An agent without
a live session gets one for the check, stopped afterwards. Exit status 1 when
any step failed.
`,
  completion: `usage: lap completion bash|zsh|fish

Prints a completion script: commands, flags, agent names, session ids and
profiles. Load it with:
  bash:  source <(lap completion bash)      (e.g. in ~/.bashrc)
  zsh:   source <(lap completion zsh)       (e.g. in ~/.zshrc)
  fish:  lap completion fish | source       (e.g. in ~/.config/fish/config.fish)
`,
  attach: `usage: lap attach <session-id | <base>/sessions/<id>> [--timeout D] [--detach-keys K] [--record F]

Attaches to a known session by id, or by a pasted session URL.
'lap --resume <id>' does the same. --detach-keys and --record as for 'lap <agent>'.
`,
  open: `usage: lap <agent> [--new] [--timeout D] [--detach-keys K] [--record F [--record-input]]

Opens the agent's sandbox terminal: reattaches to its live session, or starts
one (--new always starts one), waits until it is ready, and bridges your
terminal to it. Ctrl-D detaches and leaves the session running.
'lap --agent <name>' names an agent whose name is also a command.

  --detach-keys K   other keys to detach, in docker's syntax: a comma-separated
                    sequence of ctrl-<a-z @ [ \\ ] ^ _> or single characters
                    (ctrl-p,ctrl-q; ctrl-]), or none; also "detachKeys" in the
                    config file. With other keys, Ctrl-D goes to the program.
  --record F        write the session to F as an asciicast v2 file (mode 0600);
                    --record-input also records what you type.

An agent without a terminal (lap agents: TERMINAL no) gets a chat: each line
is sent as a message and the answer's text printed. Ctrl-C stops waiting for
an answer, Ctrl-D ends the chat; piped, each line is sent in turn.
`,
};

// parseCommand turns argv (without node and the script) into a Command.
// Flags may stand before or after the positional arguments.
export function parseCommand(argv: string[]): Command {
  const seen: { profile?: string } = {};
  const cmd = parseWords(argv, seen);
  if (seen.profile === undefined || cmd.cmd === "help" || cmd.cmd === "version") return cmd;
  return { ...cmd, profile: checkProfileName(seen.profile) };
}

// parseWords does the work of parseCommand; --profile, which every command
// takes, is handed back in seen.
function parseWords(argv: string[], seen: { profile?: string }): Words {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        agent: { type: "string" },
        resume: { type: "string" },
        new: { type: "boolean" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        yes: { type: "boolean" },
        profile: { type: "string" },
        url: { type: "string" },
        idle: { type: "string" },
        "detach-keys": { type: "string" },
        record: { type: "string" },
        "record-input": { type: "boolean" },
      },
    });
  } catch (err) {
    throw usageError(parseArgsMessage(err));
  }
  const { values: v, positionals: pos } = parsed;
  seen.profile = v.profile;
  const first = v.agent === undefined && v.resume === undefined ? pos[0] : undefined;
  const command = first !== undefined && (COMMANDS.includes(first) || HIDDEN_COMMANDS.includes(first)) ? first : undefined;
  const rest = command ? pos.slice(1) : pos;

  if (v.version) return { cmd: "version" };
  if (command === "help") return { cmd: "help", topic: rest[0] && HELP[rest[0]] ? rest[0] : "lap" };
  if (v.help) return { cmd: "help", topic: command ?? (pos.length || v.agent ? "open" : "lap") };

  const timeoutMs = v.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(v.timeout, "--timeout");
  const onlyFor = (flag: string, allowed: boolean) => {
    if (!allowed) throw usageError(`--${flag} does not apply to 'lap ${command}'`);
  };
  if (command) {
    onlyFor("new", !v.new);
    onlyFor("timeout", v.timeout === undefined || command === "attach" || command === "doctor");
  }
  // The flags of single commands, refused elsewhere (also after an agent name).
  const owner = command ?? (v.resume !== undefined ? "attach" : "<agent>");
  const ownFlag = (flag: string, given: boolean, commands: string[]) => {
    if (given && !commands.includes(owner)) throw usageError(`--${flag} does not apply to 'lap ${owner}'`);
  };
  ownFlag("json", !!v.json, ["agents", "sessions", "config"]);
  ownFlag("yes", !!v.yes, ["stop"]);
  ownFlag("url", v.url !== undefined, ["login"]);
  ownFlag("idle", v.idle !== undefined, ["doctor"]);
  ownFlag("detach-keys", v["detach-keys"] !== undefined, ["attach", "<agent>"]);
  ownFlag("record", v.record !== undefined, ["attach", "<agent>"]);
  ownFlag("record-input", !!v["record-input"], ["attach", "<agent>"]);
  if (v["detach-keys"] !== undefined) parseDetachKeys(v["detach-keys"]);
  if (v.record === "") throw usageError("--record needs a file name", "e.g. --record session.cast");
  if (v["record-input"] && v.record === undefined) throw usageError("--record-input needs --record <file.cast>");
  const session: SessionFlags = {
    ...(v["detach-keys"] !== undefined && { detachKeys: v["detach-keys"] }),
    ...(v.record !== undefined && { record: v.record }),
    ...(v["record-input"] && { recordInput: true as const }),
  };

  if (v.resume !== undefined || command === "attach") {
    const id = v.resume ?? rest[0];
    const extra = v.resume !== undefined ? pos : rest.slice(1);
    if (!id) throw usageError("attach needs a session id", "usage: lap attach <session-id | URL>");
    if (extra.length) throw usageError(`unexpected argument '${extra[0]}'`);
    if (v.new || v.agent !== undefined) throw usageError("--resume attaches to a known session; it does not take --new or --agent");
    return { cmd: "attach", session: id, timeoutMs, ...session };
  }
  if (command) return parseOwnCommand(command, rest, v, timeoutMs);
  const agent = v.agent ?? pos[0];
  const extra = v.agent !== undefined ? pos : pos.slice(1);
  if (agent === undefined) return { cmd: "help", topic: "lap" };
  if (agent === "") throw usageError("the agent name is empty");
  if (extra.length) throw usageError(`unexpected argument '${extra[0]}'`, "usage: lap <agent> [--new] [--timeout D]");
  return { cmd: "open", agent, new: !!v.new, timeoutMs, ...session };
}

interface OwnFlags {
  json?: boolean;
  yes?: boolean;
  url?: string;
  idle?: string;
}

// parseOwnCommand reads the arguments of the commands that are not an agent
// or attach; each takes at most the positionals its usage shows.
function parseOwnCommand(command: string, rest: string[], v: OwnFlags, timeoutMs: number): Words {
  const atMost = (n: number) => {
    if (rest.length > n) throw usageError(`unexpected argument '${rest[n]}' for 'lap ${command}'`);
  };
  const json = v.json ? { json: true as const } : {};
  switch (command) {
    case "sessions":
      atMost(1);
      return { cmd: "sessions", ...(rest[0] !== undefined ? { agent: rest[0] } : {}), ...json };
    case "stop":
      if (!rest[0]) throw usageError("stop needs a session id", "usage: lap stop <session-id> [--yes]");
      atMost(1);
      return { cmd: "stop", session: rest[0], ...(v.yes ? { yes: true as const } : {}) };
    case "doctor":
      atMost(1);
      return {
        cmd: "doctor",
        ...(rest[0] !== undefined ? { target: rest[0] } : {}),
        idleMs: v.idle === undefined ? DEFAULT_IDLE_MS : parseDuration(v.idle, "--idle"),
        timeoutMs,
      };
    case "completion":
      if (!rest[0] || !SHELLS.includes(rest[0])) {
        throw usageError(rest[0] ? `no completion for '${rest[0]}'` : "completion needs a shell", "usage: lap completion bash|zsh|fish");
      }
      atMost(1);
      return { cmd: "completion", shell: rest[0] };
    case "__complete":
      atMost(1);
      return { cmd: "complete", what: rest[0] ?? "" };
    case "login":
      atMost(0);
      return { cmd: "login", ...(v.url !== undefined ? { url: v.url } : {}) };
    case "config":
    case "agents":
      atMost(0);
      return { cmd: command, ...json };
  }
  atMost(0);
  return { cmd: command as "logout" };
}

function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const flag = /'(-[^' ]+)/.exec(e.message ?? "")?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown flag '${flag ?? "?"}'`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `flag '${flag ?? "?"}' needs a value`;
  return (e.message ?? String(err)).split("\n")[0];
}

async function run(cmd: Command, io: IO): Promise<number> {
  if (cmd.profile) io = { ...io, env: { ...io.env, LAP_PROFILE: cmd.profile } };
  switch (cmd.cmd) {
    case "help":
      io.stdout.write(HELP[cmd.topic]);
      return 0;
    case "version":
      io.stdout.write(`lap ${version()}\n`);
      return 0;
    case "login":
      await (await import("./internal/auth.js")).login(io, cmd);
      return 0;
    case "logout":
      (await import("./internal/auth.js")).logout(io);
      return 0;
    case "config":
      (await import("./internal/auth.js")).showConfig(io, cmd);
      return 0;
    case "agents":
      await (await import("./internal/agents.js")).listAgents(io, cmd);
      return 0;
    case "sessions":
      await (await import("./internal/sessions.js")).listSessions(io, cmd);
      return 0;
    case "stop":
      return (await import("./internal/sessions.js")).stopSession(io, cmd);
    case "doctor":
      return (await import("./internal/doctor.js")).doctor(io, cmd);
    case "completion": {
      const { completionScript, flagsFromHelp } = await import("./internal/completion.js");
      const commands = Object.fromEntries(COMMANDS.map((c) => [c, flagsFromHelp(HELP[c] ?? "")]));
      const global = [{ name: "--help", value: false }, { name: "--profile", value: true }];
      io.stdout.write(completionScript(cmd.shell, { commands, open: flagsFromHelp(HELP.open), global }));
      return 0;
    }
    case "complete":
      await (await import("./internal/completion.js")).completeWords(io, cmd.what);
      return 0;
    case "open":
      return (await import("./internal/attach.js")).openAgent(io, cmd);
    case "attach":
      return (await import("./internal/attach.js")).attachSession(io, cmd);
  }
}

// version reads what `make build` stamped next to this file.
function version(): string {
  try {
    const v = JSON.parse(fs.readFileSync(path.join(__dirname, "version.json"), "utf8")) as { version: string; commit: string };
    return `${v.version} (${v.commit})`;
  } catch {
    return "unknown (not built with make)";
  }
}

const TERMINATING_SIGNALS = ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT"] as const;
// Told about a crash like about a signal, so an attached bridge switches off
// the modes the remote program left on before lap exits.
const crashListeners = new Set<(signal: string) => void>();

function processTerminal(): Terminal {
  const stdin = process.stdin;
  const sized = [process.stdout, process.stderr].find((s) => s.isTTY);
  return {
    input: stdin,
    output: process.stdout,
    isTTY: !!stdin.isTTY,
    outputIsTTY: !!process.stdout.isTTY,
    size: () => (sized ? { cols: sized.columns, rows: sized.rows } : null),
    setRawMode: (on) => {
      if (stdin.isTTY) stdin.setRawMode(on);
    },
    onResize: (cb) => {
      process.on("SIGWINCH", cb);
      return () => process.off("SIGWINCH", cb);
    },
    onSignal: (cb) => {
      for (const s of TERMINATING_SIGNALS) process.on(s, cb);
      crashListeners.add(cb);
      return () => {
        crashListeners.delete(cb);
        for (const s of TERMINATING_SIGNALS) process.off(s, cb);
      };
    },
    status: (line) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
      else if (line) process.stderr.write(line + "\n");
    },
  };
}

function processIO(): IO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: colourWanted(!!process.stderr.isTTY, process.env) ? paintedStream(process.stderr) : process.stderr,
    stdinIsTTY: !!process.stdin.isTTY,
    stdoutIsTTY: !!process.stdout.isTTY,
    stderrIsTTY: !!process.stderr.isTTY,
    env: process.env,
    home: os.homedir(),
    fetch: proxied(process.env) ? proxiedFetch : directFetch,
    dial: async (url, opts) => {
      const { dial } = await import("./internal/ws.js");
      if (!proxied(process.env)) return dial(url, opts);
      const proxy = await import("./internal/proxy.js");
      return dial(url, { ...opts, createConnection: proxy.wsConnection(url, proxy.proxySettingsFromEnv(process.env)) });
    },
    // setImmediate: after the first API request is on its way, so the
    // module loads while the platform answers.
    // A failure to load shows when dial loads it again.
    preload: () => void setImmediate(() => import("./internal/ws.js").catch(() => {})),
    terminal: processTerminal,
  };
}

// With HTTPS_PROXY / HTTP_PROXY set, API calls and the WebSocket go through
// proxy.ts (loaded only then); NO_PROXY is read there.
function proxied(env: NodeJS.ProcessEnv): boolean {
  return !!(env.https_proxy || env.HTTPS_PROXY || env.http_proxy || env.HTTP_PROXY);
}

// node:http rather than global fetch: see internal/nodefetch.ts.
const directFetch: Fetch = async (input, init) => (await import("./internal/nodefetch.js")).nodeFetch(input, init);

const proxiedFetch: Fetch = async (input, init) => {
  const proxy = await import("./internal/proxy.js");
  return proxy.proxyFetch(proxy.proxySettingsFromEnv(process.env))(input, init);
};

// Whatever happens, the terminal goes back to cooked mode before exit.
function restoreTerminal(): void {
  if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
}

function fail(err: unknown): number {
  restoreTerminal();
  if (err instanceof LapError) {
    const mark = colourWanted(!!process.stderr.isTTY, process.env) ? paintMarks("✗ ") : "✗ ";
    process.stderr.write(`${mark}${err.message}\n`);
    if (err.hint) process.stderr.write(`  ${err.hint}\n`);
    return err.code;
  }
  process.stderr.write(`✗ internal error: ${describe(err)}\n`);
  if (process.env.LAP_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ""}\n`);
  else process.stderr.write("  set LAP_DEBUG=1 to see where, and please report it\n");
  return EXIT_FAILURE;
}

async function main(): Promise<void> {
  process.on("exit", restoreTerminal);
  const crash = (err: unknown) => {
    for (const cb of crashListeners) cb("crash");
    process.exit(fail(err));
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  // A reader that went away (lap agents | head) is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
  });
  let code: number;
  try {
    code = await run(parseCommand(process.argv.slice(2)), processIO());
  } catch (err) {
    code = fail(err);
  }
  // Exit only once stdout and stderr have handed everything on: a slow pipe
  // or a full terminal must not lose output or the last message.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

// flushed resolves when everything written so far has left the stream: the
// callback of an empty write runs after every write queued before it.
function flushed(out: NodeJS.WriteStream): Promise<void> {
  if (out.writableLength === 0 || out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    out.once("error", () => resolve());
    out.write("", () => resolve());
  });
}

if (require.main === module) void main();
