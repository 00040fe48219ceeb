// An in-memory IO for tests that run commands in-process: stdin is a
// PassThrough the test writes to, stdout and stderr are collected, every
// terminal flag is off unless a test switches one on. Not installed.

import { PassThrough, Writable } from "node:stream";
import { readSettings, type Env } from "../settings.js";
import type { IO } from "../io.js";
import { memoryTerminal } from "./testterm.js";

export interface MemoryIO {
  io: IO;
  stdin: PassThrough;
  stdout(): string;
  stderr(): string;
}

// Settings are read from env as lap reads them, unless given.
export function memoryIO(opts: Partial<Omit<IO, "env">> & { env?: Env } = {}): MemoryIO {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const collect = (into: Buffer[]) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        into.push(Buffer.from(chunk));
        done();
      },
    });
  const stdin = new PassThrough();
  const io: IO = {
    stdin,
    stdout: collect(out),
    stderr: collect(err),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    home: "/nonexistent",
    fetch: globalThis.fetch,
    dial: async (url, o) => (await import("../ws.js")).dial(url, o),
    terminal: () => memoryTerminal({ size: null }).term,
    ...opts,
    env: opts.env ?? {},
    settings: opts.settings ?? readSettings(opts.env ?? {}, opts.home ?? "/nonexistent"),
  };
  return {
    io,
    stdin,
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
  };
}
