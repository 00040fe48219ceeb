// The chat side of the local platform: messages sent to an agent without a
// terminal, streamed answers (text/event-stream of `data: <json>` lines),
// abort, history, the tail of events and skills. Each turn plays a script a
// test chooses, so deltas can be cut at awkward places, tools can change
// status and a turn can end in any of the ways real harnesses end one.

import { randomUUID } from "node:crypto";
import type http from "node:http";

export type ToolStatus = "pending" | "running" | "completed" | "error";

/** One step of an agent's turn, played in order. */
export type ChatStep =
  /** A text part: sent as deltas cut at these code-unit offsets ("each": one per code unit), then as a whole part unless noUpdate; skip drops those deltas. */
  | { text: string; cuts?: number[] | "each"; skip?: number[]; noUpdate?: boolean }
  /** A reasoning part, sent as deltas cut at these code-unit offsets (one delta without), then whole. */
  | { reasoning: string; cuts?: number[] }
  /** A tool part walking through these states; error is the failed state's error. */
  | { tool: string; states: ToolStatus[]; error?: string; output?: string }
  /** The assistant message's info: tokens and cost. */
  | { info: { tokens?: Record<string, number>; cost?: number } }
  | { sleepMs: number }
  /** Waits until the turn is aborted. */
  | { hold: true }
  /** The message_stream connection ends here without done; the turn goes on. */
  | { cutStream: true }
  /** How the turn ends: session.idle (default), session.error without idle, session.aborted, or no event at all. */
  | { end: "idle" | "error" | "aborted" | "none"; message?: string }
  /** A harness event sent exactly as given. */
  | { raw: unknown };

export interface Skill {
  id: string;
  name: string;
  description: string;
  content: string;
  created_at: string;
}

export interface ChatOptions {
  /** The agent's answer to a prompt; default: one text part "echo: <prompt>". */
  chatScript?: (prompt: string) => ChatStep[];
  /** message_stream answers 404, like older platforms. */
  noStreamRoute?: boolean;
  /** message_stream fails with an error event before ready. */
  streamFailsBeforeReady?: boolean;
  /** The message_stream cut (real platform: 600 s). */
  streamCutMs?: number;
  /** The GET events cut (real platform: 600 s). */
  eventsCutMs?: number;
  /** Heartbeat period on both streams (real platform: about 10 s). */
  heartbeatMs?: number;
  /** The stream's bytes are written this many at a time (1: one byte at a time). */
  chunkBytes?: number;
  /** Abort answers ok but the turn goes on, like a stuck harness. */
  abortIgnored?: boolean;
  /** Abort is taken this long after it arrives, as over a slow link. */
  abortDelayMs?: number;
  /** What the stream shows after an abort; default session.aborted then session.idle. */
  abortShows?: "aborted" | "error" | "idle";
  /** The skills GET /api/v1/skills lists; default two. */
  skills?: { name: string; description: string; content: string }[];
}

export interface SentMessage {
  sessionId: string;
  route: "message" | "message_stream";
  body: Record<string, unknown>;
}

interface Message {
  info: Record<string, unknown>;
  parts: Record<string, unknown>[];
}

interface Thread {
  messages: Message[];
  listeners: Set<(event: unknown) => void>;
  running: Turn | null;
}

interface Turn {
  aborted: boolean;
  wake: (() => void) | null;
  ended: Promise<Message>;
}

const STREAM_CUT_MS = 600_000;
const HEARTBEAT_MS = 10_000;
const MAX_ATTACHMENTS = 10;
const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
/** What the real platform puts before the first user message. */
export const INJECTED_PREFIX = (sessionId: string) =>
  `[SYSTEM: Your LAP session_id is ${sessionId}. Use it when calling LAP tools.]\n\n` +
  "<system_instructions>\nBe brief.\n</system_instructions>\n\n";

const DEFAULT_SKILLS = [
  { name: "review", description: "Review code for bugs", content: "Review the code for bugs. List each with a line number." },
  { name: "summarise", description: "Summarise a text", content: "Summarise in three sentences." },
];

/** ChatFake holds every session's thread and answers the chat routes. */
export class ChatFake {
  readonly sent: SentMessage[] = [];
  /** Session ids, one per POST abort received. */
  readonly aborts: string[] = [];
  private readonly threads = new Map<string, Thread>();

