// IO is the one object through which commands reach the outside world:
// streams, terminal flags, settings, home directory and the HTTP and
// WebSocket clients. lap.ts builds it from the process; tests build their
// own. Asking the user a question lives here too.

import type { Readable } from "node:stream";
import type { Fetch } from "./api.js";
import { EXIT_FAILURE, EXIT_INTERRUPTED, LapError, usageError } from "./errors.js";
import { cleanText } from "./output.js";
import type { Env, Settings } from "./settings.js";
import type { Terminal } from "./tty.js";
import type { DialOptions, Link } from "./ws.js";

// Out is where lap writes its own text: the process's stdout or stderr, or a
// test's stream. Only the terminal bridge needs a whole stream.
export interface Out {
  write(chunk: string | Uint8Array): boolean;
}

export type Preloaded = "bridge" | "websocket";

export interface IO {
  stdin: Readable;
  stdout: Out;
  stderr: Out;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  // Whether stderr is a terminal (progress spinners); absent means no.
  stderrIsTTY?: boolean;
  // The environment as given; commands read settings, not this.
  env: Env;
  settings: Settings;
  home: string;
  fetch: Fetch;
  // Loads the WebSocket client only when a command attaches, keeping
  // start-up of every other command free of it.
  dial: (url: string, opts: DialOptions) => Promise<Link>;
  // Starts loading a part attaching needs (the terminal bridge, the
  // WebSocket client) once the requests just made are on the wire, so the
  // loading overlaps the wait for the platform's answers.
  preload?: (part: Preloaded) => void;
  terminal: () => Terminal;
}

// prompt reads one line from the terminal. With hidden set, what is typed
// is not echoed (the prompt itself still is). Ctrl-C, or Ctrl-D before an
// answer, rejects with cancelled: status 130 for Ctrl-C, as a shell gives
// a command it interrupts, 1 for Ctrl-D.
export async function prompt(io: IO, question: string, hidden: boolean, cancelled = "login cancelled"): Promise<string> {
  const readline = await import("node:readline");
  const { Writable } = await import("node:stream");
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: io.stdin, output, terminal: true });
  return new Promise((resolve, reject) => {
    let answered = false;
    rl.question(cleanText(question), (answer) => {
      answered = true;
      rl.close();
      if (hidden) io.stderr.write("\n");
      resolve(answer);
    });
    muted = hidden;
    let interrupted = false;
    rl.on("SIGINT", () => {
      interrupted = true;
      rl.close();
    });
    rl.on("close", () => {
      if (answered) return;
      io.stderr.write("\n");
      reject(new LapError(cancelled, "", interrupted ? EXIT_INTERRUPTED : EXIT_FAILURE));
    });
  });
}

// mayAsk is the rule of commands that ask before they act (stop, restart):
// with --yes they do not ask; without it stdin must be a terminal to answer,
// so a script never acts by accident of a missing flag. doing names the
// act ("stopping session x"), verb what --yes does ("stop it").
export function mayAsk(io: IO, yes: boolean | undefined, doing: string, verb: string): void {
  if (!yes && !io.stdinIsTTY) throw usageError(`not ${doing} without confirmation: stdin is not a terminal`, `pass --yes to ${verb} without asking`);
}

// confirm asks a yes/no question on the terminal; only "y" or "yes" is yes.
export async function confirm(io: IO, question: string, cancelled: string): Promise<boolean> {
  return /^\s*y(es)?\s*$/i.test(await prompt(io, `${question} [y/N] `, false, cancelled));
}
