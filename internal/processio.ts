// The process, as the rest of lap sees it: the IO and the Terminal built
// from its streams, its signals, the crash handler and the exit. lap.ts
// hands over to run() once it knows Node is new enough; nothing else in lap
// touches process.

import * as os from "node:os";
import { main, report, type ProcessIO } from "./cli.js";
import { colourWanted, paintedStream } from "./output.js";
import type { Terminal } from "./tty.js";

// Signals that end lap: with a session open the bridge ends it cleanly;
// otherwise the terminal is restored and lap exits as the signal would.
const TERMINATING_SIGNALS = ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT", "SIGALRM", "SIGUSR2"] as const;
// The exit status for a signal, as shells report it: 128 + its number.
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGALRM: 14, SIGTERM: 15, SIGUSR2: 12 };

// Who handles a terminating signal now (a bridge or a chat); told about a
// crash too, so the modes a remote program left on are switched off first.
const signalListeners = new Set<(signal: string) => void>();

function onTerminatingSignal(signal: string): void {
  if (signalListeners.size > 0) {
    for (const cb of signalListeners) cb(signal);
    return;
  }
  restoreTerminal();
  process.exit(128 + (SIGNAL_NUMBERS[signal] ?? 1));
}

// The terminal's size from whichever of stdout, stderr or stdin is one, as
// ssh reads it: `lap agent 2>log | cat` still has a size.
function windowSize(): { cols: number; rows: number } | null {
  for (const s of [process.stdout, process.stderr]) if (s.isTTY && s.columns > 0) return { cols: s.columns, rows: s.rows };
  if (process.stdin.isTTY) {
    const tty = process.stdin as unknown as { getWindowSize?: () => [number, number] };
    const [cols, rows] = tty.getWindowSize?.() ?? [0, 0];
    if (cols > 0 && rows > 0) return { cols, rows };
  }
  return null;
}

function processTerminal(): Terminal {
  const stdin = process.stdin;
  return {
    input: stdin,
    output: process.stdout,
    isTTY: !!stdin.isTTY,
    outputIsTTY: !!process.stdout.isTTY,
    size: windowSize,
    setRawMode: (on) => {
      if (stdin.isTTY) stdin.setRawMode(on);
    },
    onResize: (cb) => {
      process.on("SIGWINCH", cb);
      return () => process.off("SIGWINCH", cb);
    },
    onSignal: (cb) => {
      signalListeners.add(cb);
      return () => signalListeners.delete(cb);
    },
    status: (line) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
      else if (line) process.stderr.write(line + "\n");
    },
  };
}

function processIO(): ProcessIO {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: colourWanted(!!process.stderr.isTTY, process.env) ? paintedStream(process.stderr) : process.stderr,
    stdinIsTTY: !!process.stdin.isTTY,
    stdoutIsTTY: !!process.stdout.isTTY,
    stderrIsTTY: !!process.stderr.isTTY,
    env: process.env,
    home: os.homedir(),
    terminal: processTerminal,
  };
}

// Whatever happens, the terminal goes back to cooked mode before exit.
function restoreTerminal(): void {
  if (process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
}

// run is lap: it runs the command line and exits with its status, once
// stdout and stderr have handed everything on.
export async function run(): Promise<void> {
  process.on("exit", restoreTerminal);
  for (const s of TERMINATING_SIGNALS) process.on(s, () => onTerminatingSignal(s));
  // SIGUSR1 would open Node's debugger inside a session: a listener keeps it shut.
  process.on("SIGUSR1", () => {});
  let crashed = false;
  const crash = (err: unknown) => {
    // A second failure inside the crash path must not leave the terminal raw.
    if (crashed) return;
    crashed = true;
    restoreTerminal();
    for (const cb of signalListeners) cb("crash");
    process.exit(report(err, { stderr: process.stderr }, !!process.env.LAP_DEBUG));
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  // A reader that went away (lap agents | head) is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
  });
  const code = await main(process.argv.slice(2), processIO());
  restoreTerminal();
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
