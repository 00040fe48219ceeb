// Chat mode, for agents whose harness has no terminal (supports_tui: false).
// Each message is sent with POST .../message_stream and the answer printed
// as it is written: text as its deltas arrive (rendered markdown on a colour
// terminal), each tool call as one line, reasoning as a count. Ctrl-C during
// a turn asks the platform to stop the agent; twice at the prompt leaves.
// Lines starting with / are the chat's commands and the platform's skills.
// Piped, every line (or all of stdin) is sent in turn, each answer's text
// printed exactly, and the first failure ends the chat with status 1.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { StringDecoder } from "node:string_decoder";
import { Transform, Writable } from "node:stream";
import { HttpError, type Answer, type Api, type MessageBody, type Part, type Session, type Skill } from "./api.js";
import { describe, EXIT_INTERRUPTED, EXIT_OK, exitForSignal, LapError } from "./errors.js";
import { FOLLOW_ATTEMPTS, MAX_EVENT_BYTES, TooLarge, follow, readEvents, sleep } from "./events.js";
import { type IO } from "./io.js";
import { AnswerWriter, dim, terminalSafe, textMode } from "./markdown.js";
import { cleanText, fitWidth, isShellWord, json, say, visible } from "./output.js";

export interface ChatOptions {
  // The agent's name for messages.
  name: string;
  // The command that comes back to the session.
  again: string;
  // Spinner frame period; tests shorten it.
  spinMs?: number;
  // Show the agent's reasoning (on stderr) instead of only counting it.
  showThinking?: boolean;
  // Turns of earlier conversation shown on entry (default 3; 0 for none).
  history?: number;
  // Piped: send all of stdin as one message instead of one per line.
  stdinMessage?: boolean;
  // Print one JSON object per turn on stdout instead of the answer's text.
  json?: boolean;
  // How long Ctrl-C waits for the agent to confirm it stopped.
  abortWaitMs?: number;
}

const PROMPT = "> ";
const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
// Ten frames a second: smooth enough, and cheap.
const SPIN_MS = 100;
// The agent usually stops within a second of an abort; a stuck harness must
// not keep the prompt away for long.
const ABORT_WAIT_MS = 5_000;
// An abort still on its way when the chat ends gets this long to arrive, so
// that Ctrl-C, Ctrl-C, Ctrl-D does not leave the agent running unasked.
const ABORT_SEND_MS = 2_000;
const HISTORY_TURNS = 3;
// Line-editing history kept within one chat.
const LINE_HISTORY = 500;
// Answers to these end the chat: the key was refused or the session is gone.
const FATAL = new Set([401, 403, 404, 409, 410]);
// The platform's limits on images sent with a message.
export const MAX_ATTACHMENTS = 10;
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
const COMMANDS = ["/help", "/attach ", "/history", "/quit"];
// Tab offers skill names up to this long, and this many names at once: a
// platform's list is not to flood the terminal.
const COMPLETION_NAME_MAX = 60;
const COMPLETIONS_SHOWN = 30;
// Tab waits this long at most for the skills' list: readline reads no key
// until it has an answer, Ctrl-C and Ctrl-D included.
const COMPLETION_WAIT_MS = 1_000;

interface ToolCall {
  name: string;
  status: string;
  error?: string;
}

type EndHow = "done" | "idle" | "error" | "aborted";

// chat talks to the session until stdin ends (0), the user presses Ctrl-C
// twice at the prompt (130), types /quit (0) or a signal arrives (128 + its
// number). On a terminal a failed message is reported and the prompt comes
// back; piped, the first failure is thrown, so a script stops with status 1.
export async function chat(io: IO, api: Api, session: Session, opts: ChatOptions): Promise<number> {
  return new Chat(io, api, session, opts).run();
}

class Chat {
  private readonly interactive: boolean;
  private readonly colourErr: boolean;
  private rl: readline.Interface | null = null;
  private current: TurnControl | null = null;
  private exitCode = 0;
  private pressedCtrlC = false;
  private streamMissingSaid = false;
  private skillList: Promise<Skill[]> | null = null;
  private attachments: NonNullable<MessageBody["attachments"]> = [];
  private pastes: PasteFilter | null = null;
  private leaving = false;
  private aborting: Promise<void> | null = null;
  private stopReading: (() => void) | null = null;

  constructor(private readonly io: IO, private readonly api: Api, private readonly session: Session, private readonly opts: ChatOptions) {
    this.interactive = io.stdinIsTTY;
    this.colourErr = (io.stderrIsTTY ?? false) && io.settings.colour;
  }

  async run(): Promise<number> {
    const { io } = this;
    const term = io.terminal();
    const offSignal = term.onSignal((signal) => this.leave(exitForSignal(signal)));
    const id = this.session.id.slice(0, 8);
    say(io, `· chatting with ${visible(this.opts.name, 60)} (session ${id})` +
      (this.interactive ? " — Enter sends, / lists commands and skills, Ctrl-C stops the agent, Ctrl-D ends the chat" : ""));
    try {
      if (this.interactive) await this.runInteractive(term);
      else if (this.opts.stdinMessage) await this.runWhole();
      else await this.runLines();
    } finally {
      offSignal();
    }
    if (this.aborting) {
      const waited = new AbortController();
      await Promise.race([this.aborting, sleep(ABORT_SEND_MS, waited.signal)]);
      waited.abort();
    }
    if (this.interactive) io.stderr.write("\n");
    say(io, `· chat ended — session ${this.session.id} keeps running; continue: ${this.opts.again}`);
    return this.exitCode;
  }

