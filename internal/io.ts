// IO is the one object through which commands reach the outside world:
// streams, terminal flags, environment, home directory and the HTTP and
// WebSocket clients. lap.ts builds it from the process; tests build their own.

import type { Readable, Writable } from "node:stream";
import type { Env } from "./config.js";
import type { Fetch } from "./api.js";
import type { Terminal } from "./tty.js";
import type { DialOptions, Link } from "./ws.js";

export interface IO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  // Whether stderr is a terminal (progress spinners); absent means no.
  stderrIsTTY?: boolean;
  env: Env;
  home: string;
  fetch: Fetch;
  // Loads the WebSocket client only when a command attaches, keeping
  // start-up of every other command free of it.
  dial: (url: string, opts: DialOptions) => Promise<Link>;
  // Starts loading the WebSocket client once the current step has sent its
  // request, so loading it overlaps the wait for the platform's answers.
  preload?: () => void;
  terminal: () => Terminal;
}

// say writes one line for the user to stderr.
export function say(io: IO, line: string): void {
  io.stderr.write(line + "\n");
}
