// The bridge between the local terminal and the sandbox's PTY: raw mode,
// the size, keystrokes out, output in, detach, keepalive, reconnect, job
// control, and the terminal given back exactly once on every path.

import fs from "node:fs";
import tty from "node:tty";
import type { Readable } from "node:stream";
import type { DetachRule } from "./keys.js";
import type { Link } from "./ws.js";
import { ModeTracker } from "./modes.js";

export interface Size {
  cols: number;
  rows: number;
}

// Output is where the program's output is written: a Writable stream, or
// anything that writes the same way (processio.ts writes a file or
// /dev/null without a stream). write returning false means full: wait for "drain". A
// write's callback runs once it and every write before it are handed on.
export interface Output {
  write(data: Uint8Array | string, cb?: () => void): boolean;
  once(event: "drain" | "error", cb: () => void): unknown;
  readonly writableLength: number;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

// Terminal is everything the bridge knows of the local side. processio.ts
// builds one from the process; tests build one from in-memory streams.
export interface Terminal {
  input: Readable;
  output: Output;
  // Whether input is a terminal: only then is raw mode entered.
  isTTY: boolean;
  // Whether output is a terminal: only then are modes tracked and reset.
  outputIsTTY: boolean;
  // The window size (windowSize below), or null when there is no terminal.
  size(): Size | null;
  setRawMode(on: boolean): void;
  // Subscriptions return their own unsubscribe function.
  onResize(cb: () => void): () => void;
  onSignal(cb: (signal: string) => void): () => void;
  // Job control, where there is any: suspend runs on SIGTSTP before the
  // process stops itself, resume on SIGCONT.
  onSuspend?(handlers: { suspend(): void; resume(): void }): () => void;
  // The reader of output went away (EPIPE), where that can be told.
  onOutputGone?(cb: () => void): () => void;
  // One line of status for the user (stderr), never mixed into output;
  // each replaces the last, "" clears it.
  status(line: string): void;
}

export type End =
  | { how: "detached"; by: "keys" | "eof" }
  | { how: "closed"; code: number; reason: string }
  | { how: "lost"; code: number; reason: string; error?: string; flapping?: boolean }
  | { how: "broken"; error: string }
  | { how: "refused"; error: Error }
  | { how: "ended"; why: string }
  | { how: "signal"; signal: string }
  | { how: "outputGone" };

// The protocol's timings, overridable so tests run in milliseconds.
export const TIMINGS = {
  // Load balancers drop connections idle for 60 s: ping well inside that.
  pingMs: 20_000,
  // A peer from which nothing (a pong, or any output) has come within this
  // of a ping is gone.
  pongDeadlineMs: 10_000,
  // Window managers send bursts of size changes while dragging; send the
  // size once it has been still this long.
  resizeSettleMs: 40,
  // Reconnect backoff: first retry well under a second, then doubling.
  retryFirstMs: 200,
  retryMaxMs: 3_000,
  // Give up on a lost link after this long (the user can rerun lap),
  // counted from the first loss until the link has been up for stableMs:
  // a link that opens and drops at once does not reset the budget.
  retryGiveUpMs: 120_000,
  stableMs: 10_000,
  // Ended by a signal, lap waits at most this long for stdout to take what
  // it holds: a reader that stopped reading must not keep it from ending.
  // (A detach or a close waits for every byte.)
  signalDrainMs: 2_000,
};
export type Timings = typeof TIMINGS;

// Bytes queued towards the server before stdin is paused until they have
// been written out: a 16 MiB paste flows without filling memory.
const SEND_HIGH_WATER = 1 << 20;
// Keystrokes held while reconnecting; beyond this they are dropped (and
// the user is told), rather than replayed into a program long after.
const HOLD_LIMIT = 64 << 10;
// The width a status line is fitted to when there is no window size.
const STATUS_WIDTH = 80;

// Close codes after which reconnecting makes sense: the connection broke
// (1006), the server is going away or restarting (1001, 1011-1013).
const RETRYABLE = new Set([1001, 1006, 1011, 1012, 1013]);

// The terminal's end-of-file character (VEOF): what a typed Ctrl-D sends.
export const CTRL_D = 0x04;
const EOF_BYTES = Buffer.from([CTRL_D]);
// What a reconnect attempt still running when the budget ends comes to.
const LATE = Symbol("late");

export interface BridgeOptions {
  // Splits a read of stdin into bytes to send and whether to detach: the
  // rule that ships is detachRule(parseDetachKeys(...)) from keys.ts.
  detach: DetachRule;
  // Reopens the link to the same session after an abnormal end; absent, a
  // broken link ends the bridge.
  redial?: () => Promise<Link>;
  // Whether the session is still worth reconnecting to; a string says why not.
  alive?: () => Promise<true | string>;
  // Watch only: nothing typed is sent and no size either (a watcher must
  // not resize the window of the person working in it). The detach keys
  // still detach.
  readOnly?: boolean;
  // When stdin is not a terminal, its end detaches at once (lap's first
  // behaviour). Otherwise lap does what ssh -tt does: it sends the
  // end-of-file character and prints everything until the harness closes.
  detachOnEof?: boolean;
  timings?: Partial<Timings>;
  // Called with every chunk that reaches output (recording).
  onOutput?: (data: Buffer) => void;
  // Called with the size each time one is sent to the remote side (recording).
  onResize?: (size: Size) => void;
  // How the reconnect status names the detach keys ("" when there are none).
  detachLabel?: string;
  random?: () => number;
}

// bridge pumps bytes between the terminal and the link until a detach, a
// close, a signal or a lost link, and resolves with how it ended. By then
// every byte received has been written to output and the terminal is back
// in the state it was found in.
export function bridge(term: Terminal, first: Link, opts: BridgeOptions): Promise<End> {
  return new Bridge(term, opts).run(first);
}

// SizeQueue is the window size on its way to the remote side, after
// client-go's TerminalSizeQueue: primed with the size at the start, then
// coalesced: a burst of changes sends only the size it settles on, and the
// same size is never sent twice in a row.
class SizeQueue {
  private last = "";
  private timer: NodeJS.Timeout | undefined;