  private leave(code: number): void {
    this.exitCode = code;
    this.leaving = true;
    this.stopReading?.();
    this.current?.cancel.abort();
    this.rl?.close();
  }

  // ---- input ----

  private async runLines(): Promise<void> {
    this.rl = readline.createInterface({ input: this.io.stdin, terminal: false });
    try {
      for await (const line of this.rl) {
        if (this.leaving) break;
        await this.handle(line);
        if (this.leaving) break;
      }
    } finally {
      this.rl.close();
    }
  }

  // runWhole sends all of stdin once it ends. A signal meanwhile ends the
  // reading, as stdin may be a pipe that stays open, and nothing is sent.
  private async runWhole(): Promise<void> {
    const { stdin } = this.io;
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(Buffer.from(chunk));
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        stdin.off("data", onData).off("end", done).off("error", done);
        this.stopReading = null;
        if (err) reject(err);
        else resolve();
      };
      this.stopReading = () => done();
      stdin.on("data", onData).on("end", done).on("error", done);
      if (this.leaving) done();
    });
    const text = Buffer.concat(chunks).toString("utf8").replace(/\n+$/, "");
    if (text.trim() !== "" && !this.leaving) await this.send(text);
  }

  private async runInteractive(term: ReturnType<IO["terminal"]>): Promise<void> {
    const { io } = this;
    // Typed echo goes to stderr through this, muted while an answer is
    // written so the two do not mix; lines typed meanwhile wait their turn.
    let muted = false;
    const echo = new Writable({
      write(chunk, _enc, done) {
        if (!muted) io.stderr.write(chunk);
        done();
      },
    });
    this.pastes = new PasteFilter();
    io.stdin.pipe(this.pastes);
    const rl = readline.createInterface({
      input: this.pastes,
      output: echo,
      terminal: true,
      prompt: PROMPT,
      historySize: LINE_HISTORY,
      completer: (line: string, done: (err: null, result: [string[], string]) => void) => {
        void this.complete(line).then((hits) => done(null, [hits, line]));
      },
    });
    this.rl = rl;
    let closed = false;
    rl.on("close", () => {
      closed = true;
      // Ctrl-D during a turn ends the chat: with readline gone, nothing
      // would read a Ctrl-C any more.
      if (this.current && !this.leaving) this.leave(EXIT_OK);
    });
    rl.on("SIGINT", () => this.interrupt());
    // Ctrl-Z: readline stops the process, but cannot reach the terminal
    // through the paste filter, so the shell would get it raw; and back
    // from fg it leaves its input paused, so nothing typed would be read.
    const offSuspend = term.onSuspend?.({
      suspend: () => {
        io.stderr.write(PASTE_OFF);
        term.setRawMode(false);
      },
      resume: () => {
        term.setRawMode(true);
        io.stderr.write(PASTE_ON);
      },
    });
    rl.on("SIGCONT", () => rl.resume());
    // Made now, so lines typed while the history loads are kept.
    const lines = rl[Symbol.asyncIterator]();
    term.setRawMode(true);
    // Bracketed paste: the terminal marks pasted text, so several pasted
    // lines are one message.
    io.stderr.write(PASTE_ON);
    try {
      await this.showHistory(this.opts.history ?? HISTORY_TURNS, true);
      // The cursor stays where typing ahead left it, not at the line's start.
      rl.prompt(true);
      for (let next = await lines.next(); !next.done; next = await lines.next()) {
        const line = next.value;
        // Leaving drops the lines still queued; a plain end of input does not.
        if (this.leaving) break;
        this.pressedCtrlC = false;
        muted = true;
        try {
          await this.handle(this.pastes.expand(line));
        } finally {
          muted = false;
        }
        if (!closed && !this.leaving) rl.prompt();
      }
    } finally {
      offSuspend?.();
      io.stderr.write(PASTE_OFF);
      rl.close();
      io.stdin.unpipe(this.pastes);
      term.setRawMode(false);
    }
  }

  // interrupt is Ctrl-C on a terminal: during a turn it stops the agent,
  // then stops waiting; at the prompt it clears the line, then leaves.
  private interrupt(): void {
    const turn = this.current;
    if (turn) {
      if (turn.abortSent) return turn.cancel.abort();
      turn.abortSent = true;
      turn.status("· stopping the agent… (Ctrl-C again stops waiting)");
      this.aborting = this.api.abortTurn(this.session.id).catch((err) => this.say(`! could not stop the agent: ${describe(err)}`));
      turn.abortTimer = setTimeout(() => turn.cancel.abort(), this.opts.abortWaitMs ?? ABORT_WAIT_MS);
      return;
    }
    if (this.pressedCtrlC) return this.leave(EXIT_INTERRUPTED);
    this.pressedCtrlC = true;
    this.rl?.write(null, { ctrl: true, name: "u" });
    this.io.stderr.write(`\n· press Ctrl-C again to leave, or Ctrl-D; the session keeps running\n`);
    this.rl?.prompt();
  }

  // complete is Tab at the prompt. readline writes what it offers as it
  // is, and inserts it whole: only skills whose names are plain words that
  // visible() would leave as they are, and not too long, are offered (/
  // lists the others), and at most COMPLETIONS_SHOWN of them at once.
  private async complete(line: string): Promise<string[]> {
    if (!line.startsWith("/") || line.includes(" ")) return [];
    const waited = new AbortController();
    const listed = await Promise.race([this.skills().catch(() => []), sleep(COMPLETION_WAIT_MS, waited.signal).then(() => [])]);
    waited.abort();
    const skills = listed.filter((s) => isShellWord(s.name) && visible(s.name, COMPLETION_NAME_MAX) === s.name);
    const names = [...COMMANDS, ...skills.map((s) => "/" + s.name + " ")];
    const hits = names.filter((n) => n.startsWith(line));
    if (hits.length <= COMPLETIONS_SHOWN) return hits;
    // What all of them start with is still typed for the user, as readline
    // would have; the "more" line below would stop it doing so.
    const common = commonPrefix(hits);
    if (common.length > line.length) return [common];
    return [...hits.slice(0, COMPLETIONS_SHOWN), `(+${hits.length - COMPLETIONS_SHOWN} more: type more of the name)`];
  }

  // ---- commands ----

  // handle sends a line or runs the command it names. Refusals are thrown
  // when piped (the script is wrong) and reported on a terminal.
  private async handle(line: string): Promise<void> {
    if (line.trim() === "") return;
    if (line.startsWith("//")) return this.send(line.slice(1));
    if (!line.startsWith("/")) return this.send(line);
    const word = line.slice(1).split(/[ \t]/)[0];
    const arg = line.slice(1 + word.length).trim();
    switch (word) {
      case "":
        return this.listSkills();
      case "help":
        return this.help();
      case "quit":
      case "exit":
        return this.leave(0);
      case "history":
        return this.showHistory(arg === "" ? HISTORY_TURNS : Number(arg), false);
      case "attach":
        return this.attach(arg);
    }
    let skills: Skill[];
    try {
      skills = await this.skills();
    } catch (err) {
      return this.refuse(`/${visible(word, 40)}: the platform's skills could not be listed: ${describe(err)}`, "try again");
    }
    const skill = skills.find((s) => s.name === word);
    if (!skill) {
      return this.refuse(`unknown command /${visible(word, 40)}`, "/help lists the commands and / the skills; start a line with // to send it beginning with /");
    }
    return this.send(`<skill name="${skill.name}">\n${skill.content}\n</skill>\n\n${arg}`);
  }

  // say writes a line of lap's own. During a turn it goes above the
  // spinner: written on the spinner's line, it would be mixed with it.
  private say(line: string): void {
    if (this.current) this.current.say(line);
    else say(this.io, line);
  }

  private refuse(message: string, hint: string): void {
    if (!this.interactive) throw new LapError(message, hint);
    this.say(`! ${message}`);
    this.say(`  ${hint}`);
  }

  private help(): void {
    this.say([
      "· commands:",
      "  /                 list the platform's skills (Tab completes their names)",
      "  /<skill> text     send text with a skill",
      "  /attach <file>    attach an image (png, jpeg, gif, webp) to the next message",
      "  /history [n]      show the last n turns (default 3)",
      "  /help             this list",
      "  /quit             end the chat (the session keeps running)",
      "  //text            send a line that starts with /",
      "  Ctrl-C stops the agent's turn; twice at the prompt ends the chat",
    ].join("\n"));
  }

  // skills is the platform's list, asked for once; a failure is not kept,
  // so the next use asks again.
  private skills(): Promise<Skill[]> {
    this.skillList ??= this.api.skills().catch((err) => {
      this.skillList = null;
      throw err;
    });
    return this.skillList;
  }

  private async listSkills(): Promise<void> {
    let skills: Skill[];
    try {
      skills = await this.skills();
    } catch (err) {
      return this.say(`! the platform's skills could not be listed: ${describe(err)}`);
    }
    if (skills.length === 0) return this.say("· this platform offers no skills (/help lists the commands)");
    const width = Math.max(...skills.map((s) => visible(s.name, 40).length));
    this.say("· skills (send one with /<name> text):\n" +
      skills.map((s) => `  /${visible(s.name, 40).padEnd(width)}  ${visible(s.description, 100)}`).join("\n"));
  }

  private async attach(arg: string): Promise<void> {
    if (arg === "") return this.refuse("/attach needs a file", "for example: /attach ~/screenshot.png");
    const file = expandPath(arg, this.io.home);
    const shown = visible(arg, 80);
    if (this.attachments.length >= MAX_ATTACHMENTS) {
      return this.refuse(`not attached: ${shown}: at most ${MAX_ATTACHMENTS} images go with one message`, "send the message first");
    }
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch (err) {
      return this.refuse(`not attached: ${shown}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : describe(err)}`, "give the image's path");
    }
    if (size > MAX_ATTACHMENT_BYTES) {
      return this.refuse(`not attached: ${shown} is ${megabytes(size)}; the platform takes at most ${megabytes(MAX_ATTACHMENT_BYTES)} per image`, "make it smaller first");
    }
    const bytes = fs.readFileSync(file);
    const mime = imageType(bytes);
    if (!mime) return this.refuse(`not attached: ${shown} is not a PNG, JPEG, GIF or WebP image`, "only images can be attached");
    this.attachments.push({ name: path.basename(file), mime_type: mime, base64: bytes.toString("base64") });
    this.say(`· attached ${shown} (${mime}, ${megabytes(bytes.length)}); it goes with your next message`);
  }

  // ---- history ----

  private async showHistory(turns: number, entering: boolean): Promise<void> {
    if (!Number.isInteger(turns) || turns < 0) return this.refuse("/history takes a number of turns", "for example: /history 5");
    if (turns === 0) return;
    // stdout holds one JSON object per turn sent, and nothing else.
    if (this.opts.json) {
      if (!entering) this.refuse("/history is not shown with --json", "without --json the history is shown");
      return;
    }
    let thread: Answer[];
    try {
      thread = await this.api.messages(this.session.id);
    } catch (err) {
      if (!entering) this.say(`! no history: ${describe(err)}`);
      return;
    }
    const starts = thread.map((m, i) => (m.info.role === "user" ? i : -1)).filter((i) => i >= 0);
    if (starts.length === 0) {
      if (!entering) this.say("· no turns yet");
      return;
    }
    const from = starts[Math.max(0, starts.length - turns)];
    const shown = starts.length - starts.indexOf(from);
    sayDim(this.io, this.colourErr, `· ${entering ? "where this chat left off" : "history"}: the last ${shown === 1 ? "turn" : `${shown} turns`}`);
    for (let i = from; i < thread.length; i++) {
      const m = thread[i];
      if (m.info.role === "user") this.showUser(userText(m, i === starts[0]));
      else if (m.info.role === "assistant") {
        const view = new TurnView(this.io, this.opts, this.colourErr);
        view.handle({ type: "message.updated", properties: { info: m.info } });
        m.parts.forEach((part, n) => view.handle({ type: "message.part.updated", properties: { part: { id: `${i}.${n}`, messageID: m.info.id, ...part } } }));
        view.finish(false);
      }
    }
  }

  private showUser(text: string): void {
    const lines = terminalSafe(text).split("\n").map((l) => "> " + l).join("\n");
    this.io.stdout.write((textMode(this.io.stdoutIsTTY, this.io.settings.colour) === "rendered" ? dim(lines) : lines) + "\n");
  }

  // ---- turns ----

  // send runs one turn; failures end the chat when piped or fatal.
  private async send(text: string): Promise<void> {
    const body: MessageBody = { text };
    if (this.attachments.length > 0) body.attachments = this.attachments;
    this.attachments = [];
    const turn = new TurnControl(this.io, this.opts, this.interactive);
    this.current = turn;
    const view = new TurnView(this.io, this.opts, this.colourErr, () => turn.quiet(), text);
    try {
      const how = await this.stream(view, body, turn.cancel.signal);
      if (how === "fallback") await this.blocking(view, body, turn.cancel.signal);
    } catch (err) {
      turn.stop();
      view.finish(false);
      if (turn.cancel.signal.aborted) {
        if (!this.leaving) this.say("· stopped waiting; the agent may still finish that turn");
        return;
      }
      if (this.opts.json) this.io.stdout.write(view.json(describe(err)));
      if (!this.interactive || (err instanceof HttpError && FATAL.has(err.status))) throw err;
      this.say(`! no answer: ${describe(err)}`);
      return;
    } finally {
      this.current = null;
      turn.stop();
    }
    view.finish(true);
    if (view.ended?.how === "aborted" || (turn.abortSent && view.ended)) this.say("· stopped the agent");
    else if (view.ended?.how === "error") {
      const message = `the agent's turn failed: ${visible(view.ended.message ?? "no reason given", 300)}`;
      if (!this.interactive) throw new LapError(message);
      this.say(`! ${message}`);
    }
  }

  // stream runs the turn over message_stream. It returns "fallback" when the
  // stream failed before the prompt was sent, so it is safe to send again.
  private async stream(view: TurnView, body: MessageBody, signal: AbortSignal): Promise<"ended" | "fallback"> {
    let events: AsyncIterable<Uint8Array>;
    try {
      events = await this.api.streamMessage(this.session.id, body, signal);
    } catch (err) {
      // A refused key is refused on every route: no point trying another.
      if (signal.aborted || (err instanceof HttpError && (err.status === 401 || err.status === 403))) throw err;
      return this.fallback(describe(err));
    }
    let ready = false;
    try {
      for await (const ev of readEvents(events)) {
        if (!isRecord(ev)) continue;
        if (ev.type === "ready") ready = true;
        else if (ev.type === "harness_event") view.handle(ev.event);
        else if (ev.type === "done") view.end("done");
        else if (ev.type === "error") {
          if (!ready) return this.fallback(visible(ev.message, 200));
          break;
        }
        if (view.ended) return "ended";
      }
    } catch (err) {
      if (signal.aborted || err instanceof TooLarge) throw err;
      if (!ready) return this.fallback(describe(err));
    }
    if (!ready) return this.fallback("the stream ended before the agent got the message");
    // Cut (the platform's 600 s limit, or the connection dropped) while the
    // turn goes on: follow it through the session's events until it ends.
    await this.follow(view, signal);
    return "ended";
  }

  private fallback(reason: string): "fallback" {
    if (!this.streamMissingSaid) {
      this.say(`· no streamed answer (${reason}); waiting for whole answers instead`);
      this.streamMissingSaid = true;
    }
    return "fallback";
  }

  private async blocking(view: TurnView, body: MessageBody, signal: AbortSignal): Promise<void> {
    const answer = await this.api.sendTurn(this.session.id, body, signal);
    const id = answer.info.id ?? "answer";
    view.handle({ type: "message.updated", properties: { info: { role: "assistant", ...answer.info, id } } });
    // The platform need not give parts ids; each needs one to be shown.
    answer.parts.forEach((part, n) => view.handle({ type: "message.part.updated", properties: { part: { id: `${id}.${n}`, messageID: id, ...part } } }));
    view.end("done");
  }

  // follow reads the session's events until the turn ends, stream after
  // stream, as events.ts's follow bounds it.
  private async follow(view: TurnView, signal: AbortSignal): Promise<void> {
    await follow(async () => {
      const brought = await this.followOnce(view, signal);
      return view.ended ? "over" : brought ? "brought" : "empty";
    }, signal, () => new LapError(`the session's event stream ended ${FOLLOW_ATTEMPTS} times in a row with nothing in it; stopped following the turn`,
      "the agent may still be working: its answer is in /history"));
  }

  // followOnce reads one stream of the session's events; true when it
  // brought anything. The stream has its own signal, tied to the turn's
  // only while it is open, so the turn's gathers no listener per stream.
  private async followOnce(view: TurnView, turn: AbortSignal): Promise<boolean> {
    const own = new AbortController();
    const stop = () => own.abort(turn.reason);
    turn.addEventListener("abort", stop, { once: true });
    try {
      const events = await this.api.followEvents(this.session.id, own.signal);
      // The tail replays nothing: the turn may have ended while no stream
      // was open, which only the history tells.
      if (await this.endedInHistory(view)) return true;
      let brought = false;
      try {
        for await (const ev of readEvents(events)) {
          if (!isRecord(ev)) continue;
          // Heartbeats and the platform's cut bring nothing: a turn whose
          // harness died would be waited for through cut after cut.
          if (ev.type === "harness_event" && !(isRecord(ev.event) && ev.event.type === "server.heartbeat")) brought = true;
          if (ev.type === "harness_event") view.handle(ev.event);
          if (view.ended || ev.type === "error") break;
        }
      } catch (err) {
        if (turn.aborted || err instanceof TooLarge) throw err;
      }
      return brought;
    } finally {
      turn.removeEventListener("abort", stop);
      // Ends the stream's request, and its timeout, if still open.
      own.abort();
    }
  }

  private async endedInHistory(view: TurnView): Promise<boolean> {
    let thread: Answer[];
    try {
      thread = await this.api.messages(this.session.id);
    } catch {
      return false;
    }
    const last = thread[thread.length - 1];
    const time = last?.info.time as { completed?: unknown } | undefined;
    if (!last || last.info.role !== "assistant" || !view.isAssistant(last.info.id) || !time?.completed) return false;
    view.handle({ type: "message.updated", properties: { info: last.info } });
    for (const part of last.parts) view.handle({ type: "message.part.updated", properties: { part: { messageID: last.info.id, ...part } } });
    view.end("idle");
    return true;
  }
}

