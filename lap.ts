#!/usr/bin/env node
// lap: attach your terminal to a sandbox of a LiteLLM Agent Platform.
// This file parses arguments, dispatches, and is the only one that touches
// the process: its streams, environment, signals and exit status.

import * as fs from "node:fs";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { EXIT_FAILURE, LapError, describe, usageError } from "./internal/errors.js";
import type { IO } from "./internal/io.js";
import type { Terminal } from "./internal/tty.js";

export type Command =
  | { cmd: "help"; topic: string }
  | { cmd: "version" }
  | { cmd: "login" }
  | { cmd: "logout" }
  | { cmd: "config" }
  | { cmd: "agents" }
  | { cmd: "open"; agent: string; new: boolean; timeoutMs: number }
  | { cmd: "attach"; session: string; timeoutMs: number };

const COMMANDS = ["login", "logout", "config", "agents", "attach", "help"];

// Cold starts take up to 8 minutes; wait a little longer by default.
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

const HELP: Record<string, string> = {
  lap: `lap — attach your terminal to a sandbox of a LiteLLM Agent Platform

usage:
  lap <agent> [--new] [--timeout D]   open the agent's sandbox terminal (reuses a live session)
  lap attach <session-id | URL>       attach to a known session (alias: lap --resume <id>)
  lap agents                          list agents
  lap login                           save the platform URL and master key
  lap logout                          forget them
  lap config                          show the platform in use, key masked

flags:
  --agent <name>    the agent, when its name is also a command
  --new             start a new session even when one is live
  --timeout <D>     how long to wait for the sandbox (e.g. 90s, 10m; default 10m)
  -h, --help        help (also: lap <command> --help)
  -v, --version     version

Ctrl-D detaches; the session keeps running and 'lap <agent>' comes back to it.

environment:
  LAP_CONFIG        config file (default ~/.lap/config.json)
  LAP_TTY_TOKEN     bearer token for the terminal WebSocket (default: the session's tty_token)
  LAP_TTY_FALLBACK  WebSocket URL to use when the sandbox is only reachable in-cluster
  LAP_DEBUG=1       show stack traces of internal errors
`,
  login: `usage: lap login

Asks for the platform URL and the master key (not echoed) and saves them to
~/.lap/config.json (or $LAP_CONFIG), mode 0600. With stdin not a terminal,
reads the URL and the key as two lines:  printf '%s\\n%s\\n' "$URL" "$KEY" | lap login
`,
  logout: `usage: lap logout

Deletes the saved config file. Succeeds when there is none.
`,
  config: `usage: lap config

Shows the config file, the platform URL, the master key masked, and which
LAP_* environment overrides are set.
`,
  agents: `usage: lap agents

Lists the platform's agents: name, harness, whether it has a terminal, short id.
`,
  attach: `usage: lap attach <session-id | <base>/sessions/<id>> [--timeout D]

Attaches to a known session by id, or by a pasted session URL.
'lap --resume <id>' does the same.
`,
  open: `usage: lap <agent> [--new] [--timeout D]

Opens the agent's sandbox terminal: reattaches to its live session, or starts
one (--new always starts one), waits until it is ready, and bridges your
terminal to it. Ctrl-D detaches and leaves the session running.
`,
};

