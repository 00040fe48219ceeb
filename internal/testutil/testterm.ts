// An in-memory Terminal for tests, benchmarks and the golden-frame replays:
// stdin is a PassThrough the test writes to, stdout collects every byte,
// and resizes and signals are raised by hand. Not installed.

import { PassThrough, Writable } from "node:stream";
import type { Size, Terminal } from "../tty.js";

export interface MemoryTerminal {
  term: Terminal;
  input: PassThrough;
  // Every byte written to stdout, in order.
  output(): Buffer;
  // Each call to setRawMode, in order.
  rawCalls: boolean[];
  statuses: string[];
  resize(cols: number, rows: number): void;
  signal(name: string): void;
  // Job control, as SIGTSTP and SIGCONT would raise it.
  suspend(): void;
  cont(): void;
  // The reader of stdout goes away, as an EPIPE tells it.
  outputGone(): void;
}

export interface MemoryTerminalOptions {
  isTTY?: boolean;
  // Whether stdout is a terminal; as isTTY when not given.
  outputIsTTY?: boolean;
  size?: Size | null;
  // Delay before stdout accepts each chunk, to play a slow reader.
  writeDelayMs?: number;
  highWaterMark?: number;
}

export function memoryTerminal(opts: MemoryTerminalOptions = {}): MemoryTerminal {
  const input = new PassThrough();
  const chunks: Buffer[] = [];
  const output = new Writable({
    highWaterMark: opts.highWaterMark ?? 16 << 10,
    write(chunk: Buffer, _enc, done) {
      chunks.push(Buffer.from(chunk));
      if (opts.writeDelayMs) setTimeout(done, opts.writeDelayMs);
      else done();
    },
  });
  let size = opts.size === undefined ? { cols: 80, rows: 24 } : opts.size;
  const resizeHandlers = new Set<() => void>();
  const signalHandlers = new Set<(s: string) => void>();
  const jobHandlers = new Set<{ suspend(): void; resume(): void }>();
  const goneHandlers = new Set<() => void>();
  const rawCalls: boolean[] = [];
  const statuses: string[] = [];
  const term: Terminal = {
    input,
    output,
    isTTY: opts.isTTY ?? true,
    outputIsTTY: opts.outputIsTTY ?? opts.isTTY ?? true,
    size: () => size,
    setRawMode: (on) => void rawCalls.push(on),
    onResize: (cb) => {
      resizeHandlers.add(cb);
      return () => resizeHandlers.delete(cb);
    },
    onSignal: (cb) => {
      signalHandlers.add(cb);
      return () => signalHandlers.delete(cb);
    },
    onSuspend: (h) => {
      jobHandlers.add(h);
      return () => jobHandlers.delete(h);
    },
    onOutputGone: (cb) => {
      goneHandlers.add(cb);
      return () => goneHandlers.delete(cb);
    },
    status: (line) => void statuses.push(line),
  };
  return {
    term,
    input,
    output: () => Buffer.concat(chunks),
    rawCalls,
    statuses,
    resize(cols, rows) {
      size = { cols, rows };
      for (const cb of resizeHandlers) cb();
    },
    signal(name) {
      for (const cb of signalHandlers) cb(name);
    },
    suspend() {
      for (const h of jobHandlers) h.suspend();
    },
    cont() {
      for (const h of jobHandlers) h.resume();
    },
    outputGone() {
      output.destroy();
      for (const cb of goneHandlers) cb();
    },
  };
}
