// Golden frames: reads frame recordings (internal/frames.ts) and replays each against the real
// bridge (tty.ts), in-process, over a real WebSocket on 127.0.0.1, checking
// that the bridge is byte-exact whatever the frame boundaries. `make golden`
// runs it over testdata/frames (or FRAMES=<dir>); golden_test.ts runs it under
// `make test`. Not installed.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { readRecording, type Close, type Event, type Recording } from "../frames.js";
import { ModeTracker } from "../modes.js";
import { memoryTerminal, type MemoryTerminal } from "../testutil/testterm.js";
import { DEFAULT_DETACH_KEYS, detachRule, parseDetachKeys } from "../keys.js";
import { bridge, CTRL_D, type BridgeOptions, type End, type Size, type Terminal } from "../tty.js";
import { dial, type Link } from "../ws.js";

// ----------------------------------------------------------- expectation --

// What the server receives from the client: window sizes, and keystroke bytes
// merged between them (frame boundaries do not count).
export type ClientItem = { kind: "resize"; cols: number; rows: number } | { kind: "keys"; bytes: Buffer };

// What the bridge must do with a recording.
interface Expected {
  // The server payloads, concatenated.
  output: Buffer;
  client: ClientItem[];
  close: Close;
}

// Close codes with no status on the wire: 1005 is sent as a close frame
// without a code, 1006 as a dropped connection.
const NO_STATUS = 1005;
const DROPPED = 1006;
const DETACH = 1000;

function expectations(rec: Recording): Expected {
  const output: Buffer[] = [];
  const client: ClientItem[] = [];
  for (const ev of rec.events) {
    if (ev.type === "close") continue;
    if (ev.from === "server") output.push(ev.bytes);
    else addClientFrame(client, ev.type === "binary", ev.bytes);
  }
  const close = rec.events.at(-1) as Close;
  if (close.from === "client" && close.code !== DETACH) {
    throw new Error(`${rec.file}:${close.line}: a client close with ${close.code} cannot be replayed: the bridge closes with ${DETACH} (detach) only`);
  }
  return { output: Buffer.concat(output), client, close };
}

// addClientFrame files one client frame the way the harness reads it
// (as the harness reads them): a text frame holding a resize is a resize, every other frame is
// keystrokes.
function addClientFrame(items: ClientItem[], binary: boolean, bytes: Buffer): void {
  const size = binary ? null : resizeOf(bytes);
  if (size) {
    items.push({ kind: "resize", ...size });
    return;
  }
  const last = items.at(-1);
  if (last?.kind === "keys") last.bytes = Buffer.concat([last.bytes, bytes]);
  else items.push({ kind: "keys", bytes: Buffer.from(bytes) });
}

function resizeOf(bytes: Buffer): Size | null {
  if (bytes[0] !== 0x7b) return null;
  try {
    const msg = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    if (msg?.type === "resize" && Number.isInteger(msg.cols) && Number.isInteger(msg.rows)) return { cols: msg.cols as number, rows: msg.rows as number };
  } catch {
    // keystrokes that happen to start with "{"
  }
  return null;
}

// --------------------------------------------------------------- cutting --

// A Cut decides the frame boundaries of a replay: how each recorded payload
// is split into server frames, and each recorded keystroke frame into reads.
export interface Cut {
  name: string;
  // A generator: a 1 MiB payload in single bytes is a million pieces.
  pieces(bytes: Buffer): Iterable<Buffer>;
}

export const AS_RECORDED: Cut = { name: "frames as recorded", pieces: (b) => [b] };

export const ONE_BYTE: Cut = {
  name: "one-byte frames",
  *pieces(b) {
    for (let i = 0; i < b.length; i++) yield b.subarray(i, i + 1);
  },
};

// The seed of the random cuts, fixed so a failure can be reproduced.
export const SEED = 20_240_229;

// randomCut cuts every payload at random points: mostly a few pieces of
// varied length, down to single bytes, reproducible from the seed.
export function randomCut(seed: number): Cut {
  const random = mulberry32(seed);
  return {
    name: `random cuts (seed ${seed})`,
    *pieces(b) {
      for (let at = 0; at < b.length; ) {
        // Squaring skews towards short pieces without ruling out long ones.
        const len = 1 + Math.floor(random() ** 2 * (b.length - at));
        yield b.subarray(at, at + len);
        at += len;
      }
    },
  };
}