  // onTurn hears of each finished turn (the platform's timeline records it).
  constructor(private readonly options: () => ChatOptions, private readonly onTurn?: (sessionId: string, prompt: string, answer: string) => void) {}

  thread(sessionId: string): Thread {
    let t = this.threads.get(sessionId);
    if (!t) {
      t = { messages: [], listeners: new Set(), running: null };
      this.threads.set(sessionId, t);
    }
    return t;
  }

  /** Adds finished turns to a session's history, as if they had happened. */
  seed(sessionId: string, turns: { user: string; parts: Record<string, unknown>[] }[]): void {
    const t = this.thread(sessionId);
    for (const turn of turns) {
      const first = t.messages.length === 0;
      const userId = "msg_" + randomUUID();
      t.messages.push({
        info: { id: userId, role: "user", time: { created: Date.now() } },
        parts: [{ id: "prt_" + randomUUID(), messageID: userId, type: "text", text: (first ? INJECTED_PREFIX(sessionId) : "") + turn.user }],
      });
      const id = "msg_" + randomUUID();
      t.messages.push({ info: { id, role: "assistant", time: { created: Date.now(), completed: Date.now() } }, parts: turn.parts.map((p) => ({ id: "prt_" + randomUUID(), messageID: id, ...p })) });
    }
  }

  skills(res: http.ServerResponse): void {
    const list = this.options().skills ?? DEFAULT_SKILLS;
    const data = list.map((s, i) => ({ id: `skill_${i + 1}`, ...s, created_at: new Date(0).toISOString() }));
    sendJson(res, 200, { data });
  }

  messages(sessionId: string, res: http.ServerResponse): void {
    sendJson(res, 200, this.thread(sessionId).messages);
  }

  abort(sessionId: string, res: http.ServerResponse): void {
    const delay = this.options().abortDelayMs;
    if (delay) {
      setTimeout(() => this.abortNow(sessionId, res), delay);
      return;
    }
    this.abortNow(sessionId, res);
  }

  private abortNow(sessionId: string, res: http.ServerResponse): void {
    this.aborts.push(sessionId);
    const turn = this.thread(sessionId).running;
    if (turn && !this.options().abortIgnored) {
      turn.aborted = true;
      turn.wake?.();
    }
    sendJson(res, 200, { ok: true });
  }

  /** POST S/message: holds the request until the turn is over. */
  async message(sessionId: string, body: unknown, res: http.ServerResponse): Promise<void> {
    const prompt = this.accept(sessionId, "message", body, res);
    if (prompt === null) return;
    const final = await this.startTurn(sessionId, prompt).ended;
    sendJson(res, 200, final);
  }

  /** POST S/message_stream: ready, the turn's events, done. */
  messageStream(sessionId: string, body: unknown, res: http.ServerResponse): void {
    const o = this.options();
    if (o.noStreamRoute) return sendJson(res, 404, { error: "not found" });
    const prompt = this.accept(sessionId, "message_stream", body, res);
    if (prompt === null) return;
    const stream = this.openStream(res, o.streamCutMs ?? STREAM_CUT_MS);
    if (o.streamFailsBeforeReady) {
      stream.send({ type: "error", message: "harness unreachable" });
      return stream.end();
    }
    stream.send({ type: "ready" });
    const thread = this.thread(sessionId);
    const listener = (event: unknown) => {
      if (event === CUT) return stream.end();
      if (event === DONE) {
        stream.send({ type: "done" });
        return stream.end();
      }
      stream.send({ type: "harness_event", event });
    };
    thread.listeners.add(listener);
    stream.onEnd(() => thread.listeners.delete(listener));
    this.startTurn(sessionId, prompt);
  }

  /** Hands each harness event of the session's turns to fn, for GET S/events; returns how to stop. */
  listen(sessionId: string, fn: (event: unknown) => void): () => void {
    const thread = this.thread(sessionId);
    const listener = (event: unknown) => {
      if (event !== CUT && event !== DONE) fn(event);
    };
    thread.listeners.add(listener);
    return () => thread.listeners.delete(listener);
  }