// TurnControl is what Ctrl-C and signals reach during a turn: the cancel
// switch, whether an abort went out, and the status line.
class TurnControl {
  readonly cancel = new AbortController();
  abortSent = false;
  abortTimer: NodeJS.Timeout | null = null;
  private spin: Spinner | null = null;

  constructor(private readonly io: IO, opts: ChatOptions, interactive: boolean) {
    if (io.stderrIsTTY) this.spin = spinner(io, `${visible(opts.name, 40)} is working`, interactive ? " (Ctrl-C stops the agent)" : "", opts.spinMs ?? SPIN_MS);
  }

  // quiet clears the spinner before anything else is written.
  quiet(): void {
    this.spin?.stop();
    this.spin = null;
  }

  status(line: string): void {
    this.quiet();
    say(this.io, line);
  }

  // say writes a line above the spinner, which goes on under it.
  say(line: string): void {
    this.spin?.clear();
    say(this.io, line);
    this.spin?.draw();
  }

  stop(): void {
    this.quiet();
    if (this.abortTimer) clearTimeout(this.abortTimer);
  }
}

// TurnView follows one turn's harness events and shows them: text through
// the answer writer, tool calls one line each, reasoning counted.
class TurnView {
  ended: { how: EndHow; message?: string } | null = null;
  private readonly roles = new Map<string, string>();
  // Text parts in the order they appeared, with the text shown so far.
  private readonly texts = new Map<string, string>();
  // All text appended, bounded as one event is: an endless answer is cut.
  private answerChars = 0;
  private current: string | null = null;
  private readonly tools = new Map<string, ToolCall>();
  private readonly reasoning = new Map<string, number>();
  // Per reasoning part, the first half of a character the platform cut
  // between two deltas (a surrogate pair), shown once its second half comes.
  private readonly halfChar = new Map<string, string>();
  private info: Record<string, unknown> = {};
  private readonly writer: AnswerWriter;
  private readonly started = Date.now();
  // The tool whose line was written last, so its next status can replace it.
  private lastLine: string | null = null;