// mulberry32 is a small seeded PRNG (public domain), good enough for cuts.
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// inputReads cuts a keystroke frame into stdin reads. A read of the lone
// byte 0x04 is a detach, so a 0x04 cut out of a longer frame is
// kept together with a neighbour: the recorded keys must stay keys.
function inputReads(bytes: Buffer, cut: Cut): Buffer[] {
  const out: Buffer[] = [];
  let carry: Buffer | null = null;
  for (const p of cut.pieces(bytes)) {
    const piece: Buffer = carry ? Buffer.concat([carry, p]) : p;
    carry = null;
    if (!isLoneCtrlD(piece) || bytes.length === 1) out.push(piece);
    else if (out.length > 0) out[out.length - 1] = Buffer.concat([out[out.length - 1]!, piece]);
    else carry = piece;
  }
  return out;
}

function isLoneCtrlD(b: Buffer): boolean {
  return b.length === 1 && b[0] === CTRL_D;
}

// ---------------------------------------------------------------- replay --

export type BridgeFn = (term: Terminal, link: Link, opts: BridgeOptions) => Promise<End>;

export interface ReplayOptions {
  // The bridge under test; tests hand in a broken one to see it caught.
  bridge?: BridgeFn;
  // How long any one step may take before the replay gives up.
  stepMs?: number;
}

// What one replay produced.
export interface Outcome {
  end: End;
  // Every byte the bridge wrote to stdout.
  stdout: Buffer;
  // What the server received, filed like the recording's client frames.
  client: ClientItem[];
  // Keystroke frames that arrived as text: the harness wants them binary.
  textKeystrokes: number;
  // The close the server saw.
  serverSaw: { code: number; reason: string };
  rawCalls: boolean[];
}

// Generous for a loaded 2-core machine; a healthy step takes milliseconds.
const STEP_MS = 15_000;
// The resize debounce, short: replays raise each resize only after the
// previous one has arrived, so nothing is coalesced away.
const REPLAY_TIMINGS = { resizeSettleMs: 1 };
// Stop queueing server frames past this until the socket has caught up,
// so a 1 MiB payload cut into single bytes does not pile up in memory.
const SEND_WINDOW = 1 << 20;
const POLL_MS = 2;

// replay plays one recording against the bridge with the given cuts and
// reports what came out; it throws when a step does not happen in time.
export async function replay(rec: Recording, cut: Cut, opts: ReplayOptions = {}): Promise<Outcome> {
  const stepMs = opts.stepMs ?? STEP_MS;
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, skipUTF8Validation: true });
  const peer = new Peer(wss);
  try {
    await new Promise<void>((resolve, reject) => wss.once("listening", resolve).once("error", reject));
    const link = await dial(`ws://127.0.0.1:${(wss.address() as { port: number }).port}/tty`);
    await until(() => peer.ws !== null, "the server to accept the connection", stepMs);
    const size = rec.header.cols > 0 ? { cols: rec.header.cols, rows: rec.header.rows } : null;
    const m = memoryTerminal({ size, isTTY: true });
    const ended = (opts.bridge ?? bridge)(m.term, link, { detach: detachRule(parseDetachKeys(DEFAULT_DETACH_KEYS)), timings: REPLAY_TIMINGS });
    const player = new Player(m, peer, cut, stepMs, size !== null);
    for (const ev of rec.events) await player.play(ev);
    const end = await withDeadline(ended, stepMs, "the bridge to end");
    await until(() => peer.closed !== null, "the server to see the close", stepMs);
    return { end, stdout: m.output(), client: peer.items, textKeystrokes: peer.textKeystrokes, serverSaw: peer.closed!, rawCalls: m.rawCalls };
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
}

// Player plays a recording's events in order with no gaps between them (the
// timing compressed away), waiting only where order matters: a resize after
// the keys typed before it, a close after everything before it.
class Player {
  // What the client has been given to send so far, filed as the server files it.
  private fed: ClientItem[] = [];
  private keysFed = 0;
  private resizesDue = 0;
  private outputSent = 0;