  /** Checks a message body as the platform does; answers 400 and returns null when it is wrong. */
  private accept(sessionId: string, route: SentMessage["route"], body: unknown, res: http.ServerResponse): string | null {
    if (!isRecord(body)) {
      sendJson(res, 500, { error: "invalid request body" });
      return null;
    }
    let text: string | null = typeof body.text === "string" ? body.text : null;
    if (text === null && Array.isArray(body.parts)) {
      text = body.parts.map((p) => (isRecord(p) && typeof p.text === "string" ? p.text : "")).join("");
    }
    if (text === null) {
      sendJson(res, 400, { error: "text or parts is required" });
      return null;
    }
    const problem = attachmentProblem(body.attachments);
    if (problem) {
      sendJson(res, 400, { error: problem });
      return null;
    }
    this.sent.push({ sessionId, route, body });
    return text;
  }

  private openStream(res: http.ServerResponse, cutMs: number) {
    const o = this.options();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    let ended = false;
    const onEnd: (() => void)[] = [];
    let queue = Promise.resolve();
    const write = (text: string) => {
      const bytes = Buffer.from(text);
      const size = o.chunkBytes ?? bytes.length;
      queue = queue.then(async () => {
        for (let i = 0; i < bytes.length && !res.destroyed; i += size) {
          res.write(bytes.subarray(i, i + size));
          if (size < bytes.length) await new Promise((r) => setImmediate(r));
        }
      });
    };
    const stream = {
      send(event: unknown) {
        if (!ended) write(`data: ${JSON.stringify(event)}\n\n`);
      },
      end() {
        if (ended) return;
        ended = true;
        clearInterval(beat);
        clearTimeout(cut);
        onEnd.forEach((f) => f());
        void queue.then(() => res.end());
      },
      onEnd(f: () => void) {
        onEnd.push(f);
      },
    };
    const beat = setInterval(() => stream.send({ type: "harness_event", event: { type: "server.heartbeat", properties: {} } }), o.heartbeatMs ?? HEARTBEAT_MS);
    const cut = setTimeout(() => {
      stream.send({ type: "error", message: "stream timeout" });
      stream.end();
    }, cutMs);
    res.on("close", () => stream.end());
    return stream;
  }