  constructor(private read: () => Size | null, private settleMs: number, private send: (size: Size) => boolean) {}

  // now sends the current size at once; force sends it even when unchanged
  // (a new link, or a terminal back from a suspend).
  now(force: boolean): void {
    clearTimeout(this.timer);
    const size = this.read();
    if (!size) return;
    const key = `${size.cols}x${size.rows}`;
    if (!force && key === this.last) return;
    if (this.send(size)) this.last = key;
  }

  changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.now(false), this.settleMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

// Bridge holds one bridge's state; each part of the work is a small method.
class Bridge {
  private t: Timings;
  private giveUp: string;
  private random: () => number;
  // Undoes what the remote program left on; only with a terminal to undo it on.
  private modes: ModeTracker | null;
  // What a resume switches on again (ModeTracker.again) after a suspend.
  private modesAgain = "";
  private sizes: SizeQueue;
  private raw: boolean;

  private link: Link | null = null;
  private finished = false;
  private outputBlocked = false;
  private stdinEnded = false;
  // Keystrokes typed while the link is down.
  private held: Buffer[] = [];
  private heldBytes = 0;
  private droppedNotice = false;
  // Whether a status line is on the screen, to clear at the end.
  private statusShown = false;
  // Keepalive.
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  // Reconnecting: when the link was first lost (null while it is stable),
  // and how many reconnects since.
  private lostSince: number | null = null;
  private reconnects = 0;
  // The next backoff: it keeps growing across the reconnects of a link
  // that opens and drops at once, and starts again once the link is stable.
  private retryWait: number;
  private stableTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void)[] = [];
  private resolveEnd!: (end: End) => void;

  constructor(private term: Terminal, private opts: BridgeOptions) {
    this.t = { ...TIMINGS, ...opts.timings };
    const label = opts.detachLabel ?? "Ctrl-D";
    this.giveUp = label ? ` (${label} to give up)` : "";
    this.random = opts.random ?? Math.random;
    this.retryWait = this.t.retryFirstMs;
    this.modes = term.outputIsTTY ? new ModeTracker() : null;
    this.raw = term.isTTY;
    this.sizes = new SizeQueue(() => (opts.readOnly ? null : term.size()), this.t.resizeSettleMs, (size) => this.sendSize(size));
  }