  // initialSizePending: the bridge sends the starting size by itself, so the
  // recording's first resize is that one, not a window change to raise.
  constructor(private m: MemoryTerminal, private peer: Peer, private cut: Cut, private stepMs: number,
    private initialSizePending: boolean) {}

  async play(ev: Event): Promise<void> {
    if (ev.type === "close") await this.close(ev);
    else if (ev.from === "server") await this.serverFrame(ev.bytes, ev.type === "binary");
    else await this.clientFrame(ev.bytes, ev.type === "binary");
  }

  private async serverFrame(bytes: Buffer, binary: boolean): Promise<void> {
    for (const piece of this.cut.pieces(bytes)) {
      const full = sendFrame(this.peer.ws!, piece, binary);
      if (full) await full;
    }
    this.outputSent += bytes.length;
  }

  private async clientFrame(bytes: Buffer, binary: boolean): Promise<void> {
    addClientFrame(this.fed, binary, bytes);
    const size = binary ? null : resizeOf(bytes);
    if (size && this.initialSizePending) {
      this.initialSizePending = false;
      this.resizesDue++;
    } else if (size) {
      await this.clientCaughtUp();
      this.m.resize(size.cols, size.rows);
      this.resizesDue++;
      await this.clientCaughtUp();
    } else {
      for (const read of inputReads(bytes, this.cut)) this.m.input.write(read);
      this.keysFed += bytes.length;
    }
  }

  private async close(ev: Close): Promise<void> {
    await this.clientCaughtUp();
    const server = this.peer.ws!;
    if (ev.from === "client") {
      // The detach comes last: after all the output the recording saw.
      await until(() => this.m.output().length >= this.outputSent,
        () => `stdout to receive ${this.outputSent} bytes (has ${this.m.output().length})`, this.stepMs);
      this.m.input.write(Buffer.from([CTRL_D]));
    } else if (ev.code === NO_STATUS) server.close();
    else if (ev.code === DROPPED) server.terminate();
    else server.close(ev.code, ev.reason);
  }

  private clientCaughtUp(): Promise<void> {
    const { peer } = this;
    return until(() => peer.keyBytes >= this.keysFed && peer.resizes >= this.resizesDue,
      () => `the server to receive ${this.keysFed} key bytes and ${this.resizesDue} resizes (has ${peer.keyBytes} and ${peer.resizes}); ` +
        `what it has ${firstItemDifference(this.fed, peer.items, true) ?? "is right so far"}`, this.stepMs);
  }
}

// Peer is the server's side of the replay: it takes the one connection and
// files everything the client sends.
class Peer {
  ws: WebSocket | null = null;
  items: ClientItem[] = [];
  keyBytes = 0;
  resizes = 0;
  textKeystrokes = 0;
  closed: { code: number; reason: string } | null = null;

  constructor(wss: WebSocketServer) {
    wss.on("connection", (ws) => {
      if (this.ws) return void ws.terminate();
      this.ws = ws;
      ws.on("message", (data: RawData, isBinary: boolean) => this.receive(toBuffer(data), isBinary));
      ws.on("close", (code, reason) => (this.closed = { code, reason: reason.toString() }));
      ws.on("error", () => {});
    });
  }

