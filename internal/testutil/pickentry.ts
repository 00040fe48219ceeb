// A test-only entry point for the picker and the session commands, until
// they are in lap's command table: builds an IO from this process, as lap.ts
// does (without proxies), and runs one of them. Not installed.
//
//   node --import tsx internal/testutil/pickentry.ts first-run | attach | logs TARGET [-f] | restart ID [--yes]

import * as os from "node:os";
import { LapError, describe } from "../errors.js";
import type { IO } from "../io.js";
import { logs, restart } from "../lifecycle.js";
import { nodeFetch } from "../nodefetch.js";
import { attachPicked, firstRun } from "../picker.js";
import type { Terminal } from "../tty.js";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

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
      for (const s of SIGNALS) process.on(s, cb);
      return () => {
        for (const s of SIGNALS) process.off(s, cb);
      };
    },
    status: (line) => process.stderr.write(`\r\x1b[K${line}`),
  };
}

function processIO(): IO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: !!process.stdin.isTTY,
    stdoutIsTTY: !!process.stdout.isTTY,
    stderrIsTTY: !!process.stderr.isTTY,
    env: process.env,
    home: os.homedir(),
    fetch: nodeFetch as typeof fetch,
    dial: async (url, opts) => (await import("../ws.js")).dial(url, opts),
    terminal: processTerminal,
  };
}

async function run(argv: string[], io: IO): Promise<number> {
  const [command, target] = argv;
  const timeoutMs = 30_000;
  switch (command) {
    case "first-run":
      return firstRun(io, { timeoutMs });
    case "attach":
      return attachPicked(io, { timeoutMs });
    case "logs":
      return logs(io, { target: target ?? "", follow: argv.includes("-f"), json: argv.includes("--json") });
    case "restart":
      return restart(io, { session: target ?? "", yes: argv.includes("--yes"), timeoutMs });
  }
  throw new LapError(`unknown command '${command}'`);
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv.slice(2), processIO());
  } catch (err) {
    if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
    process.stderr.write(err instanceof LapError ? `✗ ${err.message}\n${err.hint ? `  ${err.hint}\n` : ""}` : `✗ internal error: ${describe(err)}\n`);
    code = err instanceof LapError ? err.code : 1;
  }
  process.exitCode = code;
  process.stdin.pause();
  setImmediate(() => process.exit(code));
}

if (require.main === module) void main();