  // prompt is the message sent, so that its own part is never taken for
  // the answer when the event naming its role arrives late or not at all.
  constructor(private readonly io: IO, private readonly opts: ChatOptions, private readonly colourErr: boolean,
    private readonly beforeOutput = () => {}, private readonly prompt = "") {
    this.writer = new AnswerWriter(textMode(io.stdoutIsTTY, io.settings.colour));
  }

  isAssistant(id: unknown): boolean {
    return typeof id === "string" && this.roles.get(id) === "assistant";
  }

  end(how: EndHow, message?: string): void {
    this.ended ??= { how, message };
  }

  handle(event: unknown): void {
    if (!isRecord(event) || !isRecord(event.properties)) return;
    const p = event.properties;
    switch (event.type) {
      case "message.updated":
        if (isRecord(p.info) && typeof p.info.id === "string" && typeof p.info.role === "string") {
          this.roles.set(p.info.id, p.info.role);
          if (p.info.role === "assistant") this.info = { ...this.info, ...p.info };
        }
        return;
      case "message.part.delta":
        if (this.fromUser(p.messageID) || typeof p.partID !== "string" || typeof p.delta !== "string") return;
        if (p.field === "text") this.appendText(p.partID, p.delta);
        else if (p.field === "reasoning") this.think(p.partID, p.delta, false);
        return;
      case "message.part.updated":
        if (isRecord(p.part)) this.partUpdated(p.part);
        return;
      case "session.idle":
        return this.end("idle");
      case "session.aborted":
        return this.end("aborted");
      case "session.error":
        return this.end("error", errorMessage(p));
    }
  }