  private receive(bytes: Buffer, binary: boolean): void {
    if (!binary && resizeOf(bytes)) this.resizes++;
    else {
      this.keyBytes += bytes.length;
      if (!binary) this.textKeystrokes++;
    }
    addClientFrame(this.items, binary, bytes);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

// sendFrame queues a frame; past SEND_WINDOW it returns a promise of the
// frame having been written, for the caller to wait on.
function sendFrame(ws: WebSocket, piece: Buffer, binary: boolean): Promise<void> | undefined {
  if (ws.bufferedAmount < SEND_WINDOW) {
    ws.send(piece, { binary });
    return undefined;
  }
  return new Promise((resolve, reject) => ws.send(piece, { binary }, (err) => (err ? reject(err) : resolve())));
}

async function until(cond: () => boolean, what: string | (() => string), ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- checks --

// check compares one outcome with what the recording says must happen and
// returns the problems found, each naming the first difference.
export function check(rec: Recording, o: Outcome): string[] {
  const want = expectations(rec);
  const problems: string[] = [];
  // Replays run with stdout a terminal, the path users take: the bridge then
  // ends by switching off the modes the program left on (modes.ts). That
  // suffix is legitimate output, so it is expected explicitly; the tracker
  // reads the whole stream at once here and frame by frame in the bridge, so
  // the cuts also check that it follows sequences across frames.
  const tracker = new ModeTracker();
  tracker.scan(want.output);
  const stdout = Buffer.concat([want.output, Buffer.from(tracker.reset(), "latin1")]);
  const outDiff = firstDifference(stdout, o.stdout);
  if (outDiff) problems.push(`stdout ${outDiff}`);
  const clientDiff = firstItemDifference(want.client, o.client);
  if (clientDiff) problems.push(`the server received ${clientDiff}`);
  if (o.textKeystrokes > 0) problems.push(`${o.textKeystrokes} keystroke frames went as text, not binary`);
  if (!endMatches(want.close, o.end)) problems.push(`ended ${JSON.stringify(o.end)}, but the recording closes ${describeClose(want.close)} (line ${want.close.line})`);
  if (want.close.from === "client" && o.serverSaw.code !== DETACH) problems.push(`the server saw close ${o.serverSaw.code}, not ${DETACH}`);
  if (o.rawCalls.join() !== "true,false") problems.push(`raw mode calls were [${o.rawCalls.join(", ")}], not [true, false]`);
  return problems;
}

function endMatches(close: Close, end: End): boolean {
  if (close.from === "client") return end.how === "detached" && end.by === "keys";
  // closed or lost (a retryable code with no redial): either way the code
  // and reason must be the server's.
  return (end.how === "closed" || end.how === "lost") && end.code === close.code && end.reason === close.reason;
}

function describeClose(c: Close): string {
  return `from the ${c.from} with ${c.code}${c.reason ? ` "${c.reason}"` : ""}`;
}

// firstDifference says where two byte strings first differ, or null.
export function firstDifference(want: Buffer, got: Buffer): string | null {
  const n = Math.min(want.length, got.length);
  for (let i = 0; i < n; i++) {
    if (want[i] !== got[i]) return `differs at byte ${i}: expected ${context(want, i)}, got ${context(got, i)}`;
  }
  if (want.length === got.length) return null;
  return `differs at byte ${n}: expected ${want.length} bytes, got ${got.length}` +
    (got.length > n ? ` (extra ${context(got, n)})` : ` (missing ${context(want, n)})`);
}

// Bytes shown around a difference.
const CONTEXT = 12;

function context(b: Buffer, i: number): string {
  const start = Math.max(0, i - CONTEXT);
  return `"${escapeBytes(b.subarray(start, i))}[${escapeBytes(b.subarray(i, i + 1))}]${escapeBytes(b.subarray(i + 1, i + CONTEXT))}"`;
}

// firstItemDifference compares client messages; with partial set, what has
// arrived so far only has to be a beginning of what is wanted.
function firstItemDifference(want: ClientItem[], got: ClientItem[], partial = false): string | null {
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const w = want[i];
    const g = got[i];
    if (partial && !g) return null;
    if (!w || !g) return `${got.length} resize/keystroke runs where the recording has ${want.length}; first extra or missing: ${describeItem((w ?? g)!)}`;
    if (w.kind === "keys" && g.kind === "keys") {
      // Still arriving: the last run so far may be the start of the wanted one.
      const arriving = partial && i === got.length - 1 && w.bytes.subarray(0, g.bytes.length).equals(g.bytes);
      const diff = arriving ? null : firstDifference(w.bytes, g.bytes);
      if (diff) return `keystroke run ${i + 1} that ${diff}`;
    } else if (describeItem(w) !== describeItem(g)) return `${describeItem(g)} where the recording has ${describeItem(w)} (item ${i + 1})`;
  }
  return null;
}

function describeItem(item: ClientItem): string {
  return item.kind === "resize" ? `resize ${item.cols}x${item.rows}` : `keys ${escapeBytes(item.bytes)}`;
}

// ------------------------------------------------------------ transcript --

// Escaped text is kept in a transcript up to this size; past it only the
// length and sha256 are (the 1 MiB case would double the repository).
const TRANSCRIPT_TEXT_MAX = 64 << 10;

// transcript renders an outcome as the readable text stored in NAME.golden:
// how it ended, hashes, and the client's messages and stdout escaped with a
// line break after each \n, so a diff shows where a change lands.
export function transcript(o: Outcome): string {
  const keys = Buffer.concat(o.client.flatMap((i) => (i.kind === "keys" ? [i.bytes] : [])));
  const resizes = o.client.filter((i) => i.kind === "resize").length;
  const lines = [
    "lap golden transcript 1 (make golden UPDATE=1 rewrites it)",
    `end ${JSON.stringify(o.end)}`,
    `server saw close ${o.serverSaw.code}${o.serverSaw.reason ? ` ${JSON.stringify(o.serverSaw.reason)}` : ""}`,
    `client ${resizes} resize${resizes === 1 ? "" : "s"}, ${keys.length} key bytes, sha256 ${sha256(keys)}`,
    `stdout ${o.stdout.length} bytes, sha256 ${sha256(o.stdout)}`,
    "--- client",
  ];
  if (keys.length > TRANSCRIPT_TEXT_MAX) lines.push(`(over ${TRANSCRIPT_TEXT_MAX} bytes: kept as the sha256 above)`);
  else for (const item of o.client) lines.push(describeItem(item));
  lines.push("--- stdout (\\e is ESC, \\xNN a byte that is not printable text)");
  if (o.stdout.length > TRANSCRIPT_TEXT_MAX) lines.push(`(over ${TRANSCRIPT_TEXT_MAX} bytes: kept as the sha256 above)`);
  else if (o.stdout.length > 0) lines.push(...escapeBytes(o.stdout).split(/(?<=\\n)/).map((l) => "| " + l));
  return lines.join("\n") + "\n";
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

const NAMED: Record<number, string> = { 0x1b: "\\e", 0x0d: "\\r", 0x0a: "\\n", 0x09: "\\t", 0x5c: "\\\\" };

// escapeBytes shows bytes as one line of text: printable ASCII and
// well-formed UTF-8 as themselves, everything else escaped.
export function escapeBytes(b: Buffer): string {
  let out = "";
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (NAMED[c]) out += NAMED[c];
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else {
      const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      const ch = len > 0 ? b.subarray(i, i + len) : null;
      const text = ch?.length === len ? ch.toString("utf8") : "";
      // Only printable characters: C1 controls and line separators stay escaped.
      if (ch && text.length > 0 && Buffer.from(text).equals(ch) && /^[^\u0080-\u009f\u2028\u2029\ufeff]+$/u.test(text)) {
        out += text;
        i += len;
        continue;
      }
      out += `\\x${c.toString(16).padStart(2, "0")}`;
    }
    i++;
  }
  return out;
}

// --------------------------------------------------------------- verdict --

export interface VerifyOptions extends ReplayOptions {
  // Rewrite NAME.golden from this replay instead of comparing with it.
  update?: boolean;
  seed?: number;
}

export interface Verdict {
  file: string;
  problems: string[];
  frames: number;
  // The transcript, when the three replays agreed.
  transcript: string | null;
  golden: "matched" | "written" | "none" | "differs";
}

// verify replays a recording three ways, checks each, checks they agree,
// and compares with (or rewrites) NAME.golden next to it. On a golden
// mismatch it writes NAME.actual there too.
export async function verify(file: string, opts: VerifyOptions = {}): Promise<Verdict> {
  const verdict: Verdict = { file, problems: [], frames: 0, transcript: null, golden: "none" };
  let rec: Recording;
  try {
    rec = readRecording(file);
    expectations(rec);
  } catch (err) {
    verdict.problems.push((err as Error).message);
    return verdict;
  }
  verdict.frames = rec.events.length;
  const transcripts = new Map<string, string>();
  for (const cut of [AS_RECORDED, ONE_BYTE, randomCut(opts.seed ?? SEED)]) {
    try {
      const o = await replay(rec, cut, opts);
      for (const p of check(rec, o)) verdict.problems.push(`${cut.name}: ${p}`);
      transcripts.set(cut.name, transcript(o));
    } catch (err) {
      verdict.problems.push(`${cut.name}: ${(err as Error).message}`);
    }
  }
  const [first, ...rest] = [...transcripts];
  for (const [name, text] of rest) {
    const diff = first && firstLineDifference(first[1], text);
    if (diff) verdict.problems.push(`${name} gave another result than ${first[0]}: ${diff}`);
  }
  if (verdict.problems.length > 0 || !first) return verdict;
  verdict.transcript = first[1];
  goldenFile(verdict, opts.update ?? false);
  return verdict;
}

function goldenFile(verdict: Verdict, update: boolean): void {
  const base = verdict.file.replace(/\.jsonl$/, "");
  const golden = base + ".golden";
  const actual = base + ".actual";
  const text = verdict.transcript!;
  if (update) {
    fs.writeFileSync(golden, text);
    fs.rmSync(actual, { force: true });
    verdict.golden = "written";
    return;
  }
  if (!fs.existsSync(golden)) return;
  const diff = firstLineDifference(fs.readFileSync(golden, "utf8"), text);
  if (diff === null) {
    fs.rmSync(actual, { force: true });
    verdict.golden = "matched";
    return;
  }
  fs.writeFileSync(actual, text);
  verdict.golden = "differs";
  verdict.problems.push(`${path.basename(golden)} ${diff}; this replay is in ${path.basename(actual)}`);
}

// firstLineDifference names the first line:column where two texts differ.
export function firstLineDifference(want: string, got: string): string | null {
  if (want === got) return null;
  const a = want.split("\n");
  const b = got.split("\n");
  for (let i = 0; ; i++) {
    if (a[i] === b[i]) continue;
    const wl = a[i] ?? "";
    const gl = b[i] ?? "";
    let col = 0;
    while (col < wl.length && wl[col] === gl[col]) col++;
    const show = (s: string | undefined) => (s === undefined ? "end of text" : JSON.stringify(s.slice(Math.max(0, col - 20), col + 40)));
    return `differs at line ${i + 1}, column ${col + 1}: expected ${show(a[i])}, got ${show(b[i])}`;
  }
}

// --------------------------------------------------------------- command --

export interface GoldenArgs {
  dir: string;
  update: boolean;
  seed: number;
}

export function parseGoldenArgs(argv: string[]): GoldenArgs {
  const args: GoldenArgs = { dir: "testdata/frames", update: false, seed: SEED };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--update") args.update = true;
    else if (a === "--seed" && /^\d+$/.test(argv[i + 1] ?? "")) args.seed = Number(argv[++i]);
    else if (!a.startsWith("-")) args.dir = a;
    else throw new Error(`unknown argument ${a}; usage: golden.js [--update] [--seed N] [DIR]`);
  }
  return args;
}

// runGolden verifies every *.jsonl in a folder and returns the exit status:
// 0 when all hold, 1 otherwise (also when there is nothing to replay).
export async function runGolden(args: GoldenArgs, out: Writable): Promise<number> {
  let files: string[];
  try {
    files = fs.readdirSync(args.dir).filter((f) => f.endsWith(".jsonl")).sort();
  } catch (err) {
    out.write(`golden: cannot read ${args.dir}: ${(err as Error).message}\n`);
    return 1;
  }
  if (files.length === 0) {
    out.write(`golden: no *.jsonl recordings in ${args.dir}\n`);
    return 1;
  }
  let failed = 0;
  for (const f of files) {
    const started = Date.now();
    const v = await verify(path.join(args.dir, f), { update: args.update, seed: args.seed });
    const ms = Date.now() - started;
    if (v.problems.length === 0) {
      out.write(`ok    ${f} (${v.frames} frames, 3 ways, ${ms} ms, golden ${v.golden})\n`);
      continue;
    }
    failed++;
    out.write(`FAIL  ${f}\n`);
    for (const p of v.problems) out.write(`      ${p}\n`);
  }
  const replayed = `${files.length} recordings in ${args.dir}, each replayed 3 ways (random seed ${args.seed})`;
  out.write(failed === 0 ? `golden: ${replayed}: all hold\n` : `golden: ${replayed}: ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  process.exitCode = await runGolden(parseGoldenArgs(process.argv.slice(2)), process.stdout);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`golden: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