  run(first: Link): Promise<End> {
    const ended = new Promise<End>((r) => (this.resolveEnd = r));
    const { term } = this;
    if (this.raw) term.setRawMode(true);
    this.attachLink(first);
    this.sizes.now(true);
    this.unsubscribe.push(
      term.onResize(() => this.sizes.changed()),
      term.onSignal((signal) => this.finish({ how: "signal", signal })),
    );
    if (term.onSuspend) this.unsubscribe.push(term.onSuspend({ suspend: () => this.suspend(), resume: () => this.resume() }));
    if (term.onOutputGone) this.unsubscribe.push(term.onOutputGone(() => this.finish({ how: "outputGone" })));
    term.input.on("data", this.onInput);
    term.input.on("end", this.onInputEnd);
    term.input.resume();
    return ended;
  }

  // ---- output: socket → stdout, pausing the socket while stdout is full ----

  private onMessage = (data: Buffer): void => {
    // Any frame shows the link alive, as a pong would: a pong queued behind
    // a burst of output, or behind output paused for a slow terminal, comes
    // late, and the link is not dead for that.
    if (this.pongTimer !== undefined) this.stopWaitingForPong();
    this.modes?.scan(data);
    this.opts.onOutput?.(data);
    if (!this.term.output.write(data) && !this.outputBlocked) {
      this.outputBlocked = true;
      this.link?.pause();
      this.term.output.once("drain", () => {
        this.outputBlocked = false;
        this.link?.resume();
      });
    }
  };

  // ---- input: stdin → socket, pausing stdin while the socket is full ----

  private onInput = (chunk: Buffer): void => {
    const { send, detach } = this.opts.detach(chunk);
    if (send.length > 0 && !this.opts.readOnly) this.sendInput(send);
    if (detach) this.finish({ how: "detached", by: "keys" });
  };

  private onInputEnd = (): void => {
    this.stdinEnded = true;
    if (this.term.isTTY || this.opts.detachOnEof) {
      this.finish({ how: "detached", by: "eof" });
      return;
    }
    // Piped input is over; the program may still be working on it. Like
    // ssh -tt: end-of-file to the program, and its output until it closes.
    if (!this.opts.readOnly) this.sendInput(EOF_BYTES);
  };

  private sendInput(data: Buffer): void {
    const { link, term } = this;
    // A link that is closing drops what it is sent, and its close may come
    // only seconds later (ws.ts's CLOSE_HANDSHAKE_MS): typing is held for
    // the next one.
    if (!link || !link.isOpen) {
      this.hold(data);
      return;
    }
    if (link.bufferedAmount + data.length <= SEND_HIGH_WATER) {
      link.sendBytes(data);
      return;
    }
    // The socket is full: stdin waits until this chunk, the last before
    // the pause, has been written out, or has failed with the link (then
    // what is typed next is held; this chunk is not, as part of it may
    // have gone out).
    term.input.pause();
    link.sendBytes(data, () => {
      if (!this.finished) term.input.resume();
    });
  }

  private hold(data: Buffer): void {
    if (this.heldBytes + data.length > HOLD_LIMIT) {
      if (!this.droppedNotice) this.status("[lap] not connected: typing dropped until the link is back");
      this.droppedNotice = true;
      return;
    }
    this.held.push(data);
    this.heldBytes += data.length;
  }

  private flushHeld(): void {
    const data = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.droppedNotice = false;
    for (const d of data) this.sendInput(d);
  }

  // ---- size ----

  private sendSize(size: Size): boolean {
    if (!this.link) return false;
    this.link.sendControl({ type: "resize", cols: size.cols, rows: size.rows });
    this.opts.onResize?.(size);
    return true;
  }

  // A resize to one column more and back makes the remote program redraw
  // its whole screen, as kubectl and docker do on attach.
  private repaint(l: Link): void {
    const size = this.opts.readOnly ? null : this.term.size();
    if (!size) return;
    l.sendControl({ type: "resize", cols: size.cols + 1, rows: size.rows });
    this.sizes.now(true);
  }

  // ---- job control: the terminal is the user's while lap is stopped ----

  // As tmux does: the modes the program switched on (the alternate screen,
  // mouse reporting) are switched off while the user's shell has the
  // terminal, and on again for the program, which is then made to redraw.
  private suspend(): void {
    if (this.finished) return;
    const modes = this.modes;
    if (modes) {
      // A second suspend before a resume finds nothing on: keep the first's.
      this.modesAgain += modes.again();
      const reset = modes.reset();
      if (reset) this.term.output.write(reset);
    }
    if (this.raw) this.term.setRawMode(false);
  }