  private fromUser(messageID: unknown): boolean {
    return typeof messageID === "string" && this.roles.get(messageID) === "user";
  }

  private partUpdated(part: Record<string, unknown>): void {
    if (this.fromUser(part.messageID) || typeof part.id !== "string") return;
    if (part.type === "text" && typeof part.text === "string") {
      const roleKnown = typeof part.messageID === "string" && this.roles.has(part.messageID);
      if (!roleKnown && !this.texts.has(part.id) && this.prompt !== "" && part.text.endsWith(this.prompt)) return;
      this.repairText(part.id, part.text);
    }
    else if (part.type === "reasoning" && typeof part.text === "string") this.think(part.id, part.text, true);
    else if (part.type === "tool") this.toolUpdated(part.id, part);
  }

  private appendText(id: string, delta: string): void {
    this.answerChars += delta.length;
    if (this.answerChars > MAX_EVENT_BYTES) throw new TooLarge(`the answer is over ${MAX_EVENT_BYTES} characters; stopped reading it`);
    if (this.opts.json) {
      this.texts.set(id, (this.texts.get(id) ?? "") + delta);
      return;
    }
    if (this.current !== id) {
      // A new part starts on a line of its own.
      this.flushText();
      this.current = id;
      this.texts.set(id, this.texts.get(id) ?? "");
    }
    this.texts.set(id, this.texts.get(id)! + delta);
    this.writeOut(this.writer.push(delta));
  }