  /** Plays the script for one prompt; the turn runs on whatever happens to the connections. */
  private startTurn(sessionId: string, prompt: string): Turn {
    const thread = this.thread(sessionId);
    const turn: Turn = { aborted: false, wake: null, ended: Promise.resolve(null as unknown as Message) };
    thread.running = turn;
    turn.ended = this.play(sessionId, thread, turn, prompt).finally(() => {
      if (thread.running === turn) thread.running = null;
    });
    void turn.ended.then((m) => this.onTurn?.(sessionId, prompt, m.parts.map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : "")).join("")));
    return turn;
  }

  private async play(sessionId: string, thread: Thread, turn: Turn, prompt: string): Promise<Message> {
    const emit = (event: unknown) => thread.listeners.forEach((l) => l(event));
    const o = this.options();
    const first = thread.messages.length === 0;
    const userId = "msg_" + randomUUID();
    const userText = (first ? INJECTED_PREFIX(sessionId) : "") + prompt;
    const userPart = { id: "prt_" + randomUUID(), messageID: userId, sessionID: sessionId, type: "text", text: userText };
    thread.messages.push({ info: { id: userId, role: "user", time: { created: Date.now() } }, parts: [userPart] });
    emit({ type: "message.updated", properties: { info: { id: userId, role: "user" } } });
    emit({ type: "message.part.updated", properties: { part: userPart } });

    const id = "msg_" + randomUUID();
    const answer: Message = { info: { id, role: "assistant", time: { created: Date.now() } }, parts: [] };
    thread.messages.push(answer);
    emit({ type: "message.updated", properties: { info: answer.info } });
    const part = (fields: Record<string, unknown>): Record<string, unknown> & { id: string; text?: string; state?: unknown } => {
      const p = { id: "prt_" + randomUUID(), messageID: id, sessionID: sessionId, ...fields };
      answer.parts.push(p);
      return p;
    };
    const steps: ChatStep[] = o.chatScript ? o.chatScript(prompt) : [{ text: "echo: " + prompt }];
    let end: { end: string; message?: string } = { end: "idle" };
    for (const step of steps) {
      if (turn.aborted) break;
      if ("text" in step) {
        const p = part({ type: "text", text: "" });
        const pieces = cutText(step.text, step.cuts);
        pieces.forEach((delta, i) => {
          if (step.skip?.includes(i)) return;
          p.text = (p.text ?? "") + delta;
          emit({ type: "message.part.delta", properties: { sessionID: sessionId, messageID: id, partID: p.id, field: "text", delta } });
        });
        p.text = step.text;
        if (!step.noUpdate) emit({ type: "message.part.updated", properties: { part: { ...p } } });
      } else if ("reasoning" in step) {
        const p = part({ type: "reasoning", text: step.reasoning });
        for (const delta of cutText(step.reasoning, step.cuts)) {
          emit({ type: "message.part.delta", properties: { sessionID: sessionId, messageID: id, partID: p.id, field: "reasoning", delta } });
        }
        emit({ type: "message.part.updated", properties: { part: { ...p } } });
      } else if ("tool" in step) {
        const p = part({ type: "tool", tool: step.tool, callID: "call_" + randomUUID().slice(0, 8), state: {} });
        for (const status of step.states) {
          const state: Record<string, unknown> = { status, input: {} };
          if (status === "completed") state.output = step.output ?? "";
          if (status === "error") state.error = step.error ?? "failed";
          p.state = state;
          emit({ type: "message.part.updated", properties: { part: { ...p } } });
        }
      } else if ("info" in step) {
        Object.assign(answer.info, step.info);
        emit({ type: "message.updated", properties: { info: { ...answer.info } } });
      } else if ("sleepMs" in step) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, step.sleepMs);
          turn.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      } else if ("hold" in step) {
        if (!turn.aborted) await new Promise<void>((resolve) => (turn.wake = resolve));
      } else if ("cutStream" in step) {
        emit(CUT);
      } else if ("end" in step) {
        end = step;
        break;
      } else if ("raw" in step) {
        emit(step.raw);
      }
    }
    (answer.info.time as Record<string, unknown>).completed = Date.now();
    if (turn.aborted) {
      const shows = o.abortShows ?? "aborted";
      if (shows === "aborted") emit({ type: "session.aborted", properties: { sessionID: sessionId } });
      if (shows === "error") emit({ type: "session.error", properties: { sessionID: sessionId, error: { name: "MessageAbortedError", message: "aborted" } } });
      emit({ type: "session.idle", properties: { sessionID: sessionId } });
      emit(DONE);
      return answer;
    }
    if (end.end === "idle") emit({ type: "session.idle", properties: { sessionID: sessionId } });
    if (end.end === "error") emit({ type: "session.error", properties: { sessionID: sessionId, message: end.message ?? "the model failed" } });
    if (end.end === "aborted") emit({ type: "session.aborted", properties: { sessionID: sessionId } });
    if (end.end !== "none") emit(DONE);
    return answer;
  }
}

const CUT = Symbol("cut");
const DONE = Symbol("done");

/** Splits text at the given code-unit offsets (a cut may fall inside a surrogate pair). */
export function cutText(text: string, cuts: number[] | "each" | undefined): string[] {
  if (cuts === undefined) return [text];
  const at = cuts === "each" ? [...Array(text.length).keys()].slice(1) : [...cuts].sort((a, b) => a - b);
  const pieces: string[] = [];
  let from = 0;
  for (const c of at) {
    if (c <= from || c >= text.length) continue;
    pieces.push(text.slice(from, c));
    from = c;
  }
  pieces.push(text.slice(from));
  return pieces;
}

function attachmentProblem(attachments: unknown): string | null {
  if (attachments === undefined) return null;
  if (!Array.isArray(attachments)) return "attachments must be an array";
  if (attachments.length > MAX_ATTACHMENTS) return `at most ${MAX_ATTACHMENTS} attachments`;
  for (const a of attachments) {
    if (!isRecord(a) || typeof a.mime_type !== "string" || typeof a.base64 !== "string") return "attachment needs mime_type and base64";
    if (!IMAGE_TYPES.has(a.mime_type)) return `unsupported attachment type ${a.mime_type}`;
    if (a.base64.startsWith("data:") || !/^[A-Za-z0-9+/]*={0,2}$/.test(a.base64)) return "attachment base64 is invalid";
    if (Buffer.from(a.base64, "base64").length > MAX_ATTACHMENT_BYTES) return "attachment too large";
  }
  return null;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
