// The process, as the rest of lap sees it: the IO and the Terminal built
// from its streams, its signals, the crash handler and the exit. lap.ts
// hands over to run() once it knows Node is new enough; nothing else in lap
// touches process.

import fs from "node:fs";
import { main, report, type ProcessIO } from "./cli.js";
import { LapError, describe, exitForSignal } from "./errors.js";
import type { Out } from "./io.js";
import { cleanText, colourWanted, fitWidth, painted } from "./output.js";
import type { Output, Terminal } from "./tty.js";

// Signals that end lap: with a session open the bridge ends it cleanly;
// otherwise the terminal is restored and lap exits as the signal would.
const TERMINATING_SIGNALS = ["SIGTERM", "SIGHUP", "SIGQUIT", "SIGINT", "SIGALRM", "SIGUSR2"] as const;

// Who handles a terminating signal now (a bridge or a chat); told about a
// crash too, so the modes a remote program left on are switched off first.
const signalListeners = new Set<(signal: string) => void>();
// Whether a listener was told of a signal: what stdout and stderr still
// hold at the end is then waited for only as long as the bridge waits for
// its output (TIMINGS.signalDrainMs): a reader that stopped reading must
// not keep lap from ending.
let signalled = false;

function onTerminatingSignal(signal: string): void {
  if (signalListeners.size > 0) {
    signalled = true;
    for (const cb of signalListeners) cb(signal);
    return;
  }
  restoreTerminal();
  process.exit(exitForSignal(signal));
}

// The standard streams a command has used: Node makes each on first use, and
// making one loads the stream and socket machinery (3 to 6 ms), which most
// commands do not need. Only streams that exist are restored or flushed at
// exit.
const opened = { stdin: false, stdout: false, stderr: false };
const FD = { stdin: 0, stdout: 1, stderr: 2 } as const;

// Who is told that the reader of stdout went away (a bridge): an attached
// terminal is given back and its link closed before lap ends.
const outputGoneListeners = new Set<() => void>();
// Whether a bridge ever listened: after it has ended, a broken pipe is no
// reason to exit 0 in the middle of saying how the attach ended.
let bridged = false;

function stdio<K extends keyof typeof opened>(name: K): NodeJS.Process[K] {
  if (name === "stdout" && !opened.stdout) {
    // A reader that went away (lap agents | head) is not an error; any
    // other failure (a full disk) ends lap with one line.
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw cannotWrite("stdout", err);
      if (outputGoneListeners.size > 0) for (const cb of outputGoneListeners) cb();
      else if (!bridged) process.exit(0);
    });
  }
  opened[name] = true;
  return process[name];
}

// direct is lap's own text to stdout or stderr, written at once with
// write(2) (as Node's streams do for files and terminals) until a stream
// exists for the descriptor; from then on it goes through the stream, so
// nothing overtakes what the stream still holds.
function direct(name: "stdout" | "stderr"): Out {
  return {
    write(chunk) {
      if (opened[name]) return stdio(name).write(chunk);
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      let done = 0;
      try {
        while (done < buf.length) done += fs.writeSync(FD[name], buf, done);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // A descriptor someone left non-blocking is full: the stream waits.
        if (code === "EAGAIN") return stdio(name).write(buf.subarray(done));
        if (code !== "EPIPE") throw cannotWrite(name, err);
        // A reader that went away (lap agents | head) is not an error.
        if (name === "stdout") process.exit(0);
        return false;
      }
    },
  };
}

function cannotWrite(name: string, err: unknown): LapError {
  return new LapError(`cannot write to ${name}: ${describe(err)}`);
}

// isTerminal is isatty(3). Asking node:tty costs ~5 ms (it loads the socket
// machinery), so descriptors fstat shows cannot be a terminal (files, pipes,
// sockets, /dev/null) are answered without it.
function isTerminal(name: keyof typeof opened): boolean {
  if (opened[name]) return !!process[name].isTTY;
  try {
    const st = fs.fstatSync(FD[name]);
    if (!st.isCharacterDevice() || st.rdev === fs.statSync("/dev/null").rdev) return false;
  } catch {
    return false;
  }
  return (require("node:tty") as typeof import("node:tty")).isatty(FD[name]);
}

// isFile tells a descriptor Node itself writes with write(2), a file or a
// device that is no terminal (/dev/null), from a pipe or a socket.
function isFile(name: keyof typeof opened): boolean {
  try {
    const st = fs.fstatSync(FD[name]);
    return (st.isFile() || st.isCharacterDevice()) && !isTerminal(name);
  } catch {
    return false;
  }
}