  // repairText makes what was shown of a part equal the whole part: the
  // missing end is written; text that went wrong is written again whole.
  private repairText(id: string, whole: string): void {
    const shown = this.texts.get(id);
    if (shown === undefined) return this.appendText(id, whole);
    if (shown === whole) return;
    if (whole.startsWith(shown) && (this.current === id || this.opts.json)) return this.appendText(id, whole.slice(shown.length));
    if (this.opts.json) return void this.texts.set(id, whole);
    this.flushText();
    this.say("· part of the answer was lost on the way; here it is whole:");
    this.current = id;
    this.texts.set(id, whole);
    this.writeOut(this.writer.push(whole));
  }

  private flushText(): void {
    if (this.current === null) return;
    this.endLine();
    this.current = null;
  }

  // endLine writes all the writer holds and ends its line.
  private endLine(): void {
    this.writeOut(this.writer.end());
    if (!this.writer.atLineStart) this.writeOut(this.writer.push("\n"));
  }

  private writeOut(text: string): void {
    if (text === "") return;
    this.beforeOutput();
    this.lastLine = null;
    this.io.stdout.write(text);
  }

  private think(id: string, text: string, whole: boolean): void {
    const before = this.reasoning.get(id) ?? 0;
    const now = whole ? Math.max(before, text.length) : before + text.length;
    this.reasoning.set(id, now);
    if (!this.opts.showThinking || this.opts.json) return;
    let piece = (this.halfChar.get(id) ?? "") + (whole ? text.slice(before) : text);
    const last = piece.charCodeAt(piece.length - 1);
    const cut = last >= 0xd800 && last <= 0xdbff;
    this.halfChar.set(id, cut ? piece.slice(-1) : "");
    if (cut) piece = piece.slice(0, -1);
    if (piece === "") return;
    this.beforeOutput();
    this.lastLine = null;
    const safe = terminalSafe(piece);
    this.io.stderr.write(this.colourErr ? dim(safe) : safe);
  }

