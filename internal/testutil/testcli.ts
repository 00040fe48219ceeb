// Running lap in tests, two ways. run() and InProcessLap call main() in this
// process with a memory IO: what most tests want (parsing, messages, exit
// codes, API and terminal flows over real sockets). lap() and Lap spawn the
// compiled CLI: kept for tests whose subject is the process itself (signals,
// exit flushing, start-up, the real terminal). Both give a private home and
// config and collect the output. Not installed.

import { after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { PassThrough, Writable, type Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { main, parseCommand } from "../cli.js";
import { LapError } from "../errors.js";
import { startPlatform, type Platform, type PlatformOptions } from "../platform/platform.js";

import type { Terminal } from "../tty.js";
import { LAP } from "./repo.js";

export { LAP };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Lap is one running lap: its output so far, and ways to feed it. Its
// stdout is a pipe, or the file stdoutFile names (/dev/full, say).
export class Lap {
  readonly child: ChildProcessByStdio<Writable, Readable | null, Readable>;
  stderr = "";
  readonly exited: Promise<Run>;
  private piped = "";

  constructor(args: string[], env: Record<string, string>, private readonly stdoutFile?: string) {
    const out = stdoutFile === undefined ? "pipe" : fs.openSync(stdoutFile, "w");
    this.child = spawn(process.execPath, [LAP, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, stdio: ["pipe", out, "pipe"] }) as Lap["child"];
    if (typeof out === "number") fs.closeSync(out);
    this.child.stdout?.on("data", (d: Buffer) => (this.piped += d.toString("utf8")));
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    this.exited = once(this.child, "close").then(([code]) => ({ code: code as number, stdout: this.stdout, stderr: this.stderr }));
  }

  // What lap has written to stdout so far; nothing, for a device.
  get stdout(): string {
    if (this.stdoutFile === undefined) return this.piped;
    return fs.statSync(this.stdoutFile).isFile() ? fs.readFileSync(this.stdoutFile, "utf8") : "";
  }

  waitFor(re: RegExp, where: "stdout" | "stderr" = "stdout", ms = 15000): Promise<void> {
    return waitForText(this, re, where, ms);
  }

  type(text: string | Buffer): void {
    this.child.stdin.write(text);
  }

  // end closes lap's stdin, as a user's Ctrl-D at a shell prompt or the end
  // of a pipe does.
  end(): void {
    this.child.stdin.end();
  }
}

// InProcessLap is one lap running main() in this process, with the same
// handle as Lap: its output so far, typing, the end of stdin, the finished
// run. Its IO is what lap.js builds from a process whose stdin, stdout and
// stderr are pipes: no terminal, no colour, no window size; env is the whole
// environment and HOME is its home.
export class InProcessLap {
  stdout = "";
  stderr = "";
  readonly exited: Promise<Run>;
  private readonly input = new PassThrough();

  constructor(args: string[], env: Record<string, string>) {
    const stdout = collector((s) => (this.stdout += s));
    const stderr = collector((s) => (this.stderr += s));
    const term: Terminal = {
      input: this.input,
      output: stdout,
      isTTY: false,
      outputIsTTY: false,
      size: () => null,
      setRawMode: () => {},
      onResize: () => () => {},
      onSignal: () => () => {},
      // As lap.js shows a status line when stderr is not a terminal.
      status: (line) => {
        if (line) stderr.write(line + "\n");
      },
    };
    const io = {
      stdin: this.input,
      stdout,
      stderr,
      stdinIsTTY: false,
      stdoutIsTTY: false,
      stderrIsTTY: false,
      env: { ...env },
      home: env.HOME ?? "/nonexistent",
      terminal: () => term,
    };
    this.exited = main(args, io).then((code) => ({ code, stdout: this.stdout, stderr: this.stderr }));
  }

  waitFor(re: RegExp, where: "stdout" | "stderr" = "stdout", ms = 15000): Promise<void> {
    return waitForText(this, re, where, ms);
  }

  type(text: string | Buffer): void {
    this.input.write(text);
  }

  end(): void {
    this.input.end();
  }
}

// waitForText polls a running lap's output until re matches it.
async function waitForText(l: { stdout: string; stderr: string }, re: RegExp, where: "stdout" | "stderr", ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(l[where])) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${re} in ${where}:\n${l[where]}\n--- stderr:\n${l.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// collector is a stream that hands each write on as text at once, never
// splitting a character written in two pieces.
function collector(onText: (s: string) => void): Writable {
  const decoder = new StringDecoder("utf8");
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      onText(decoder.write(Buffer.from(chunk)));
      done();
    },
    final(done) {
      onText(decoder.end());
      done();
    },
  });
}