  private resume(): void {
    if (this.finished) return;
    if (this.raw) this.term.setRawMode(true);
    if (this.modes && this.modesAgain) {
      this.modes.scan(Buffer.from(this.modesAgain, "latin1"));
      this.term.output.write(this.modesAgain);
    }
    this.modesAgain = "";
    // The window may have changed while lap was stopped, and the screen
    // holds what the shell printed meanwhile.
    if (this.link) this.repaint(this.link);
    else this.sizes.now(true);
  }

  // ---- keepalive: a ping every pingMs; no answer in time means a dead link ----

  private startKeepalive(l: Link): void {
    this.pingTimer = setInterval(() => {
      // While output is blocked the socket is paused and a pong could not
      // be read; the link is not dead, the local reader is slow.
      if (this.outputBlocked || this.pongTimer) return;
      l.ping();
      this.pongTimer = setTimeout(() => l.terminate(), this.t.pongDeadlineMs);
    }, this.t.pingMs);
  }

  private stopWaitingForPong(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private stopKeepalive(): void {
    clearInterval(this.pingTimer);
    this.stopWaitingForPong();
  }

  // ---- the link, and reconnecting ----

  private attachLink(l: Link): void {
    this.link = l;
    l.listen({
      message: this.onMessage,
      pong: () => this.stopWaitingForPong(),
      close: (code, reason, error, broken) => this.onClose(l, code, reason, error, broken),
    });
    this.startKeepalive(l);
    if (this.lostSince !== null) {
      this.stableTimer = setTimeout(() => {
        this.lostSince = null;
        this.reconnects = 0;
        this.retryWait = this.t.retryFirstMs;
      }, this.t.stableMs);
    }
  }

  private onClose(l: Link, code: number, reason: string, error?: string, broken?: string): void {
    if (l !== this.link) return;
    this.link = null;
    this.stopKeepalive();
    clearTimeout(this.stableTimer);
    if (this.finished) return;
    if (broken) this.finish({ how: "broken", error: broken });
    else if (!RETRYABLE.has(code)) this.finish({ how: "closed", code, reason });
    else if (!this.opts.redial) this.finish({ how: "lost", code, reason, error });
    else void this.reconnect(code, reason, error);
  }

  private async reconnect(code: number, reason: string, error?: string): Promise<void> {
    const flapping = this.lostSince !== null;
    this.lostSince ??= Date.now();
    const giveUpAt = this.lostSince + this.t.retryGiveUpMs;
    const what = flapping ? "link keeps dropping" : "connection lost";
    const lost = (): void => this.finish({ how: "lost", code, reason, error, ...(flapping && { flapping }) });
    while (!this.finished) {
      this.reconnects++;
      this.status(`[lap] ${what} (${error ?? code}) — reconnecting, attempt ${this.reconnects}…${this.giveUp}`);
      // Jitter keeps a fleet of clients from reconnecting in lockstep.
      await sleep(Math.min(this.retryWait * (0.75 + this.random() * 0.5), giveUpAt - Date.now()));
      this.retryWait = Math.min(this.retryWait * 2, this.t.retryMaxMs);
      if (this.finished) return;
      if (Date.now() >= giveUpAt) return lost();
      // An attempt (an API call, an upgrade) has timeouts of its own, longer
      // than what may be left of the budget: it is not waited for past it.
      const trying = this.tryAgain();
      try {
        const got = await before(trying, giveUpAt - Date.now());
        if (got === LATE) {
          // A link the attempt opens after all is not wanted.
          void trying.then((l) => l && typeof l === "object" && l.close(1000), () => {});
          return lost();
        }
        if (got === null) return;
        if (typeof got === "string") return this.finish({ how: "ended", why: got });
        if (this.finished) return got.close(1000);
        this.attachLink(got);
        this.status("");
        this.repaint(got);
        this.flushHeld();
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 401 || status === 403 || status === 404) return this.finish({ how: "refused", error: err as Error });
        error = (err as Error).message;
      }
    }
  }

  // tryAgain is one reconnect: a new link, or why the session is not worth
  // one (a string), or null when the bridge ended meanwhile.
  private async tryAgain(): Promise<Link | string | null> {
    const alive = this.opts.alive ? await this.opts.alive() : true;
    if (alive !== true) return alive;
    if (this.finished) return null;
    return this.opts.redial!();
  }