  private toolUpdated(id: string, part: Record<string, unknown>): void {
    const state = isRecord(part.state) ? part.state : {};
    const call: ToolCall = {
      name: typeof part.tool === "string" ? part.tool : "tool",
      status: typeof state.status === "string" ? state.status : "pending",
    };
    if (state.status === "error") call.error = errorText(state.error);
    const before = this.tools.get(id);
    this.tools.set(id, call);
    if (before?.status === call.status || this.opts.json) return;
    const settled = call.status === "completed" || call.status === "error";
    // Piped, only the outcome: one line per call.
    if (!this.io.stderrIsTTY && !settled) return;
    this.beforeOutput();
    // On a terminal what the writer holds (a word, a markup that may yet
    // close) goes out, its line ended, before the call's line: else the
    // rest of the word would be written after it. Piped, stdout is the
    // answer's text exactly, and the call's line is on stderr anyway.
    if (this.io.stdoutIsTTY && this.current !== null) this.endLine();
    // On a terminal the call's line is rewritten in place while it is the last line.
    const replace = this.io.stderrIsTTY && this.lastLine === id ? "\x1b[1A\r\x1b[K" : "";
    this.io.stderr.write(replace + toolLine(call, this.colourErr) + "\n");
    this.lastLine = id;
  }

  // finish ends the turn's output: the answer's last line, calls that never
  // settled, and the meta line (seconds, tokens, cost) or the JSON object.
  finish(meta: boolean): void {
    this.flushText();
    if (this.opts.json) {
      if (meta) this.io.stdout.write(this.json());
      return;
    }
    if (!this.io.stderrIsTTY) {
      for (const call of this.tools.values()) {
        if (call.status !== "completed" && call.status !== "error") this.io.stderr.write(toolLine({ ...call, status: "unfinished" }, false) + "\n");
      }
    }
    if (!meta) return;
    if (this.texts.size === 0) this.say("· (the answer has no text)");
    this.beforeOutput();
    this.lastLine = null;
    sayDim(this.io, this.colourErr, "· " + this.metaLine());
  }

  private metaLine(): string {
    const bits = [`${((Date.now() - this.started) / 1000).toFixed(1)}s`];
    const tokens = isRecord(this.info.tokens) ? this.info.tokens : {};
    if (typeof tokens.output === "number") bits.push(`${tokens.output} tokens out`);
    if (typeof this.info.cost === "number") bits.push(`$${this.info.cost.toFixed(4)}`);
    const thought = [...this.reasoning.values()].reduce((a, b) => a + b, 0);
    if (thought > 0 && !this.opts.showThinking) bits.push(`thought ${thought} characters (--show-thinking shows them)`);
    return bits.join(" · ");
  }

  text(): string {
    return [...this.texts.values()].join("");
  }

  json(error?: string): string {
    const tokens = isRecord(this.info.tokens) ? this.info.tokens : null;
    const cost = typeof this.info.cost === "number" ? this.info.cost : null;
    const out: Record<string, unknown> = {
      text: this.text(),
      tools: [...this.tools.values()],
      tokens,
      cost,
      seconds: Math.round((Date.now() - this.started) / 100) / 10,
      ended: this.ended?.how ?? null,
    };
    if (error ?? this.ended?.message) out.error = error ?? this.ended?.message;
    return json(out, 0);
  }

  private say(line: string): void {
    this.beforeOutput();
    this.lastLine = null;
    say(this.io, line);
  }
}

function toolLine(call: ToolCall, colour: boolean): string {
  const name = visible(call.name, 60);
  switch (call.status) {
    case "completed":
      return `✓ ${name}`;
    case "error":
      return `✗ ${name}: ${call.error ?? "failed"}`;
    case "running":
      return `· ${name} running…`;
    default:
      return dimIf(colour, `· ${name} ${call.status === "pending" ? "waiting…" : "did not finish"}`);
  }
}

// errorText is the first line of a tool's or session's error, made safe.
function errorText(error: unknown): string {
  let text: unknown = typeof error === "string" ? error : isRecord(error) ? (isRecord(error.data) && typeof error.data.message === "string" ? error.data.message : error.message) : undefined;
  if (typeof text !== "string" || text.trim() === "") return "failed";
  return visible(text.trim().split("\n")[0], 200);
}

function errorMessage(p: Record<string, unknown>): string {
  if (typeof p.message === "string") return errorText(p.message);
  return errorText(p.error);
}

// userText is what the user typed: the first message's injected text is
// dropped, and a skill is shown as the /command that sent it.
export function userText(m: Answer, first: boolean): string {
  let text = m.parts.filter((p: Part) => p.type === "text" && typeof p.text === "string").map((p) => p.text).join("");
  if (first) text = withoutInjected(text);
  const skill = /^<skill name="([^"]*)">\n[\s\S]*?\n<\/skill>\n\n/.exec(text);
  if (skill) text = `/${skill[1]} ${text.slice(skill[0].length)}`;
  return text;
}

