// Chat mode, for agents whose harness has no terminal (supports_tui: false):
// each line read is sent as one message (SPEC §1 POST .../message) and the
// text of the answer printed once the agent's turn is over. On a terminal a
// spinner shows the time passing, Ctrl-C stops waiting for the answer, a
// second Ctrl-C at the prompt leaves, and Ctrl-D ends the chat; the session
// keeps running either way. Piped, every line is sent in turn and every
// answer printed, so scripts can use it.

import * as readline from "node:readline";
import { Writable } from "node:stream";
import { HttpError, type Api, type Part, type Session } from "./api.js";
import { describe, visible } from "./errors.js";
import { say, type IO } from "./io.js";

export interface ChatOptions {
  // The agent's name for messages.
  name: string;
  // The command that comes back to the session.
  again: string;
  // Spinner frame period; tests shorten it.
  spinMs?: number;
}

const PROMPT = "> ";
const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
// Ten frames a second: smooth enough, and cheap.
const SPIN_MS = 100;
// Answers to these end the chat: the key was refused or the session is gone.
const FATAL = new Set([401, 403, 404, 409, 410]);
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };
// The exit status for leaving with Ctrl-C twice, as a shell reports SIGINT.
const EXIT_INTERRUPTED = 130;

// chat talks to the session until stdin ends (0), the user presses Ctrl-C
// twice at the prompt (130) or a signal arrives (128 + its number). On a
// terminal a failed message is reported and the prompt comes back; piped,
// the first failure is thrown, so a script stops with status 1.
export async function chat(io: IO, api: Api, session: Session, opts: ChatOptions): Promise<number> {
  const interactive = io.stdinIsTTY;
  // Typed echo goes to stderr through this, muted while an answer is awaited
  // so it does not fight the spinner; lines typed meanwhile wait their turn.
  let muted = false;
  const echo = new Writable({
    write(chunk, _enc, done) {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: io.stdin, output: interactive ? echo : undefined, terminal: interactive, prompt: PROMPT });
  let waiting: AbortController | null = null;
  let pressedCtrlC = false;
  let exitCode = 0;
  let closed = false;
  rl.on("close", () => (closed = true));

  const leave = (code: number) => {
    exitCode = code;
    waiting?.abort();
    rl.close();
  };
  rl.on("SIGINT", () => {
    if (waiting) {
      waiting.abort();
      return;
    }
    if (pressedCtrlC) return leave(EXIT_INTERRUPTED);
    pressedCtrlC = true;
    rl.write(null, { ctrl: true, name: "u" });
    io.stderr.write(`\n· press Ctrl-C again to leave, or Ctrl-D; the session keeps running\n`);
    rl.prompt();
  });
  const offSignal = io.terminal().onSignal((signal) => leave(128 + (SIGNAL_NUMBERS[signal] ?? 1)));

  const id = session.id.slice(0, 8);
  say(io, `· chatting with ${visible(opts.name, 60)} (session ${id})` +
    (interactive ? " — Enter sends, Ctrl-C stops waiting for an answer, Ctrl-D ends the chat" : ""));
  try {
    if (interactive) rl.prompt();
    for await (const line of rl) {
      // Leaving drops the lines still queued; a plain end of input does not.
      if (exitCode !== 0) break;
      pressedCtrlC = false;
      if (line.trim() !== "") {
        waiting = new AbortController();
        muted = interactive;
        try {
          await turn(io, api, session, line, waiting.signal, opts, interactive);
        } finally {
          waiting = null;
          muted = false;
        }
      }
      if (interactive && !closed) rl.prompt();
    }
  } finally {
    offSignal();
    rl.close();
  }
  if (interactive) io.stderr.write("\n");
  say(io, `· chat ended — session ${session.id} keeps running; continue: ${opts.again}`);
  return exitCode;
}

// turn sends one line and prints the answer. Cancelling is not an error; a
// failure is thrown when piped or fatal, and reported otherwise.
async function turn(io: IO, api: Api, session: Session, line: string, signal: AbortSignal, opts: ChatOptions, interactive: boolean): Promise<void> {
  const label = `${visible(opts.name, 40)} is working`;
  const spin = io.stderrIsTTY ? spinner(io, label, interactive ? " (Ctrl-C stops waiting)" : "", opts.spinMs ?? SPIN_MS) : null;
  let parts: Part[];
  try {
    parts = await api.sendMessage(session.id, line, signal);
  } catch (err) {
    spin?.stop();
    if (signal.aborted) {
      say(io, "· stopped waiting; the agent may still finish that turn");
      return;
    }
    if (!interactive || (err instanceof HttpError && FATAL.has(err.status))) throw err;
    say(io, `! no answer: ${describe(err)}`);
    return;
  }
  spin?.stop();
  printAnswer(io, parts);
}

// printAnswer writes the text parts to stdout, each ending in a newline, and
// counts the others (tool calls, reasoning) on stderr.
export function printAnswer(io: IO, parts: Part[]): void {
  const texts = parts.filter((p) => p.type === "text" && typeof p.text === "string").map((p) => p.text as string);
  for (const text of texts) {
    const shown = io.stdoutIsTTY ? terminalSafe(text) : text;
    io.stdout.write(shown.endsWith("\n") ? shown : shown + "\n");
  }
  const others = new Map<string, number>();
  for (const p of parts) if (!(p.type === "text" && typeof p.text === "string")) others.set(p.type, (others.get(p.type) ?? 0) + 1);
  const summary = [...others].map(([type, n]) => `${n} ${visible(type, 30)}`).join(", ");
  if (summary) say(io, `· (${summary} part${parts.length - texts.length > 1 ? "s" : ""} not shown)`);
  else if (texts.length === 0) say(io, "· (the answer has no text)");
}

// terminalSafe keeps newlines and tabs but shows other control characters
// as \xNN, so an answer cannot move the cursor or retitle the window.
function terminalSafe(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function spinner(io: IO, label: string, hint: string, periodMs: number): { stop(): void } {
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const glyph = SPINNER[frame++ % SPINNER.length];
    io.stderr.write(`\r\x1b[K${glyph} ${label}… ${elapsed(Date.now() - started)}${hint}`);
  };
  draw();
  const timer = setInterval(draw, periodMs);
  return {
    stop() {
      clearInterval(timer);
      io.stderr.write("\r\x1b[K");
    },
  };
}

// elapsed reads "7s", "2m05s", "1h02m".
export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}