// fileOutput is stdout as the bridge's output when it is a file or
// /dev/null. Node's stream for it makes the same write(2), after a stream's
// work on every frame that costs a few per cent of lap's time at 1 GiB/s.
// Once a stream exists for stdout (direct), everything goes through it.
function fileOutput(): Output {
  const out = direct("stdout");
  const stream = () => (opened.stdout ? process.stdout : null);
  return {
    // A write with a callback is drained's, made only while the stream
    // holds something: it goes through the stream, behind that.
    write: (data, cb) => (cb ? stdio("stdout").write(data, cb) : out.write(data)),
    once: (event, cb) => stdio("stdout").once(event, cb),
    get writableLength() {
      return stream()?.writableLength ?? 0;
    },
    get writableEnded() {
      return stream()?.writableEnded ?? false;
    },
    get destroyed() {
      return stream()?.destroyed ?? false;
    },
  };
}

// processTerminal is built only when a command attaches: the bridge module
// it needs is not loaded by other commands.
function processTerminal(): Terminal {
  const { windowSize } = require("./tty.js") as typeof import("./tty.js");
  const stdin = stdio("stdin");
  const outputIsTTY = isTerminal("stdout");
  return {
    input: stdin,
    output: isFile("stdout") ? fileOutput() : stdio("stdout"),
    isTTY: !!stdin.isTTY,
    outputIsTTY,
    size: () => windowSize(outputIsTTY ? [stdio("stdout"), stdio("stderr")] : [stdio("stderr")]),
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
    onOutputGone: (cb) => {
      bridged = true;
      outputGoneListeners.add(cb);
      return () => outputGoneListeners.delete(cb);
    },
    // As ssh does: give the terminal back before stopping, take it again
    // (raw mode, the size) when continued.
    onSuspend: (h) => {
      const stop = () => {
        h.suspend();
        process.kill(process.pid, "SIGSTOP");
      };
      const cont = () => h.resume();
      process.on("SIGTSTP", stop);
      process.on("SIGCONT", cont);
      return () => {
        process.off("SIGTSTP", stop);
        process.off("SIGCONT", cont);
      };
    },
    // One line, rewritten in place on a terminal and cut to its width, so a
    // status that changes (reconnect attempts) never wraps over the screen.
    status: (line) => {
      const text = cleanText(line);
      const stderr = stdio("stderr");
      if (stderr.isTTY) stderr.write(`\r\x1b[K${fitWidth(text, stderr.columns)}`);
      else if (text) stderr.write(text + "\n");
    },
  };
}

// processIO is the process as an IO: stdin made when a command first uses
// it, stdout and stderr written directly.
function processIO(): ProcessIO {
  let stderr: Out | undefined;
  const stdout = direct("stdout");
  return {
    get stdin() {
      return stdio("stdin");
    },
    stdout,
    get stderr() {
      return (stderr ??= colourWanted(isTerminal("stderr"), process.env) ? painted(direct("stderr")) : direct("stderr"));
    },
    get stdinIsTTY() {
      return isTerminal("stdin");
    },
    get stdoutIsTTY() {
      return isTerminal("stdout");
    },
    get stderrIsTTY() {
      return isTerminal("stderr");
    },
    env: process.env,
    // os.homedir() answers HOME when it is set; node:os (~0.5 ms to load)
    // is needed only when it is not.
    get home() {
      return process.env.HOME || (require("node:os") as typeof import("node:os")).homedir();
    },
    terminal: processTerminal,
  };
}

// Whatever happens, the terminal goes back to cooked mode before exit; a
// terminal already gone cannot be restored, and that is no reason to throw.
function restoreTerminal(): void {
  try {
    if (opened.stdin && process.stdin.isTTY && process.stdin.isRaw) process.stdin.setRawMode(false);
  } catch {
    // nothing left to restore
  }
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
    for (const cb of signalListeners) {
      try {
        cb("crash");
      } catch {
        // the terminal is restored already; the error below is what matters
      }
    }
    process.exit(report(err, { stderr: process.stderr }, !!process.env.LAP_DEBUG));
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  const io = processIO();
  const code = await main(process.argv.slice(2), io);
  restoreTerminal();
  const flushing = Promise.all([opened.stdout && flushed(process.stdout), opened.stderr && flushed(process.stderr)]);
  if (!signalled) await flushing;
  else {
    const { TIMINGS, within } = require("./tty.js") as typeof import("./tty.js");
    await within(flushing, TIMINGS.signalDrainMs);
  }
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
