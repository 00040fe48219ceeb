// The bridge between the local terminal and the sandbox's PTY: raw mode,
// the size, keystrokes out, output in, detach, keepalive, reconnect, and the
// terminal given back exactly once on every path.

import type { Readable, Writable } from "node:stream";
import type { Link } from "./ws.js";
import { ModeTracker } from "./modes.js";

export interface Size {
  cols: number;
  rows: number;
}

// Terminal is everything the bridge knows of the local side. lap.ts builds
// one from the process; tests build one from in-memory streams.
export interface Terminal {
  input: Readable;
  output: Writable;
  // Whether input is a terminal: only then is raw mode entered.
  isTTY: boolean;
  // Whether output is a terminal: only then are modes reset at the end.
  outputIsTTY: boolean;
  // The window size, or null when output is not a terminal.
  size(): Size | null;
  setRawMode(on: boolean): void;
  // Subscriptions return their own unsubscribe function.
  onResize(cb: () => void): () => void;
  onSignal(cb: (signal: string) => void): () => void;
  // One line of status for the user (stderr), never mixed into output.
  status(line: string): void;
}

export type End =
  | { how: "detached"; by: "keys" | "eof" }
  | { how: "closed"; code: number; reason: string }
  | { how: "lost"; code: number; reason: string; error?: string }
  | { how: "refused"; error: Error }
  | { how: "ended"; why: string }
  | { how: "signal"; signal: string };

// The protocol's timings, overridable so tests run in milliseconds.
export const TIMINGS = {
  // Load balancers drop connections idle for 60 s: ping well inside that.
  pingMs: 20_000,
  // A peer that has not answered a ping within this is gone.
  pongDeadlineMs: 10_000,
  // Window managers send bursts of size changes while dragging; send the
  // size once it has been still this long.
  resizeSettleMs: 40,
  // Reconnect backoff: first retry well under a second, then doubling.
  retryFirstMs: 200,
  retryMaxMs: 3_000,
  // Give up on a lost link after this long (the user can rerun lap).
  retryGiveUpMs: 120_000,
};
export type Timings = typeof TIMINGS;

// Bytes queued towards the server before stdin is paused, and the level at
// which it is resumed: a 16 MiB paste flows without filling memory.
const SEND_HIGH_WATER = 1 << 20;
const SEND_LOW_WATER = 256 << 10;
// Keystrokes held while reconnecting; beyond this they are dropped (and
// the user is told), rather than replayed into a program long after.
const HOLD_LIMIT = 64 << 10;

// Close codes after which reconnecting makes sense: the connection broke
// (1006), the server is going away or restarting (1001, 1011-1013).
const RETRYABLE = new Set([1001, 1006, 1011, 1012, 1013]);
// A close with one of these is the program ending or a normal goodbye.
const NORMAL = new Set([1000, 1005]);

export const CTRL_D = 0x04;

export interface BridgeOptions {
  // Reopens the link to the same session after an abnormal end; absent, a
  // broken link ends the bridge.
  redial?: () => Promise<Link>;
  // Whether the session is still worth reconnecting to; a string says why not.
  alive?: () => Promise<true | string>;
  // Splits a read of stdin into bytes to send and whether to detach.
  detach?: (chunk: Buffer) => { send: Buffer; detach: boolean };
  timings?: Partial<Timings>;
  // Called with every chunk that reaches output (recording).
  onOutput?: (data: Buffer) => void;
  // Called with the size each time one is sent to the remote side (recording).
  onResize?: (size: Size) => void;
  // How the reconnect status names the detach keys ("" when there are none).
  detachLabel?: string;
  random?: () => number;
}

// loneCtrlD is the default detach rule: a read of the single byte 0x04.
// A paste that contains 0x04 among other bytes is sent as it is.
export function loneCtrlD(chunk: Buffer): { send: Buffer; detach: boolean } {
  return chunk.length === 1 && chunk[0] === CTRL_D ? { send: Buffer.alloc(0), detach: true } : { send: chunk, detach: false };
}