  // status fits the line to the window, so it never wraps and each one
  // overwrites the last in place, even over a full-screen program.
  private status(line: string): void {
    this.statusShown = line !== "";
    const width = (this.term.size()?.cols ?? STATUS_WIDTH) - 1;
    this.term.status(line.length > width ? line.slice(0, Math.max(0, width - 1)) + "…" : line);
  }

  // ---- the end ----

  // finish ends the bridge once. Giving the terminal back comes first and
  // depends on nothing that can throw; then reading stops, the link is
  // closed (not waited for: the session lives on either way), output
  // drains, and raw mode is left.
  private finish(end: End): void {
    if (this.finished) return;
    this.finished = true;
    this.restoreModes();
    // The last status line (a reconnect attempt) goes, so what is said of
    // the end starts a line of its own.
    if (this.statusShown) attempt(() => this.status(""));
    const { term } = this;
    this.sizes.stop();
    this.stopKeepalive();
    clearTimeout(this.stableTimer);
    for (const off of this.unsubscribe) attempt(off);
    term.input.off("data", this.onInput);
    term.input.off("end", this.onInputEnd);
    if (!this.stdinEnded) term.input.pause();
    const l = this.link;
    this.link = null;
    if (l) {
      attempt(() => l.listen({ message: () => {}, pong: () => {}, close: () => {} }));
      attempt(() => l.close(1000, end.how === "detached" ? "detach" : ""));
    }
    const drain = drained(term.output);
    void (end.how === "signal" ? within(drain, this.t.signalDrainMs) : drain).then(() => {
      if (this.raw) attempt(() => term.setRawMode(false));
      this.resolveEnd(end);
    });
  }

  private restoreModes(): void {
    const modes = this.modes;
    if (!modes) return;
    attempt(() => {
      const reset = modes.reset();
      if (reset.length > 0) this.term.output.write(reset);
    });
  }
}

// attempt runs a step of shutting down whose failure must not stop the
// steps after it (the terminal must be given back whatever happens).
function attempt(step: () => void): void {
  try {
    step();
  } catch {
    // nothing left to do about it on the way out
  }
}

// drained resolves once everything written to output has been handed on,
// so no output is lost when lap exits right after. An empty write's
// callback runs after every write queued before it.
function drained(out: Output): Promise<void> {
  if (out.writableLength === 0 || out.destroyed || out.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    out.once("error", () => resolve());
    out.write("", () => resolve());
  });
}

// before is what p comes to, or LATE when ms pass first; its timer does
// not outlive the race.
function before<T>(p: Promise<T>, ms: number): Promise<T | typeof LATE> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof LATE>((r) => (timer = setTimeout(() => r(LATE), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// within resolves when p does, or after ms, whichever comes first.
export function within(p: Promise<unknown>, ms: number): Promise<void> {
  return before(p, ms).then(() => {});
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- the window size ----

// A stream that may be a terminal, as process.stdout and process.stderr are.
export interface SizeSource {
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

// windowSize reads the size from the first source that is a terminal with
// a size, else from the controlling terminal (as ssh does), so
// `lap agent 2>log | cat` still sends one. null when there is none.
export function windowSize(sources: SizeSource[], controlling: () => Size | null = controllingTerminalSize): Size | null {
  for (const s of sources) if (s.isTTY && s.columns && s.rows) return { cols: s.columns, rows: s.rows };
  return controlling();
}

// The controlling terminal, opened once on first use: it is what stdin is
// when only stdin is a terminal, and Node gives a size only to a writable
// terminal stream. Its size follows the window (Node updates it on SIGWINCH).
let controllingTerminal: tty.WriteStream | null | undefined;

export function controllingTerminalSize(): Size | null {
  if (controllingTerminal === undefined) {
    controllingTerminal = null;
    try {
      const fd = fs.openSync("/dev/tty", fs.constants.O_RDWR | fs.constants.O_NOCTTY);
      if (tty.isatty(fd)) controllingTerminal = new tty.WriteStream(fd);
      else fs.closeSync(fd);
    } catch {
      // no controlling terminal (a daemon, a CI job): no size
    }
  }
  const t = controllingTerminal;
  if (!t || !t.columns || !t.rows) return null;
  return { cols: t.columns, rows: t.rows };
}