// withoutInjected drops what the platform puts before a first message: a
// [SYSTEM: …] line and <system_instructions> or <previous_session_history>
// blocks, in any order.
export function withoutInjected(text: string): string {
  for (;;) {
    const s = text.replace(/^\s+/, "");
    let rest: string | null = null;
    if (s.startsWith("[SYSTEM:")) {
      const end = s.indexOf("]\n");
      rest = end === -1 ? "" : s.slice(end + 2);
    }
    for (const tag of ["system_instructions", "previous_session_history"]) {
      if (s.startsWith(`<${tag}>`)) {
        const close = s.indexOf(`</${tag}>`);
        rest = close === -1 ? "" : s.slice(close + tag.length + 3);
      }
    }
    if (rest === null) return text === s ? text : s;
    text = rest;
  }
}

// imageType names an image by its first bytes; null for anything else.
export function imageType(b: Buffer): string | null {
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return "image/png";
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b.length >= 6 && (b.toString("latin1", 0, 6) === "GIF87a" || b.toString("latin1", 0, 6) === "GIF89a")) return "image/gif";
  if (b.length >= 12 && b.toString("latin1", 0, 4) === "RIFF" && b.toString("latin1", 8, 12) === "WEBP") return "image/webp";
  return null;
}

// expandPath reads a path as a shell would have given it: quotes and
// backslash-escaped spaces (what dropping a file on a terminal types), ~.
function expandPath(arg: string, home: string): string {
  let p = arg;
  if (/^(['"]).*\1$/.test(p)) p = p.slice(1, -1);
  else p = p.replace(/\\(.)/g, "$1");
  if (p === "~" || p.startsWith("~/")) p = path.join(home || os.homedir(), p.slice(1));
  return p;
}

function megabytes(n: number): string {
  return n < 1024 * 1024 ? `${Math.ceil(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function dimIf(colour: boolean, text: string): string {
  return colour ? dim(text) : text;
}

// sayDim writes one line of lap's own to stderr, dim when colour is wanted;
// the line is made safe first, as say does, and the style added after.
function sayDim(io: IO, colour: boolean, line: string): void {
  io.stderr.write(dimIf(colour, cleanText(line)) + "\n");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const PASTE_ON = "\x1b[?2004h";
const PASTE_OFF = "\x1b[?2004l";
const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";

// PasteFilter sits between the terminal and readline. A bracketed paste of
// several lines reaches readline as one placeholder ("[pasted text #1, 3
// lines]"), which expand turns back into the pasted text when the line is
// sent; a one-line paste passes as typed.
export class PasteFilter extends Transform {
  private readonly pasted: string[] = [];
  private readonly decoder = new StringDecoder("utf8");
  private pasting = false;
  private buffer = "";
  private held = "";

  _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.feed(this.decoder.write(chunk));
    done();
  }

  expand(line: string): string {
    return line.replace(/\[pasted text #(\d+), \d+ lines\]/g, (all, n: string) => this.pasted[Number(n) - 1] ?? all);
  }

  private feed(text: string): void {
    let s = this.held + text;
    this.held = "";
    while (s !== "") {
      const marker = this.pasting ? PASTE_END : PASTE_START;
      const at = s.indexOf(marker);
      if (at === -1) {
        // A marker may be cut between reads: keep its start for the next.
        const keep = partialSuffix(s, marker);
        this.pass(s.slice(0, s.length - keep));
        this.held = s.slice(s.length - keep);
        return;
      }
      this.pass(s.slice(0, at));
      s = s.slice(at + marker.length);
      if (this.pasting) this.pasteEnded();
      else this.buffer = "";
      this.pasting = !this.pasting;
    }
  }

  private pass(text: string): void {
    if (text === "") return;
    if (this.pasting) this.buffer += text;
    else this.push(text);
  }

  private pasteEnded(): void {
    const text = this.buffer.replace(/\r\n?/g, "\n").replace(/\n+$/, "");
    this.buffer = "";
    if (!text.includes("\n")) {
      if (text !== "") this.push(text);
      return;
    }
    this.pasted.push(text);
    this.push(`[pasted text #${this.pasted.length}, ${text.split("\n").length} lines]`);
  }
}

function commonPrefix(words: string[]): string {
  let prefix = words[0] ?? "";
  for (const w of words) while (!w.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

function partialSuffix(s: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, s.length); n > 0; n--) {
    if (s.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

interface Spinner {
  draw(): void;
  // clear empties the spinner's line for a line of lap's own.
  clear(): void;
  stop(): void;
}

function spinner(io: IO, label: string, hint: string, periodMs: number): Spinner {
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const glyph = SPINNER[frame++ % SPINNER.length];
    // Cut to the window: a line that wrapped would not be cleared by \r.
    io.stderr.write(`\r\x1b[K${fitWidth(`${glyph} ${label}… ${elapsed(Date.now() - started)}${hint}`, io.terminal().size()?.cols)}`);
  };
  draw();
  const timer = setInterval(draw, periodMs);
  const clear = () => io.stderr.write("\r\x1b[K");
  return {
    draw,
    clear,
    stop() {
      clearInterval(timer);
      clear();
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