// bridge pumps bytes between the terminal and the link until a detach, a
// close, a signal or a lost link, and resolves with how it ended. By then
// every byte received has been written to output and the terminal is back
// in the state it was found in.
export function bridge(term: Terminal, first: Link, opts: BridgeOptions = {}): Promise<End> {
  const t: Timings = { ...TIMINGS, ...opts.timings };
  const detachRule = opts.detach ?? loneCtrlD;
  const label = opts.detachLabel ?? "Ctrl-D";
  const giveUp = label ? ` (${label} to give up)` : "";
  const random = opts.random ?? Math.random;
  const modes = new ModeTracker();

  let link: Link | null = first;
  let finished = false;
  let outputBlocked = false;
  let held: Buffer[] = [];
  let heldBytes = 0;
  let droppedNotice = false;
  let lastSize = "";
  let resizeTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let pongTimer: NodeJS.Timeout | undefined;
  let resolveEnd!: (end: End) => void;
  const ended = new Promise<End>((r) => (resolveEnd = r));

  const raw = term.isTTY;
  if (raw) term.setRawMode(true);

  // --- output: socket → stdout, pausing the socket while stdout is full ---
  const onMessage = (data: Buffer) => {
    modes.scan(data);
    opts.onOutput?.(data);
    if (!term.output.write(data) && !outputBlocked) {
      outputBlocked = true;
      link?.pause();
      term.output.once("drain", () => {
        outputBlocked = false;
        link?.resume();
      });
    }
  };

  // --- input: stdin → socket, pausing stdin while the socket is full ---
  const onInput = (chunk: Buffer) => {
    const { send, detach } = detachRule(chunk);
    if (send.length > 0) sendInput(send);
    if (detach) finish({ how: "detached", by: "keys" });
  };
  const sendInput = (data: Buffer) => {
    if (!link) {
      hold(data);
      return;
    }
    link.sendBytes(data, () => {
      if (link && link.bufferedAmount < SEND_LOW_WATER && term.input.isPaused()) term.input.resume();
    });
    if (link.bufferedAmount > SEND_HIGH_WATER) term.input.pause();
  };
  const hold = (data: Buffer) => {
    if (heldBytes + data.length > HOLD_LIMIT) {
      if (!droppedNotice) term.status("[lap] not connected: typing dropped until the link is back");
      droppedNotice = true;
      return;
    }
    held.push(data);
    heldBytes += data.length;
  };
  const onInputEnd = () => finish({ how: "detached", by: "eof" });

  // --- size: the first message on every link, then settled changes only ---
  const sendSize = (force: boolean) => {
    const size = term.size();
    if (!size || !link) return;
    const key = `${size.cols}x${size.rows}`;
    if (!force && key === lastSize) return;
    lastSize = key;
    link.sendControl({ type: "resize", cols: size.cols, rows: size.rows });
    opts.onResize?.(size);
  };
  const onResize = () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => sendSize(false), t.resizeSettleMs);
  };

  // --- keepalive: a ping every pingMs; no pong in time means a dead link ---
  const startKeepalive = (l: Link) => {
    pingTimer = setInterval(() => {
      // While output is blocked the socket is paused and a pong could not
      // be read; the link is not dead, the local reader is slow.
      if (outputBlocked || pongTimer) return;
      l.ping();
      pongTimer = setTimeout(() => l.terminate(), t.pongDeadlineMs);
    }, t.pingMs);
  };
  const stopKeepalive = () => {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pongTimer = undefined;
  };

  const attachLink = (l: Link) => {
    link = l;
    l.listen({
      message: onMessage,
      pong: () => {
        clearTimeout(pongTimer);
        pongTimer = undefined;
      },
      close: (code, reason, error) => onClose(l, code, reason, error),
    });
    startKeepalive(l);
  };

  const onClose = (l: Link, code: number, reason: string, error?: string) => {
    if (l !== link) return;
    link = null;
    stopKeepalive();
    if (finished) return;
    if (NORMAL.has(code) || !RETRYABLE.has(code)) {
      finish({ how: "closed", code, reason });
      return;
    }
    if (!opts.redial) {
      finish({ how: "lost", code, reason, error });
      return;
    }
    void reconnect(code, reason, error);
  };

  const reconnect = async (code: number, reason: string, error?: string) => {
    const giveUpAt = Date.now() + t.retryGiveUpMs;
    let wait = t.retryFirstMs;
    for (let attempt = 1; !finished; attempt++) {
      term.status(`[lap] connection lost (${error ?? code}) — reconnecting, attempt ${attempt}…${giveUp}`);
      // Jitter keeps a fleet of clients from reconnecting in lockstep.
      await sleep(wait * (0.75 + random() * 0.5));
      wait = Math.min(wait * 2, t.retryMaxMs);
      if (finished) return;
      try {
        const alive = opts.alive ? await opts.alive() : true;
        if (alive !== true) {
          finish({ how: "ended", why: alive });
          return;
        }
        const l = await opts.redial!();
        if (finished) {
          l.close(1000);
          return;
        }
        attachLink(l);
        term.status("");
        repaint(l);
        flushHeld();
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === 401 || status === 403 || status === 404) {
          finish({ how: "refused", error: err as Error });
          return;
        }
        error = (err as Error).message;
      }
      if (Date.now() >= giveUpAt) {
        finish({ how: "lost", code, reason, error });
        return;
      }
    }
  };

  // A resize to one column more and back makes the remote program redraw
  // its whole screen, as kubectl and docker do on attach.
  const repaint = (l: Link) => {
    const size = term.size();
    if (!size) return;
    l.sendControl({ type: "resize", cols: size.cols + 1, rows: size.rows });
    l.sendControl({ type: "resize", cols: size.cols, rows: size.rows });
    lastSize = `${size.cols}x${size.rows}`;
    opts.onResize?.(size);
  };

  const flushHeld = () => {
    const data = held;
    held = [];
    heldBytes = 0;
    droppedNotice = false;
    for (const d of data) sendInput(d);
  };

  const offResize = term.onResize(onResize);
  const offSignal = term.onSignal((signal) => finish({ how: "signal", signal }));

  // finish ends the bridge once: stops reading, says goodbye on a detach,
  // lets output drain, undoes what the remote program left switched on,
  // and restores the terminal.
  const finish = (end: End) => {
    if (finished) return;
    finished = true;
    clearTimeout(resizeTimer);
    stopKeepalive();
    offResize();
    offSignal();
    term.input.off("data", onInput);
    term.input.off("end", onInputEnd);
    term.input.pause();
    if (link) {
      const l = link;
      // The close handshake is not waited for: the session lives on either way.
      l.listen({ message: () => {}, pong: () => {}, close: () => {} });
      l.close(1000, end.how === "detached" ? "detach" : "");
      link = null;
    }
    const reset = modes.reset();
    if (reset.length > 0 && term.outputIsTTY) term.output.write(reset);
    void drained(term.output).then(() => {
      if (raw) term.setRawMode(false);
      resolveEnd(end);
    });
  };

  attachLink(first);
  sendSize(true);
  term.input.on("data", onInput);
  term.input.on("end", onInputEnd);
  term.input.resume();
  return ended;
}

// drained resolves once everything written to the stream has been handed
// on, so no output is lost when lap exits right after. An empty write's
// callback runs after every write queued before it.
function drained(out: Writable): Promise<void> {
  if (out.writableLength === 0 || out.destroyed || out.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    out.once("error", () => resolve());
    out.write("", () => resolve());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