// parseCommand turns argv (without node and the script) into a Command.
// Flags may stand before or after the positional arguments.
export function parseCommand(argv: string[]): Command {
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
      },
    });
  } catch (err) {
    throw usageError(parseArgsMessage(err));
  }
  const { values: v, positionals: pos } = parsed;
  const first = v.agent === undefined && v.resume === undefined ? pos[0] : undefined;
  const command = first !== undefined && COMMANDS.includes(first) ? first : undefined;
  const rest = command ? pos.slice(1) : pos;

  if (v.version) return { cmd: "version" };
  if (command === "help") return { cmd: "help", topic: rest[0] && HELP[rest[0]] ? rest[0] : "lap" };
  if (v.help) return { cmd: "help", topic: command ?? (pos.length || v.agent ? "open" : "lap") };

  const timeoutMs = v.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(v.timeout);
  const onlyFor = (flag: string, allowed: boolean) => {
    if (!allowed) throw usageError(`--${flag} does not apply to 'lap ${command}'`);
  };
  if (command) {
    onlyFor("new", !v.new);
    onlyFor("timeout", v.timeout === undefined || command === "attach");
  }

  if (v.resume !== undefined || command === "attach") {
    const session = v.resume ?? rest[0];
    const extra = v.resume !== undefined ? pos : rest.slice(1);
    if (!session) throw usageError("attach needs a session id", "usage: lap attach <session-id | URL>");
    if (extra.length) throw usageError(`unexpected argument '${extra[0]}'`);
    if (v.new || v.agent !== undefined) throw usageError("--resume attaches to a known session; it does not take --new or --agent");
    return { cmd: "attach", session, timeoutMs };
  }
  if (command) {
    if (rest.length) throw usageError(`unexpected argument '${rest[0]}' for 'lap ${command}'`);
    return { cmd: command as "login" | "logout" | "config" | "agents" };
  }
  const agent = v.agent ?? pos[0];
  const extra = v.agent !== undefined ? pos : pos.slice(1);
  if (agent === undefined) return { cmd: "help", topic: "lap" };
  if (agent === "") throw usageError("the agent name is empty");
  if (extra.length) throw usageError(`unexpected argument '${extra[0]}'`, "usage: lap <agent> [--new] [--timeout D]");
  return { cmd: "open", agent, new: !!v.new, timeoutMs };
}

// parseDuration reads "90", "90s", "10m" or "1h" (a bare number is seconds).
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m?.[2] ?? "s") as "ms" | "s" | "m" | "h"];
  const ms = m ? Number(m[1]) * unit : NaN;
  if (!(ms > 0)) throw usageError(`--timeout '${text}' is not a duration`, "use seconds or a unit: 90s, 10m, 1h");
  return ms;
}

function parseArgsMessage(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const flag = /'(-[^' ]+)/.exec(e.message ?? "")?.[1];
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown flag '${flag ?? "?"}'`;
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return `flag '${flag ?? "?"}' needs a value`;
  return (e.message ?? String(err)).split("\n")[0];
}

async function run(cmd: Command, io: IO): Promise<number> {
  switch (cmd.cmd) {
    case "help":
      io.stdout.write(HELP[cmd.topic]);
      return 0;
    case "version":
      io.stdout.write(`lap ${version()}\n`);
      return 0;
    case "login":
      await (await import("./internal/auth.js")).login(io);
      return 0;
    case "logout":
      (await import("./internal/auth.js")).logout(io);
      return 0;
    case "config":
      (await import("./internal/auth.js")).showConfig(io);
      return 0;
    case "agents":
      await (await import("./internal/agents.js")).listAgents(io);
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
    const v = JSON.parse(fs.readFileSync(new URL("./version.json", import.meta.url), "utf8")) as { version: string; commit: string };
    return `${v.version} (${v.commit})`;
  } catch {
    return "unknown (not built with make)";
  }
}

const TERMINATING_SIGNALS = ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT"] as const;

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
      return () => {
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
    stderr: process.stderr,
    stdinIsTTY: !!process.stdin.isTTY,
    stdoutIsTTY: !!process.stdout.isTTY,
    env: process.env,
    home: os.homedir(),
    fetch: globalThis.fetch,
    dial: async (url, opts) => (await import("./internal/ws.js")).dial(url, opts),
    terminal: processTerminal,
  };
}

// Whatever happens, the terminal goes back to cooked mode before exit.
function restoreTerminal(): void {
  if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
}

function fail(err: unknown): number {
  restoreTerminal();
  if (err instanceof LapError) {
    process.stderr.write(`✗ ${err.message}\n`);
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
  process.on("uncaughtException", (err) => process.exit(fail(err)));
  process.on("unhandledRejection", (err) => process.exit(fail(err)));
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
  // Exit only once stdout has handed everything on: a slow pipe must not lose output.
  if (process.stdout.writableLength > 0) await new Promise((r) => process.stdout.once("drain", r));
  process.exit(code);
}

function isEntry(): boolean {
  try {
    return fs.realpathSync(process.argv[1] ?? "") === fs.realpathSync(new URL(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) void main();