// run runs lap in this process to the end, with input as its whole stdin,
// and returns what lap() returns for a spawned one.
export function run(args: string[], env: Record<string, string>, input = ""): Promise<Run> {
  const l = new InProcessLap(args, env);
  l.type(input);
  l.end();
  return l.exited;
}

// lap runs lap to the end with input as its whole stdin.
export function lap(args: string[], env: Record<string, string>, input = ""): Promise<Run> {
  const l = new Lap(args, env);
  l.child.stdin.end(input);
  return l.exited;
}

// screenText is the text of a terminal byte stream in the order it was
// sent, with escape sequences and line breaks left out. A line the harness's tmux drew
// in two pieces, with cursor moves between (the program's write split where
// the PTY's buffer was full), still reads whole.
export function screenText(stream: string): string {
  return stream.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\r\n]/g, "");
}

// attachAndRun opens lap <args>, runs one shell command remotely, waits for
// its output, then detaches with Ctrl-D and returns the finished run.
// (Piped stdin that ends is not a detach: lap sends the end-of-file
// character and prints until the program closes, as ssh -tt does.)
export function attachAndRun(args: string[], env: Record<string, string>, command = 'echo "R=$((6*7))"', expect = /R=42/): Promise<Run> {
  return runCommand(new Lap(args, env), command, expect);
}

// attachInProcess is attachAndRun with lap running in this process.
export function attachInProcess(args: string[], env: Record<string, string>, command = 'echo "R=$((6*7))"', expect = /R=42/): Promise<Run> {
  return runCommand(new InProcessLap(args, env), command, expect);
}

async function runCommand(l: Lap | InProcessLap, command: string, expect: RegExp): Promise<Run> {
  await l.waitFor(/\$ /);
  // Output after the command only: a reattach repaints the old screen, and
  // Ctrl-D typed together with the command would be sent, not a detach.
  const from = l.stdout.length;
  l.type(command + "\r");
  await l.waitFor(new RegExp(`^[^]{${from}}[^]*${expect.source}`));
  l.type("\x04");
  l.end();
  return l.exited;
}

// newSession starts a session of the named agent through the platform's
// API, as lap would, and returns its id.
export async function newSession(p: Platform, agent = "demo"): Promise<string> {
  const id = p.agents.find((a) => a.name === agent)!.id;
  const res = await fetch(`${p.url}/api/v1/managed_agents/agents/${id}/session`, {
    method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}",
  });
  return ((await res.json()) as { id: string }).id;
}

// platforms starts local platforms, each with a "demo" agent that has a
// terminal and ready at once unless opts say otherwise, all closed after the
// test file.
export function platforms(): (opts?: PlatformOptions) => Promise<Platform> {
  const started: Platform[] = [];
  // Closed together: each close waits on its own tmux server and PTY hosts.
  after(() => Promise.all(started.map((p) => p.close())));
  return async (opts = {}) => {
    const p = await startPlatform({ bringUpMs: 0, ...opts });
    started.push(p);
    p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
    return p;
  };
}

// assertUsageErrors checks that each argv is a usage error (exit 2) with
// exactly that message.
export function assertUsageErrors(table: [string[], string][]): void {
  for (const [argv, message] of table) {
    assert.throws(() => parseCommand(argv), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.equal(err.message, message, argv.join(" "));
      assert.equal(err.code, 2);
      return true;
    });
  }
}

// homes hands out private home directories, removed after the test file.
export function homes(prefix: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const home = (): string => {
    const dir = path.join(tmp, `home${++n}`);
    fs.mkdirSync(dir);
    return dir;
  };
  // loggedIn is the environment of a user logged in to p, with the config
  // file older lap versions wrote ({"base","key"}) plus any settings.
  const loggedIn = (p: { url: string; key: string }, extra: Record<string, string> = {}, settings: Record<string, unknown> = {}) => {
    const h = home();
    const config = path.join(h, ".lap", "config.json");
    fs.mkdirSync(path.dirname(config), { mode: 0o700 });
    fs.writeFileSync(config, JSON.stringify({ base: p.url, key: p.key, ...settings }), { mode: 0o600 });
    return { HOME: h, ...extra } as Record<string, string>;
  };
  return { tmp, home, loggedIn };
}
