// `make bench`: lap measured against the physical floor, on this machine, in
// one run. Start-up against `node -e 0`; time to attach, throughput and the
// keystroke round trip against a bare ws client (bench_bare.ts) talking to
// the same server; memory under a slow reader; the installed size. Prints a
// table and writes BENCHMARKS.md. Not a test: a missed target is reported,
// never fatal. BENCH_QUICK=1 scales the sizes down; BENCH_ONLY=a,b runs some.
//
// The output benchmarks send corpora that look like what users' programs
// print (source text, coloured output, a full-screen redraw stream, and
// plain text as the best case): a corpus that avoids a code path real
// output takes reports a number users never get.
//
// lap runs as a real child (`node build/lap.js bench`, LAP_CONFIG pointing
// at a throw-away config), stdin a pipe held open (--detach-on-eof: stdin ending detaches).
// Throughput, latency and memory use a purpose-built server sending from
// memory, so the numbers are lap's cost, not a shell's or tmux's.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { Duplex, Readable } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { startPlatform } from "../platform/platform.js";
import { REPO, LAP as BUILT_LAP } from "../testutil/repo.js";

const KiB = 1 << 10;
const MiB = 1 << 20;
const QUICK = process.env.BENCH_QUICK === "1";
const ONLY = new Set((process.env.BENCH_ONLY ?? "").split(",").map((s) => s.trim()).filter(Boolean));

// How often each benchmark runs. Warm-up runs fill the OS page cache and
// the server's JIT; medians keep one slow run on a busy machine from counting.
// Throughput runs are even in number: lap goes first in half the pairs, so
// a machine still warming up favours neither.
// Start-up and attach runs are short: 60 of them cost under two minutes,
// and their medians moved by 5–10 ms from one run of the bench to the
// next with 30.
const PLAN = {
  startup: { warmup: 3, runs: QUICK ? 10 : 60 },
  attach: { warmup: 2, runs: QUICK ? 6 : 60 },
  // One process of a client can run faster or slower than the next for its
  // whole life, so what narrows a median is many processes; what a client
  // pays once (lap's first full collection, 7–15 ms, soon after output
  // starts) needs runs long enough to spread it, on a fast machine too. To
  // /dev/null or a pipe a run takes half a second to two, as fast as the
  // machine is; to a terminal, a quarter of the bytes take four.
  throughput: { warmup: 2, runs: QUICK ? 6 : 16, ptyRuns: QUICK ? 4 : 8, bytes: (QUICK ? 32 : 1024) * MiB, ptyBytes: (QUICK ? 32 : 256) * MiB },
  // Two windows of `count` keys: the first after `warmup` keys, while V8
  // still optimises both clients' key paths (each optimisation is a stall of
  // about a millisecond, a few dozen of them over the first 3,000 keys);
  // the second from key `warm` on, once that is over, as for most of a
  // session's typing.
  keys: { warmup: 200, warm: QUICK ? 1000 : 3200, count: QUICK ? 500 : 2000, runs: QUICK ? 3 : 5 },
  slow: { bytes: (QUICK ? 32 : 256) * MiB, rate: 4 * MiB },
  // Runs of each client with V8's GC trace, as many bytes as a throughput run.
  gc: { runs: QUICK ? 2 : 6 },
};
// Each corpus is this many distinct 64 KiB frames, sent over and over.
const CORPUS_FRAMES = 64;
// The harness's output frames in the throughput and memory benchmarks.
const FRAME_BYTES = 64 * KiB;
// The server keeps this much queued on a socket: the client never starves,
// and the bench's own memory stays small.
const SERVER_HIGH_WATER = 4 * MiB;
// Throughput is timed from this long after the socket opens: what a client
// still does then (the end of its start-up, and V8 compiling and collecting
// behind it: tens of milliseconds of CPU for lap) is time to attach, not a
// cost per byte.
const SETTLE_MS = 300;

// glibc gives the top of its heap back to the kernel whenever more than
// trim_threshold (128 KiB by default) lies free there. In a process whose
// 64 KiB frame buffers happen to end up at the top of its heap, every
// frame's buffer, once freed, goes back to the kernel and the next one is
// faulted in again: that process takes two to four times the minor page
// faults, more than twice the system time, and about twice as long, for its
// whole life. Which processes do is chance: lap in 4 of 30 scratch runs, the
// bare client in 12 of 30. A higher threshold, the same for both clients in
// the throughput runs, keeps that chance out of their ratio; the details
// give each side's page faults.
const MALLOC_TUNABLE = "glibc.malloc.trim_threshold=268435456";

// The targets of issue 12.
const TARGET = {
  startupRatio: 1.1,
  attachOverMs: 25,
  // lap's time for the same bytes over the bare client's.
  throughputTimeRatio: 1.03,
  keyOverheadMs: 0.3,
  peakOverMiB: 8,
  installedMiB: 1,
  runtimePackages: ["ws"],
};

// Generous deadlines: a bench on a loaded machine is slow, not stuck.
const CHILD_DEADLINE_MS = 60_000;
const STOP_GRACE_MS = 3_000;
const RSS_POLL_MS = 100;

// BENCH_LAP=<path to lap.js> measures another build (e.g. an older commit's)
// against the same floor: for before-and-after figures.
const LAP = process.env.BENCH_LAP ? path.resolve(process.env.BENCH_LAP) : BUILT_LAP;
const BARE = path.join(REPO, "build", "internal", "bench", "bench_bare.js");
// Gives a child a real terminal for stdout (Node has no pty of its own).
const PTY_SINK = path.join(REPO, "internal", "bench", "ptysink.py");
const REPORT = path.join(REPO, "BENCHMARKS.md");

// ---------- results ----------

interface Row {
  benchmark: string;
  lap: string;
  floor: string;
  compare: string;
  target: string;
  // null: informational, or the benchmark could not run.
  met: boolean | null;
  detail: string;
}

const rows: Row[] = [];

function record(row: Row): void {
  rows.push(row);
  const verdict = row.met === null ? "" : row.met ? "  ✓ met" : "  ✗ missed";
  progress(`  ${row.benchmark}: lap ${row.lap}, floor ${row.floor}, ${row.compare}${verdict}`);
}

function failed(benchmark: string, target: string, err: unknown): void {
  const why = err instanceof Error ? err.message : String(err);
  rows.push({ benchmark, lap: "error", floor: "—", compare: "—", target, met: null, detail: why });
  progress(`  ${benchmark}: could not run: ${why}`);
}

function progress(line: string): void {
  process.stderr.write(line + "\n");
}

// ---------- statistics ----------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// pairedRatio is the median of lap's time over the floor's, run by run:
// each pair ran back to back, so a busy moment on the machine (which moves
// both) cancels out, where a ratio of two medians would carry it.
function pairedRatio(lap: number[], floor: number[]): number {
  return median(lap.map((t, i) => t / floor[i]!));
}

// medianInterval is how far the median of run-by-run values (ratios or
// differences to the floor) could be off: the 5th and 95th percentiles of
// that median over BOOTSTRAP resamplings of the pairs. Runs on a shared
// machine vary by tens of percent, so a target of a few percent is read
// against this, not against the median alone. The seed is fixed: the same
// runs always give the same interval.
const BOOTSTRAP = 2000;
function medianInterval(values: number[]): [number, number] {
  let seed = 12;
  // mulberry32: small, and good enough to pick indices.
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const medians: number[] = [];
  for (let b = 0; b < BOOTSTRAP; b++) medians.push(median(values.map(() => values[Math.floor(random() * values.length)]!)));
  return [percentile(medians, 5), percentile(medians, 95)];
}

// percentile by nearest rank: p99 of 2,000 keys is the 1,980th fastest.
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

function spread(xs: number[], digits: number, unit: string): string {
  const s = [...xs].sort((a, b) => a - b);
  return `${xs.length} runs, ${s[0]!.toFixed(digits)}–${s[s.length - 1]!.toFixed(digits)} ${unit}`;
}

const ms = (x: number, digits = 1) => `${x.toFixed(digits)} ms`;
// signed shows a difference with its sign, "+1.2" or "−0.3".
const signed = (x: number, digits: number) => {
  const text = Math.abs(x).toFixed(digits);
  return `${Number(text) === 0 ? "±" : x < 0 ? "−" : "+"}${text}`;
};

// ---------- child processes ----------

const running = new Set<ChildProcess>();

// Child is one process under measurement: stdin a pipe we hold open, stderr
// collected (lap's progress lines, and the "[ws closed]" marker).
class Child {
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private errText = "";
  private watchers: { text: string; resolve: (at: number) => void }[] = [];

  constructor(argv: string[], stdout: "pipe" | "ignore" | number, env: NodeJS.ProcessEnv = childEnv()) {
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", stdout, "pipe"], env });
    running.add(this.proc);
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code) => {
        running.delete(this.proc);
        resolve(code);
      });
    });
    // The child may be gone before our last write reaches it.
    this.proc.stdin!.on("error", () => {});
    this.proc.stderr!.on("data", (d: Buffer) => {
      const at = performance.now();
      this.errText += d.toString("utf8");
      const seen = this.watchers.filter((w) => this.errText.includes(w.text));
      this.watchers = this.watchers.filter((w) => !seen.includes(w));
      for (const w of seen) w.resolve(at);
    });
  }

  get stdout(): Readable {
    return this.proc.stdout!;
  }

  get stderr(): string {
    return this.errText.trim();
  }

  // stderrShows resolves with the moment text first appeared on stderr.
  stderrShows(text: string, deadlineMs = CHILD_DEADLINE_MS): Promise<number> {
    const seen = new Promise<number>((resolve) => {
      if (this.errText.includes(text)) resolve(performance.now());
      else this.watchers.push({ text, resolve });
    });
    return this.guard(seen, `'${text}' on stderr`, deadlineMs);
  }

  // firstByte resolves with the moment the first byte arrived on stdout.
  firstByte(deadlineMs = CHILD_DEADLINE_MS): Promise<number> {
    const seen = new Promise<number>((resolve) => this.stdout.once("data", () => resolve(performance.now())));
    return this.guard(seen, "a first byte on stdout", deadlineMs);
  }

  // guard fails the wait when the child exits first or the deadline passes.
  guard<T>(p: Promise<T>, what: string, deadlineMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const dead = this.exited.then((code) => {
      throw new Error(`child exited (${code}) before ${what}: ${this.stderr.slice(-300) || "no stderr"}`);
    });
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} after ${deadlineMs} ms: ${this.stderr.slice(-300)}`)), deadlineMs);
    });
    return Promise.race([p, dead, late]).finally(() => clearTimeout(timer));
  }

  // stop ends stdin (lap detaches), then asks, then insists.
  async stop(): Promise<void> {
    this.proc.stdin!.end();
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if (await settles(this.exited, STOP_GRACE_MS)) return;
      this.proc.kill(signal);
    }
    await this.exited;
  }
}

function settles(p: Promise<unknown>, withinMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), withinMs)));
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}

// childEnv is ours minus anything that would change what is measured: node
// flags, lap's own settings (profiles, tokens, timeouts), proxies, make's.
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LAP_|NODE_OPTIONS$|(HTTPS?|NO|ALL)_PROXY$|MAKEFLAGS$|MFLAGS$)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

// BENCH_LAP_FLAGS are node flags for lap alone, e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof" to see where lap's time goes in a benchmark.
const LAP_FLAGS = (process.env.BENCH_LAP_FLAGS ?? "").split(/\s+/).filter(Boolean);

function lapArgv(...args: string[]): string[] {
  return lapArgvWith([], ...args);
}

function bareArgv(url: string, token: string): string[] {
  return bareArgvWith([], url, token);
}

// lapArgvWith and bareArgvWith start a client with node flags the
// benchmark itself sets (the diagnostic throughput row).
function lapArgvWith(flags: string[], ...args: string[]): string[] {
  return onClientCpu([process.execPath, ...flags, ...LAP_FLAGS, LAP, ...args]);
}

function bareArgvWith(flags: string[], ...args: string[]): string[] {
  return onClientCpu([process.execPath, ...flags, BARE, ...args]);
}

// ---------- CPUs ----------

// Left to the scheduler, a client shares the CPUs with the bench's servers
// as it happens to: beside the server or on a CPU of its own, on the faster
// CPU or the slower (two vCPUs of one machine differed by 15% on one loop).
// Where a process lands holds for its life and moved its throughput by tens
// of percent, far more than the few percent being measured. So the bench,
// its servers and its drains keep to the first CPU it may use, and every
// process measured (lap, the bare client, node -e 0) runs on the last, all
// its threads with it: the same CPU for every run and nothing else on it.
// With a single CPU, or no taskset, everything runs where it lands.
const CPUS = cpuSplit();

function cpuSplit(): { bench: number; clients: number } | null {
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? "";
  const cpus = list.split(",").flatMap((range) => {
    const [first, last = first] = range.split("-").map(Number);
    return Array.from({ length: last! - first! + 1 }, (_, i) => first! + i);
  });
  if (cpus.length < 2 || spawnSync("taskset", ["-V"], { stdio: "ignore" }).status !== 0) return null;
  return { bench: cpus[0]!, clients: cpus[cpus.length - 1]! };
}

function onClientCpu(argv: string[]): string[] {
  return CPUS ? ["taskset", "-c", String(CPUS.clients), ...argv] : argv;
}

// pinBench moves the bench, every thread of it, to its CPU; what it spawns
// from then on starts there.
function pinBench(): void {
  if (!CPUS) return;
  const { status } = spawnSync("taskset", ["-a", "-p", "-c", String(CPUS.bench), String(process.pid)], { stdio: "ignore" });
  if (status !== 0) throw new Error(`taskset could not move the bench to CPU ${CPUS.bench}`);
}

function cpuNote(): string {
  return CPUS ? `the bench on CPU ${CPUS.bench}, every client measured on CPU ${CPUS.clients} (taskset)` : "unpinned: one CPU, or no taskset";
}

// writeConfig makes a throw-away lap config in dir, mode 0600 as lap expects.
function writeConfig(dir: string, name: string, base: string, key: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify({ base, key }) + "\n", { mode: 0o600 });
  return file;
}

// ---------- the purpose-built server ----------

// What the harness does with each accepted /tty socket.
type Harness = (ws: WebSocket) => void;

interface BenchServer {
  url: string;
  key: string;
  ttyUrl: string;
  token: string;
  harness: Harness;
  // API requests answered so far.
  calls: number;
  close(): Promise<void>;
}

const API = "/api/v1/managed_agents";
// The "screen" a harness sends the moment a socket opens.
const PROMPT = Buffer.from("$ ");

// startBenchServer serves just what `lap bench` asks for (agents, sessions,
// one ready session) and a /tty WebSocket whose behaviour each benchmark sets.
async function startBenchServer(): Promise<BenchServer> {
  const key = "sk-bench-" + randomBytes(8).toString("hex");
  const token = randomBytes(16).toString("hex");
  const agent = { id: randomUUID(), name: "bench", harness_id: "claude-code", supports_tui: true, has_active_session: true };
  const session: Record<string, unknown> = { id: randomUUID(), agent_id: agent.id, status: "ready", phase: "ready", supports_tui: true, tty_token: token };
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = http.createServer((req, res) => {
    srv.calls++;
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${key}`) return json(401, { error: "unauthorized" });
    if (url.pathname === `${API}/agents`) {
      const first = url.searchParams.get("offset") === "0" || !url.searchParams.has("offset");
      return json(200, { data: first ? [agent] : [], total: 1, limit: 200, offset: Number(url.searchParams.get("offset") ?? 0) });
    }
    if (url.pathname === `${API}/sessions`) return json(200, [session]);
    if (url.pathname === `${API}/sessions/${session.id}`) return json(200, session);
    return json(404, { error: "not found" });
  });
  const srv: BenchServer = {
    url: "",
    key,
    ttyUrl: "",
    token,
    harness: (ws) => ws.send(PROMPT, { binary: false }),
    calls: 0,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    if (!req.url?.startsWith("/tty") || req.headers.authorization !== `Bearer ${token}`) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => srv.harness(ws));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  srv.url = `http://127.0.0.1:${port}`;
  srv.ttyUrl = `ws://127.0.0.1:${port}/tty`;
  session.sandbox_url = srv.url;
  session.tty_url = srv.ttyUrl;
  return srv;
}

// pump sends `count` frames as text frames, as the harness sends PTY output,
// keeping at most SERVER_HIGH_WATER queued; resolves once all are queued.
function pump(ws: WebSocket, count: number, frameAt: (i: number) => Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let i = 0;
    const more = (err?: Error) => {
      if (err) return reject(err);
      while (i < count) {
        if (ws.readyState !== WebSocket.OPEN) return reject(new Error(`client went away after ${i} frames`));
        const frame = frameAt(i++);
        if (ws.bufferedAmount + frame.length > SERVER_HIGH_WATER) return ws.send(frame, { binary: false }, more);
        ws.send(frame, { binary: false });
      }
      resolve();
    };
    more();
  });
}

// ---------- corpora ----------

// A Corpus is a stream as a program prints it, cut into 64 KiB frames
// anywhere: mid-line, mid-escape-sequence, mid-character, as a PTY read does.
interface Corpus {
  name: string;
  label: string;
  frames: Buffer[];
  // One line about what is in it, for the report.
  about: string;
}

function framesOf(stream: Buffer): Buffer[] {
  const total = CORPUS_FRAMES * FRAME_BYTES;
  const filled = Buffer.alloc(total);
  for (let at = 0; at < total; at += stream.length) stream.copy(filled, at, 0, Math.min(stream.length, total - at));
  const frames: Buffer[] = [];
  for (let i = 0; i < CORPUS_FRAMES; i++) frames.push(filled.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES));
  return frames;
}

// A PTY turns "\n" into "\r\n" (onlcr): programs' output arrives that way.
const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");

// repoSources is the repository's own TypeScript, the kind of text users
// cat, grep and diff: dense in = < > ? { } ;.
function repoSources(): string {
  const files = [path.join(REPO, "lap.ts")];
  for (const dir of ["internal", "internal/bench", "internal/platform", "internal/golden", "internal/testutil"]) {
    const full = path.join(REPO, dir);
    if (!fs.existsSync(full)) continue;
    for (const name of fs.readdirSync(full).sort()) if (name.endsWith(".ts")) files.push(path.join(full, name));
  }
  return files.map((f) => fs.readFileSync(f, "utf8")).join("\n");
}

// density counts the bytes = < > ? { } ; per KiB.
function density(frames: Buffer[]): string {
  let n = 0;
  let esc = 0;
  for (const f of frames) {
    for (const b of f) {
      if (b === 0x3d || b === 0x3c || b === 0x3e || b === 0x3f || b === 0x7b || b === 0x7d || b === 0x3b) n++;
      else if (b === 0x1b) esc++;
    }
  }
  const kib = (frames.length * FRAME_BYTES) / KiB;
  return `${(n / kib).toFixed(0)} of "= < > ? { } ;" and ${(esc / kib).toFixed(0)} ESC per KiB`;
}

function sourceCorpus(): Corpus {
  const frames = framesOf(Buffer.from(crlf(repoSources())));
  return { name: "source", label: "source text (the repository's .ts files)", frames, about: density(frames) };
}

// colouredCorpus mixes what ls --color, git diff --color and a test runner
// print: short SGR runs around names, diff lines, ticks and timings.
function colouredCorpus(): Corpus {
  const src = repoSources().split("\n").filter((l) => l.trim());
  const names = ["api.ts", "attach.ts", "bench", "chat.ts", "colour.ts", "golden", "lap.ts", "modes.ts", "node_modules", "tty.ts", "run.sh", "link"];
  const colourOf = (name: string) => (name.endsWith(".sh") ? "01;32" : name.includes(".") ? "0" : name === "link" ? "01;36" : "01;34");
  let out = "";
  for (let n = 0; out.length < 2 * MiB; n++) {
    // ls --color
    out += names.map((name) => `\x1b[${colourOf(name)}m${name}\x1b[0m`).join("  ") + "\n";
    // git diff --color
    const line = (k: number) => src[(n * 7 + k) % src.length]!;
    out += `\x1b[1mdiff --git a/internal/file_${n % 31}.ts b/internal/file_${n % 31}.ts\x1b[m\n\x1b[1mindex 3f2a1c4..9b8e7d6 100644\x1b[m\n`;
    out += `\x1b[36m@@ -${n + 10},7 +${n + 10},8 @@\x1b[m ${line(0).trim()}\n`;
    out += ` ${line(1)}\n\x1b[31m-${line(2)}\x1b[m\n\x1b[32m+${line(3)}\x1b[m\n\x1b[32m+${line(4)}\x1b[m\n ${line(5)}\n`;
    // a test runner
    const ok = n % 17 !== 0;
    out += `${ok ? "\x1b[32m✔\x1b[39m" : "\x1b[31m✖\x1b[39m"} ${line(6).trim().slice(0, 60)} \x1b[90m(${(n % 97) / 10} ms)\x1b[39m\n`;
    if (!ok) out += `  \x1b[31mAssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\x1b[39m\n  \x1b[32m+ actual\x1b[39m \x1b[31m- expected\x1b[39m\n`;
  }
  const frames = framesOf(Buffer.from(crlf(out)));
  return { name: "coloured", label: "coloured output (ls --color, git diff --color, a test runner)", frames, about: density(frames) };
}

// fullScreenCorpus is a redraw stream like Claude Code's: every frame in
// synchronized-output brackets, the cursor moved up over the old frame and
// each line erased and redrawn with truecolour SGR; alternate screen,
// bracketed paste, mouse, focus, kitty keyboard and keypad modes switched
// on and off now and then, as programs starting, exiting and resizing do.
function fullScreenCorpus(): Corpus {
  const src = repoSources().split("\n").filter((l) => l.trim()).map((l) => l.slice(0, 100));
  const ROWS = 24;
  const switches = [
    "\x1b[?1049h\x1b[H\x1b[2J", "\x1b[?1049l",
    "\x1b[?2004h", "\x1b[?2004l",
    "\x1b[?1000h\x1b[?1002h\x1b[?1006h", "\x1b[?1006l\x1b[?1002l\x1b[?1000l",
    "\x1b[>1u", "\x1b[<u",
    "\x1b[?1004h", "\x1b[?1004l",
    "\x1b=", "\x1b>",
    "\x1b[>4;2m", "\x1b[>4m",
  ];
  let out = "";
  for (let n = 0; out.length < 4 * MiB; n++) {
    let frame = "\x1b[?2026h\x1b[?25l";
    if (n % 40 === 0) frame += switches[(n / 40) % switches.length]!;
    // Up over the previous frame, erasing as ink does.
    frame += "\x1b[2K\x1b[1A".repeat(ROWS) + "\x1b[G";
    frame += `\x1b[38;2;215;119;87m╭${"─".repeat(78)}╮\x1b[39m\r\n`;
    for (let r = 0; r < ROWS - 4; r++) {
      const text = src[(n * 3 + r) % src.length]!;
      const fg = r % 5 === 0 ? "\x1b[1m\x1b[38;2;255;255;255m" : r % 3 === 0 ? "\x1b[38;2;136;136;136m" : "\x1b[38;2;180;190;254m";
      frame += `\x1b[38;2;215;119;87m│\x1b[39m ${fg}${text}\x1b[22m\x1b[39m\x1b[K\r\n`;
    }
    frame += `\x1b[38;2;215;119;87m╰${"─".repeat(78)}╯\x1b[39m\r\n`;
    frame += `\x1b[2m  ? for shortcuts\x1b[22m\x1b[${(n % 30) + 1};${(n % 70) + 3}H\x1b[7m \x1b[27m`;
    frame += "\x1b[?25h\x1b[?2026l";
    out += frame;
  }
  const frames = framesOf(Buffer.from(out));
  return { name: "fullscreen", label: "full-screen redraw (like Claude Code: ?2026 brackets, cursor, SGR, erase, mode switches)", frames, about: density(frames) };
}

// plainCorpus is printable text with no escape sequence and none of the
// bytes a mode tracker looks at: the best case, kept as the floor's.
function plainCorpus(): Corpus {
  let out = "";
  for (let n = 0; out.length < MiB; n++) out += `Lorem ipsum dolor sit amet, consectetur adipiscing elit ${n}, sed do eiusmod tempor.\r\n`;
  const frames = framesOf(Buffer.from(out));
  return { name: "plain", label: "plain text (lorem ipsum, no ESC)", frames, about: density(frames) };
}

let corporaMade: Corpus[] | null = null;

function corpora(): Corpus[] {
  corporaMade ??= [sourceCorpus(), colouredCorpus(), fullScreenCorpus(), plainCorpus()];
  return corporaMade;
}

function corpus(name: string): Corpus {
  return corpora().find((c) => c.name === name)!;
}

// stampedFrame is frame i of a stream whose order can be checked: the
// coloured text with the frame number written over its start.
function stampedFrame(template: Buffer, i: number): Buffer {
  const f = Buffer.allocUnsafe(template.length);
  template.copy(f);
  f.write(`\r\n#${String(i).padStart(10, "0")} `, 0, "latin1");
  return f;
}

// ---------- start-up ----------

// timeExit times one process from spawn to exit. okCodes are the exit codes
// the command gives in the setting measured.
async function timeExit(argv: string[], env: NodeJS.ProcessEnv, okCodes: number[] = [0]): Promise<number> {
  const t0 = performance.now();
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", env });
  running.add(proc);
  const code = await new Promise<number | null>((resolve) => proc.once("exit", resolve));
  running.delete(proc);
  if (code === null || !okCodes.includes(code)) throw new Error(`${argv.slice(1).join(" ")} exited ${code}`);
  return performance.now() - t0;
}

interface StartupVariant {
  label: string;
  argv: string[];
  okCodes?: number[];
  // Whether the start-up target applies (the rest are references).
  target: boolean;
}

async function benchStartup(tmp: string): Promise<void> {
  const esm = path.join(tmp, "empty.mjs");
  const cjs = path.join(tmp, "empty.cjs");
  fs.writeFileSync(esm, "");
  fs.writeFileSync(cjs, "");
  // Logged out: a home with no config, as completion runs for a new user.
  const home = fs.mkdtempSync(path.join(tmp, "home-"));
  const env = childEnv({ HOME: home });
  const variants: Record<string, StartupVariant> = {
    node: { label: "node -e 0", argv: onClientCpu([process.execPath, "-e", "0"]), target: false },
    version: { label: "start-up: `lap --version`", argv: lapArgv("--version"), target: true },
    help: { label: "start-up: `lap --help`", argv: lapArgv("--help"), target: true },
    // Logged out it says so on stderr and exits 1; what is timed is the path.
    complete: { label: "start-up: `lap __complete agents` (logged out)", argv: lapArgv("__complete", "agents"), okCodes: [0, 1], target: true },
    cjs: { label: "start-up: `node empty.cjs` (an empty CommonJS file)", argv: onClientCpu([process.execPath, cjs]), target: false },
    esm: { label: "start-up: `node empty.mjs` (an empty ES module)", argv: onClientCpu([process.execPath, esm]), target: false },
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const { warmup, runs } = PLAN.startup;
  for (let i = 0; i < warmup + runs; i++) {
    // Interleaved, so a busy moment on the machine hits all alike.
    for (const [name, v] of Object.entries(variants)) {
      const t = await timeExit(v.argv, env, v.okCodes);
      if (i >= warmup) times[name]!.push(t);
    }
  }
  const floor = median(times.node!);
  for (const [name, v] of Object.entries(variants)) {
    if (name === "node") continue;
    const lap = median(times[name]!);
    const ratio = pairedRatio(times[name]!, times.node!);
    record({
      benchmark: v.label,
      lap: ms(lap),
      floor: `${ms(floor)} (node -e 0)`,
      compare: `${ratio.toFixed(2)}×`,
      target: v.target ? `≤ ${TARGET.startupRatio}×` : "— (reference)",
      met: v.target ? ratio <= TARGET.startupRatio : null,
      detail: `${spread(times[name]!, 1, "ms")}; node -e 0: ${spread(times.node!, 1, "ms")}; the ratio of the medians: ${(lap / floor).toFixed(2)}×`,
    });
  }
}

// ---------- time to attach ----------

// attachRuns times process start → first remote byte on stdout, for lap and
// the bare client alternately.
async function attachRuns(lap: () => string[], bare: () => string[], env: NodeJS.ProcessEnv): Promise<{ lap: number[]; bare: number[] }> {
  const out = { lap: [] as number[], bare: [] as number[] };
  const { warmup, runs } = PLAN.attach;
  for (let i = 0; i < warmup + runs; i++) {
    // The order swapped every run, as for throughput.
    for (const who of i % 2 ? (["lap", "bare"] as const) : (["bare", "lap"] as const)) {
      const t0 = performance.now();
      const c = new Child(who === "lap" ? lap() : bare(), "pipe", env);
      try {
        const t = (await c.firstByte()) - t0;
        if (i >= warmup) out[who].push(t);
      } finally {
        await c.stop();
      }
    }
  }
  return out;
}

function recordAttach(label: string, t: { lap: number[]; bare: number[] }): void {
  const lap = median(t.lap);
  const floor = median(t.bare);
  // Run by run, as pairedRatio does.
  const diffs = t.lap.map((x, i) => x - t.bare[i]!);
  const over = median(diffs);
  record({
    benchmark: label,
    lap: ms(lap),
    floor: `${ms(floor)} (bare ws client)`,
    compare: `${signed(over, 1)} ms (90%: ${medianInterval(diffs).map((x) => signed(x, 1)).join(" to ")})`,
    target: `≤ floor + ${TARGET.attachOverMs} ms`,
    met: over <= TARGET.attachOverMs,
    detail: `lap ${spread(t.lap, 1, "ms")}; bare ${spread(t.bare, 1, "ms")}; the difference of the medians: ${signed(lap - floor, 1)} ms`,
  });
}

async function benchAttach(srv: BenchServer, tmp: string): Promise<void> {
  srv.harness = (ws) => ws.send(PROMPT, { binary: false });
  const config = writeConfig(tmp, "bench.json", srv.url, srv.key);
  const before = srv.calls;
  const t = await attachRuns(() => lapArgv("bench", "--detach-on-eof"), () => bareArgv(srv.ttyUrl, srv.token), childEnv({ LAP_CONFIG: config }));
  // Per attach; lap's detach at the end of each run may ask once more.
  const calls = (srv.calls - before) / (PLAN.attach.warmup + PLAN.attach.runs);
  recordAttach(`time to attach (bench server: lap makes ${calls.toFixed(1).replace(/\.0$/, "")} API calls a run, then /tty)`, t);
}

// The same against the local platform: a real PTY inside tmux behind it.
async function benchAttachPlatform(tmp: string): Promise<void> {
  const platform = await startPlatform({ bringUpMs: 0, env: { PS1: "$ " } });
  try {
    const agent = platform.addAgent({ name: "bench", harness_id: "claude-code", supports_tui: true });
    const res = await fetch(`${platform.url}${API}/agents/${agent.id}/session`, {
      method: "POST",
      headers: { authorization: `Bearer ${platform.key}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "bench" }),
    });
    const s = (await res.json()) as { status: string; tty_url: string; tty_token: string };
    if (s.status !== "ready") throw new Error(`the local platform's session is ${s.status}, not ready at once`);
    const config = writeConfig(tmp, "platform.json", platform.url, platform.key);
    const t = await attachRuns(() => lapArgv("bench", "--detach-on-eof"), () => bareArgv(s.tty_url, s.tty_token), childEnv({ LAP_CONFIG: config }));
    recordAttach("time to attach (local platform: real PTY in tmux)", t);
  } finally {
    await platform.close();
  }
}

// ---------- throughput ----------

// Where a client's stdout goes: /dev/null, a pipe the bench drains as fast
// as it can, or a real terminal (a PTY whose master is drained as fast).
type Sink = "devnull" | "pipe" | "pty";

const SINK_LABEL: Record<Sink, string> = {
  devnull: "stdout /dev/null",
  pipe: "stdout a pipe, drained",
  pty: "stdout a terminal (PTY), drained",
};

function inSink(argv: string[], sink: Sink): string[] {
  return sink === "pty" ? ["python3", PTY_SINK, ...argv] : argv;
}

// sinkBytes is how much a throughput run sends to a client writing there.
function sinkBytes(sink: Sink): number {
  return sink === "pty" ? PLAN.throughput.ptyBytes : PLAN.throughput.bytes;
}

// throughputRun sends sinkBytes(sink) of a corpus to one client,
// SETTLE_MS after the socket opens. It is timed from the first frame to the
// link closing (the client answers the server's close only after handing
// every frame before it to stdout) or, on a pipe, to the last byte coming
// out, whichever is later: the wall time and the client's CPU time over that
// span, in seconds. What a client does once the link is over (lap asks the
// platform whether the session is still ready) is its tail: the time from
// the close to its "[ws closed]". Given a file, stdout goes there instead
// of /dev/null: a client writes both alike (write(2), no drain).
async function throughputRun(srv: BenchServer, argv: string[], env: NodeJS.ProcessEnv, c: Corpus, sink: Sink, file?: string): Promise<{ secs: number; cpu: number; mainCpu: number; faults: number; tail: number }> {
  const bytes = sinkBytes(sink);
  let started = 0;
  let cpuAtStart = 0;
  let mainAtStart = 0;
  let faultsAtStart = 0;
  const out = file !== undefined && sink === "devnull" ? fs.openSync(file, "w") : undefined;
  const child = new Child(inSink(argv, sink), sink === "pipe" ? "pipe" : out ?? "ignore", env);
  if (out !== undefined) fs.closeSync(out); // the child has its own
  // The client itself: under ptysink.py, its one child.
  const client = () => (sink === "pty" ? childPid(child.proc.pid!) : child.proc.pid!);
  // The later of the link closing and, on a pipe, the last byte out.
  let waiting = sink === "pipe" ? 2 : 1;
  let mark!: () => void;
  const ended = new Promise<{ at: number; cpu: number; mainCpu: number; faults: number }>((resolve) => {
    mark = () => {
      if (--waiting === 0) resolve({ at: performance.now(), cpu: cpuSeconds(client()), mainCpu: mainThreadSeconds(client()), faults: minorFaults(client()) });
    };
  });
  srv.harness = (ws) => {
    ws.once("close", mark);
    setTimeout(() => {
      if (ws.readyState !== WebSocket.OPEN) return; // the client is gone: its Child says why
      started = performance.now();
      cpuAtStart = cpuSeconds(client());
      mainAtStart = mainThreadSeconds(client());
      faultsAtStart = minorFaults(client());
      pump(ws, bytes / FRAME_BYTES, (i) => c.frames[i % c.frames.length]!).then(() => ws.close(1000), () => ws.terminate());
    }, SETTLE_MS);
  };
  // Drained as fast as it comes, and counted.
  let drained = 0;
  if (sink === "pipe") {
    child.stdout.on("data", (d: Buffer) => {
      drained += d.length;
      if (drained === bytes) mark();
    });
  }
  try {
    const said = await child.stderrShows("[ws closed]");
    const end = await child.guard(ended, sink === "pipe" ? `all ${bytes} bytes on stdout (${drained} so far)` : "the link closing", CHILD_DEADLINE_MS);
    return {
      secs: (end.at - started) / 1000,
      cpu: end.cpu - cpuAtStart,
      mainCpu: end.mainCpu - mainAtStart,
      faults: end.faults - faultsAtStart,
      tail: Math.max(0, said - end.at) / 1000,
    };
  } finally {
    await child.stop();
  }
}

// cpuSeconds is the CPU time a process has used so far, in all its
// threads (sum_exec_runtime of each, in ns): unlike wall time, it does not
// move when the machine is busy with something else.
function cpuSeconds(pid: number): number {
  let s = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) s += taskSeconds(pid, task);
  return s;
}

// mainThreadSeconds is the CPU time of a process's main thread alone: what
// is left of cpuSeconds is V8's and libuv's other threads (compiling,
// collecting), which a pinned client runs on the same CPU.
function mainThreadSeconds(pid: number): number {
  return taskSeconds(pid, String(pid));
}

function taskSeconds(pid: number, task: string): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]) / 1e9;
  } catch {
    return 0; // a thread that ended meanwhile
  }
}

// minorFaults is the minor page faults of a process so far, all its threads
// (minflt, the tenth field of /proc/<pid>/stat).
function minorFaults(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses; minflt is the eighth of them.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

// childPid is the first child of a process (the client ptysink.py runs).
function childPid(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ")[0]);
}

// The control rows put the bare client in lap's place too, on source text:
// what separates them from 1.00× is noise alone, so they show how small a
// difference this run can see.
const CONTROL_CORPUS = "source";

// The diagnostic row runs both clients with V8's optimising compiler on the
// main thread, on the corpus and sink where lap is furthest from its floor.
// Pinned, a client's compiler threads take their CPU from its main thread;
// compiling in line shows what is left once that is taken out.
const DIAGNOSTIC = { corpus: "plain", sink: "devnull" as Sink, flags: ["--no-concurrent-recompilation"] };

// Who runs in each of a row's two places: lap, the bare client, or the bare
// client that first makes the two API calls lap makes to attach by name.
// Two diagnostic rows, on DIAGNOSTIC's corpus and sink, put that client
// beside the bare client (what the calls alone cost the stream after them)
// and under lap as its floor (what is left of lap's own).
type Client = "lap" | "bare" | "bare+api";
const CLIENT_LABEL: Record<Client, string> = {
  lap: "lap",
  bare: "bare ws client",
  "bare+api": "bare ws client after lap's two API calls",
};

interface ThroughputRow {
  name: string;
  sink: Sink;
  // The client measured and its floor; lap against the bare client unless said.
  pair?: [Client, Client];
  // node flags for both clients (the diagnostic row).
  flags?: string[];
}

function rowKind(row: ThroughputRow): string {
  const [who, floor] = row.pair ?? ["lap", "bare"];
  if (row.flags) return `throughput, diagnostic (both clients ${row.flags.map((f) => `\`${f}\``).join(" ")}: V8 optimises on the main thread)`;
  if (who === "bare" && floor === "bare") return "throughput, control (the bare client in lap's place)";
  if (who === "bare+api") return "throughput, diagnostic (the bare client after lap's two API calls, in lap's place)";
  if (floor === "bare+api") return "throughput, diagnostic (lap against the bare client after lap's two API calls)";
  return "throughput";
}

// What one throughput run measured (throughputRun).
type Measured = Awaited<ReturnType<typeof throughputRun>>;

// takesPart says whether a row of `runs` runs is measured in the given
// round of `rounds`: its runs spread evenly over them.
function takesPart(round: number, runs: number, rounds: number): boolean {
  return Math.floor(((round + 1) * runs) / rounds) > Math.floor((round * runs) / rounds);
}

// clientArgv starts one of the clients a throughput row compares.
function clientArgv(srv: BenchServer, client: Client, flags: string[]): string[] {
  if (client === "lap") return lapArgvWith(flags, "bench", "--detach-on-eof");
  if (client === "bare") return bareArgvWith(flags, srv.ttyUrl, srv.token);
  return bareArgvWith(flags, srv.ttyUrl, srv.token, srv.url, srv.key);
}

// The environment of every throughput run: lap's config, and glibc's trim
// threshold (MALLOC_TUNABLE) the same for both clients.
function throughputEnv(srv: BenchServer, tmp: string): NodeJS.ProcessEnv {
  const tunables = [process.env.GLIBC_TUNABLES, MALLOC_TUNABLE].filter(Boolean).join(":");
  return childEnv({ LAP_CONFIG: writeConfig(tmp, "bench.json", srv.url, srv.key), GLIBC_TUNABLES: tunables });
}

async function benchThroughput(srv: BenchServer, tmp: string): Promise<void> {
  const env = throughputEnv(srv, tmp);
  const plan: ThroughputRow[] = [];
  // BENCH_CORPORA=source,plain limits the throughput runs to some corpora.
  const only = new Set((process.env.BENCH_CORPORA ?? "").split(",").filter(Boolean));
  for (const c of corpora().filter((x) => only.size === 0 || only.has(x.name))) {
    plan.push({ name: c.name, sink: "devnull" }, { name: c.name, sink: "pipe" });
    // The path real output takes: lap's stdout on a terminal.
    if (c.name === "fullscreen" || c.name === "source") plan.push({ name: c.name, sink: "pty" });
  }
  if (plan.some((p) => p.name === CONTROL_CORPUS)) {
    for (const sink of ["devnull", "pipe"] as const) plan.push({ name: CONTROL_CORPUS, sink, pair: ["bare", "bare"] });
  }
  if (plan.some((p) => p.name === DIAGNOSTIC.corpus)) {
    const { corpus: name, sink } = DIAGNOSTIC;
    plan.push({ name, sink, flags: DIAGNOSTIC.flags }, { name, sink, pair: ["bare+api", "bare"] }, { name, sink, pair: ["lap", "bare+api"] });
  }
  const { warmup } = PLAN.throughput;
  const runsOf = (row: ThroughputRow) => (row.sink === "pty" ? PLAN.throughput.ptyRuns : PLAN.throughput.runs);
  // The rows take turns, one pair each a round, rather than one row after
  // another. A shared machine drifts over minutes, and not alike for lap
  // and the bare client: four rows of the same corpus, run one after
  // another, came to 1.12, 1.10, 0.96 and 1.06×. Taking turns spreads each
  // row over the whole section; a row with fewer runs (a terminal) sits out
  // rounds evenly. "lap" is the place of the client measured, "bare" its
  // floor's.
  const results = plan.map(() => ({ done: 0, lap: [] as Measured[], bare: [] as Measured[] }));
  for (let round = 0; round < warmup + PLAN.throughput.runs; round++) {
    for (const [k, row] of plan.entries()) {
      const { name, sink, pair = ["lap", "bare"], flags = [] } = row;
      const measuring = round - warmup;
      if (measuring >= 0 && !takesPart(measuring, runsOf(row), PLAN.throughput.runs)) continue;
      const r = results[k]!;
      // The order swapped every time the row runs.
      for (const place of r.done++ % 2 ? (["lap", "bare"] as const) : (["bare", "lap"] as const)) {
        const t = await throughputRun(srv, clientArgv(srv, pair[place === "lap" ? 0 : 1], flags), env, corpus(name), sink);
        if (measuring >= 0) r[place].push(t);
      }
    }
  }
  // The judged rows' run-by-run ratios, by sink, for the pooled rows below.
  const pooled = new Map<Sink, { ratios: number[]; corpora: number }>();
  for (const [k, row] of plan.entries()) {
    const { name, sink, pair = ["lap", "bare"], flags = [] } = row;
    const bytes = sinkBytes(sink);
    const c = corpus(name);
    const r = results[k]!;
    const of = (key: keyof Measured) => ({ lap: r.lap.map((t) => t[key]), bare: r.bare.map((t) => t[key]) });
    const [secs, cpu, mainCpu, faults, tail] = [of("secs"), of("cpu"), of("mainCpu"), of("faults"), of("tail")];
    const lap = median(secs.lap);
    const floor = median(secs.bare);
    const rate = (t: number) => bytes / MiB / t;
    const ratio = pairedRatio(secs.lap, secs.bare);
    const interval = medianInterval(secs.lap.map((t, i) => t / secs.bare[i]!));
    const kind = rowKind(row);
    const control = pair[0] === "bare" && pair[1] === "bare";
    const who = control ? "the bare client again" : CLIENT_LABEL[pair[0]];
    const floorWho = pair[1] === "bare" ? "bare" : CLIENT_LABEL[pair[1]];
    // The target is for lap against the bare client, to /dev/null and a
    // pipe; on a terminal lap also tracks modes, which the bare client does
    // not, and the row is reported.
    const judged = pair[0] === "lap" && pair[1] === "bare" && flags.length === 0 && sink !== "pty";
    const verdict = judged ? ratio <= TARGET.throughputTimeRatio : null;
    if (judged) {
      const p = pooled.get(sink) ?? { ratios: [], corpora: 0 };
      p.ratios.push(...secs.lap.map((t, i) => t / secs.bare[i]!));
      p.corpora++;
      pooled.set(sink, p);
    }
    const cpuOf = (all: number[], main: number[]) => `${ms(median(all) * 1000, 0)} (main thread ${ms(median(main) * 1000, 0)})`;
    record({
      benchmark: `${kind}: ${c.label}, ${SINK_LABEL[sink]}`,
      lap: `${rate(lap).toFixed(0)} MiB/s${pair[0] === "lap" ? "" : ` (${CLIENT_LABEL[pair[0]]})`}`,
      floor: `${rate(floor).toFixed(0)} MiB/s (${CLIENT_LABEL[pair[1]]})`,
      compare: `${ratio.toFixed(2)}× the time (90%: ${interval.map((x) => x.toFixed(2)).join("–")}; CPU ${pairedRatio(cpu.lap, cpu.bare).toFixed(2)}×)`,
      target: control ? "— (the bench's resolution)" : verdict === null ? "— (reported)" : `≤ ${TARGET.throughputTimeRatio}× the time`,
      met: verdict,
      detail: `${bytes / MiB} MiB in 64 KiB frames (${c.about}); ${who} ${spread(secs.lap.map(rate), 0, "MiB/s")}; ${floorWho} ${spread(secs.bare.map(rate), 0, "MiB/s")}; ` +
        `the ratio of the medians: ${(lap / floor).toFixed(2)}×; CPU time over the same span, median: ${who} ${cpuOf(cpu.lap, mainCpu.lap)}, ${floorWho} ${cpuOf(cpu.bare, mainCpu.bare)} ` +
        `(${pairedRatio(cpu.lap, cpu.bare).toFixed(2)}×); minor page faults over the span, median: ${who} ${median(faults.lap).toFixed(0)}, ${floorWho} ${median(faults.bare).toFixed(0)}; from the link closing to \`[ws closed]\`, median: ${who} ${ms(median(tail.lap) * 1000, 1)}, ${floorWho} ${ms(median(tail.bare) * 1000, 1)}`,
    });
  }
  // To /dev/null or a pipe neither client looks at the bytes (no terminal,
  // so no mode tracking; no UTF-8 check), so each corpus repeats the same
  // measurement: all of them together say what one row's noise hides.
  for (const [sink, { ratios, corpora }] of pooled) {
    if (corpora < 2) continue;
    record({
      benchmark: `throughput, all corpora together: ${SINK_LABEL[sink]}`,
      lap: `${corpora} corpora`,
      floor: "bare ws client",
      compare: `${median(ratios).toFixed(2)}× the time (90%: ${medianInterval(ratios).map((x) => x.toFixed(2)).join("–")})`,
      target: "— (reported)",
      met: null,
      detail: `the median of all ${ratios.length} run-by-run ratios of the ${corpora} rows above to ${SINK_LABEL[sink]}`,
    });
  }
}

// ---------- full collections ----------

// Full collections (Mark-Compact) during a stream, counted and placed. V8
// frees the clients' dead read buffers in young-generation collections; a
// full one stops the stream for milliseconds and throws away optimised code
// that V8 then compiles again. Run with --trace-gc and stdout a file, V8's
// trace lines land among the bytes at the point in the stream where they
// happened.
async function benchFullCollections(srv: BenchServer, tmp: string): Promise<void> {
  const env = throughputEnv(srv, tmp);
  const c = corpus(DIAGNOSTIC.corpus);
  const file = path.join(tmp, "gc.out");
  const clients: Client[] = ["lap", "bare", "bare+api"];
  const seen = new Map<Client, FullCollection[][]>(clients.map((k) => [k, []]));
  for (let run = 0; run < PLAN.gc.runs; run++) {
    for (const client of clients) {
      await throughputRun(srv, clientArgv(srv, client, ["--trace-gc"]), env, c, "devnull", file);
      seen.get(client)!.push(fullCollections(file));
    }
  }
  fs.rmSync(file, { force: true });
  const count = (client: Client) => {
    const runs = seen.get(client)!;
    const pauses = runs.flat().map((f) => f.ms).filter(Number.isFinite);
    return `in ${runs.filter((r) => r.length > 0).length} of ${runs.length} runs${pauses.length ? `, median pause ${ms(median(pauses))}` : ""}`;
  };
  const run = (r: FullCollection[]) => (r.length ? r.map((f) => `${f.mib.toFixed(0)} MiB${Number.isFinite(f.ms) ? ` (${ms(f.ms)})` : ""}`).join(" + ") : "none");
  record({
    benchmark: `full collections: ${PLAN.throughput.bytes / MiB} MiB of ${c.label}, stdout a file`,
    lap: count("lap"),
    floor: `${count("bare")} (bare ws client)`,
    compare: `${CLIENT_LABEL["bare+api"]}: ${count("bare+api")}`,
    target: "— (reported)",
    met: null,
    detail: `where in the output each run's came, and its pause: ${clients.map((k) => `${CLIENT_LABEL[k]}: ${seen.get(k)!.map(run).join(", ")}`).join("; ")}`,
  });
}

interface FullCollection {
  // Where in the output V8 traced it, in MiB from the start.
  mib: number;
  // The pause, as V8 traced it.
  ms: number;
}

// fullCollections finds V8's --trace-gc lines for full collections in a
// client's output ("... Mark-Compact 5.5 (9.7) -> 4.7 (9.7) MB, 8.13 / 0.00 ms ...").
function fullCollections(file: string): FullCollection[] {
  const needle = Buffer.from("Mark-Compact");
  const line = /^Mark-Compact[^,\n]*, ([\d.]+) \/ [\d.]+ ms/;
  const chunk = Buffer.alloc(4 * MiB);
  const found: FullCollection[] = [];
  const fd = fs.openSync(file, "r");
  try {
    // Each read is searched from just before its start, so that a line cut
    // in two by a read is found: what is kept of the last read is shorter
    // than the word, and cannot hold one already found.
    let tail = Buffer.alloc(0);
    let offset = 0;
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) {
      const buf = Buffer.concat([tail, chunk.subarray(0, n)]);
      for (let i = buf.indexOf(needle); i !== -1; i = buf.indexOf(needle, i + 1)) {
        const pause = line.exec(buf.subarray(i, i + 160).toString("latin1"));
        found.push({ mib: (offset + i) / MiB, ms: pause ? Number(pause[1]) : NaN });
      }
      const keep = Math.min(buf.length, needle.length - 1);
      offset += buf.length - keep;
      tail = Buffer.from(buf.subarray(buf.length - keep));
    }
  } finally {
    fs.closeSync(fd);
  }
  return found;
}

// ---------- keystroke round trip ----------

// Letters only: 0x04 alone would detach.
const KEYS = Buffer.from("abcdefghijklmnopqrstuvwxyz");

// echo answers every binary frame with the same bytes as a text frame, as a
// PTY in echo mode does, after sending its prompt.
const echo: Harness = (ws) => {
  ws.send(PROMPT, { binary: false });
  ws.on("message", (data: Buffer, isBinary: boolean) => {
    if (isBinary) ws.send(data, { binary: false });
  });
};

// roundTrip types one key and resolves with the time until its echo is on
// the child's stdout.
function roundTrip(c: Child, key: number): Promise<number> {
  return c.guard(
    new Promise<number>((resolve) => {
      const onData = (d: Buffer) => {
        if (d[d.length - 1] !== key) return;
        c.stdout.off("data", onData);
        resolve(performance.now() - sentAt);
      };
      c.stdout.on("data", onData);
      const sentAt = performance.now();
      c.proc.stdin!.write(Buffer.of(key));
    }),
    "an echoed key",
    CHILD_DEADLINE_MS,
  );
}

interface KeyStats {
  p50: number;
  p99: number;
}

// A run's figures for each client in each window.
type KeyRun = Record<"first" | "warm", { lap: KeyStats; bare: KeyStats }>;

// keyRun runs lap and the bare client side by side and types to them in
// turn, one key at a time, the order swapped every key: both see the same
// moments of a busy machine.
async function keyRun(lapArgs: string[], bareArgs: string[], env: NodeJS.ProcessEnv): Promise<KeyRun> {
  const lap = new Child(lapArgs, "pipe", env);
  const bare = new Child(bareArgs, "pipe", env);
  try {
    await Promise.all([lap.firstByte(), bare.firstByte()]);
    const { warmup, warm, count } = PLAN.keys;
    const samples = { lap: [] as number[], bare: [] as number[] };
    for (let i = 0; i < warm + count; i++) {
      const key = KEYS[i % KEYS.length]!;
      const order = i % 2 ? (["lap", "bare"] as const) : (["bare", "lap"] as const);
      for (const who of order) samples[who].push(await roundTrip(who === "lap" ? lap : bare, key));
    }
    const stats = (xs: number[], from: number) => {
      const window = xs.slice(from, from + count);
      return { p50: percentile(window, 50), p99: percentile(window, 99) };
    };
    const both = (from: number) => ({ lap: stats(samples.lap, from), bare: stats(samples.bare, from) });
    return { first: both(warmup), warm: both(warm) };
  } finally {
    await Promise.all([lap.stop(), bare.stop()]);
  }
}

async function benchKeys(srv: BenchServer, tmp: string): Promise<void> {
  srv.harness = echo;
  const env = childEnv({ LAP_CONFIG: writeConfig(tmp, "bench.json", srv.url, srv.key) });
  const runs: KeyRun[] = [];
  for (let i = 0; i < PLAN.keys.runs; i++) runs.push(await keyRun(lapArgv("bench", "--detach-on-eof"), bareArgv(srv.ttyUrl, srv.token), env));
  const { warmup, warm, count } = PLAN.keys;
  keyRow(runs, "warm", `keystroke round trip: ${count} keys after the first ${warm}, p50 / p99`, true);
  keyRow(runs, "first", `keystroke round trip: the first ${count} keys (after ${warmup}), while V8 optimises, p50 / p99`, false);
}

// keyRow records one window: judged against the target once warm, and
// reported without a verdict while V8 is still optimising.
function keyRow(runs: KeyRun[], window: keyof KeyRun, benchmark: string, judged: boolean): void {
  const m = (who: "lap" | "bare", p: "p50" | "p99") => median(runs.map((r) => r[window][who][p]));
  const over99 = m("lap", "p99") - m("bare", "p99");
  const perRun = (who: "lap" | "bare") => runs.map((r) => `${r[window][who].p50.toFixed(3)}/${r[window][who].p99.toFixed(3)}`).join(", ");
  record({
    benchmark,
    lap: `${ms(m("lap", "p50"), 3)} / ${ms(m("lap", "p99"), 3)}`,
    floor: `${ms(m("bare", "p50"), 3)} / ${ms(m("bare", "p99"), 3)} (bare ws client)`,
    compare: `${signed(m("lap", "p50") - m("bare", "p50"), 3)} / ${signed(over99, 3)} ms`,
    target: judged ? `p99 overhead ≤ ${TARGET.keyOverheadMs} ms` : "— (reported)",
    met: judged ? over99 <= TARGET.keyOverheadMs : null,
    detail: `medians of ${runs.length} runs, lap and bare typed to in turn; p50/p99 per run, lap: ${perRun("lap")}; bare: ${perRun("bare")} (ms)`,
  });
}

// ---------- memory under a slow reader ----------

function procStatusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface SlowRun {
  // Peak RSS in MiB: VmHWM, or the highest VmRSS polled if that is higher.
  peakMiB: number;
  // RSS when the first byte arrived, before the flood: the client's idle size.
  idleMiB: number;
  seconds: number;
  received: number;
  intact: boolean;
}

// slowReaderRun sends PLAN.slow.bytes of numbered frames to one client whose
// stdout is read at PLAN.slow.rate; its peak RSS is read from /proc before
// the server lets the socket close, and the bytes are checked by hash.
async function slowReaderRun(srv: BenchServer, argv: string[], env: NodeJS.ProcessEnv, corpus: Corpus): Promise<SlowRun> {
  const { bytes, rate } = PLAN.slow;
  const sent = createHash("sha256");
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  srv.harness = (ws) => {
    const frameAt = (i: number) => {
      const f = stampedFrame(corpus.frames[i % corpus.frames.length]!, i);
      sent.update(f);
      return f;
    };
    pump(ws, bytes / FRAME_BYTES, frameAt).then(() => released).then(() => ws.close(1000), () => ws.terminate());
  };
  const c = new Child(argv, "pipe", env);
  const pid = c.proc.pid!;
  let peakRss = 0;
  let idleRss = 0;
  const poll = setInterval(() => (peakRss = Math.max(peakRss, procStatusKiB(pid, "VmRSS"))), RSS_POLL_MS);
  try {
    const got = createHash("sha256");
    let received = 0;
    let firstAt = 0;
    const all = new Promise<void>((resolve) => {
      c.stdout.on("data", (chunk: Buffer) => {
        if (!firstAt) {
          firstAt = performance.now();
          idleRss = procStatusKiB(pid, "VmRSS");
        }
        got.update(chunk);
        received += chunk.length;
        if (received >= bytes) return resolve();
        // Read no faster than rate: stop reading until this chunk is "due".
        const wait = firstAt + (received / rate) * 1000 - performance.now();
        if (wait > 1) {
          c.stdout.pause();
          setTimeout(() => c.stdout.resume(), wait);
        }
      });
    });
    await c.guard(all, `all ${bytes / MiB} MiB on stdout`, (bytes / rate) * 1000 * 2 + CHILD_DEADLINE_MS);
    const seconds = (performance.now() - firstAt) / 1000;
    const hwm = procStatusKiB(pid, "VmHWM");
    peakRss = Math.max(peakRss, procStatusKiB(pid, "VmRSS"));
    release();
    await c.stderrShows("[ws closed]");
    const intact = received === bytes && got.digest("hex") === sent.digest("hex");
    return { peakMiB: Math.max(hwm, peakRss) / KiB, idleMiB: idleRss / KiB, seconds, received, intact };
  } finally {
    clearInterval(poll);
    release();
    await c.stop();
  }
}

// benchSlowReader runs lap, then the bare client (which pauses its socket
// while stdout is full, as lap does) as the floor of a node + ws client,
// for the plain corpus and the full-screen one.
async function benchSlowReader(srv: BenchServer, tmp: string): Promise<void> {
  const { bytes, rate } = PLAN.slow;
  const env = childEnv({ LAP_CONFIG: writeConfig(tmp, "bench.json", srv.url, srv.key) });
  for (const name of ["plain", "fullscreen"]) {
    const c = corpus(name);
    const lap = await slowReaderRun(srv, lapArgv("bench", "--detach-on-eof"), env, c);
    const bare = await slowReaderRun(srv, bareArgv(srv.ttyUrl, srv.token), env, c);
    const check = (r: SlowRun) => (r.intact ? "every byte, in order" : `CORRUPT: ${r.received} of ${bytes} bytes or the hash differs`);
    const run = (r: SlowRun) =>
      `peak ${r.peakMiB.toFixed(1)} MiB, ${r.idleMiB.toFixed(1)} MiB at the first byte; read in ${r.seconds.toFixed(1)} s ` +
      `(${(r.received / MiB / r.seconds).toFixed(2)} MiB/s); ${check(r)}`;
    const over = lap.peakMiB - bare.peakMiB;
    record({
      benchmark: `memory: ${bytes / MiB} MiB of ${c.label} to a reader taking ${rate / MiB} MiB/s`,
      lap: `${lap.peakMiB.toFixed(1)} MiB peak RSS`,
      floor: `${bare.peakMiB.toFixed(1)} MiB (bare ws client)`,
      compare: `${signed(over, 1)} MiB; ${check(lap)}`,
      target: `≤ floor + ${TARGET.peakOverMiB} MiB, every byte in order`,
      met: lap.intact && over <= TARGET.peakOverMiB,
      detail: `one run each. lap: ${run(lap)}. bare: ${run(bare)}. Peak is VmHWM from /proc/<pid>/status (or the highest VmRSS polled every ${RSS_POLL_MS} ms).`,
    });
  }
}

// ---------- installed size ----------

function apparentBytes(p: string): number {
  const st = fs.lstatSync(p);
  if (!st.isDirectory()) return st.size;
  return fs.readdirSync(p).reduce((sum, name) => sum + apparentBytes(path.join(p, name)), 0);
}

// packagesIn lists every package under a node_modules tree, nested ones too.
function packagesIn(modules: string): string[] {
  if (!fs.existsSync(modules)) return [];
  const found: string[] = [];
  for (const name of fs.readdirSync(modules)) {
    const dirs = name.startsWith("@") ? fs.readdirSync(path.join(modules, name)).map((n) => `${name}/${n}`) : [name];
    for (const d of dirs) {
      const dir = path.join(modules, d);
      if (!fs.existsSync(path.join(dir, "package.json"))) continue;
      found.push(d, ...packagesIn(path.join(dir, "node_modules")));
    }
  }
  return found;
}

function benchInstall(tmp: string): void {
  const prefix = path.join(tmp, "prefix");
  // -o build: `make bench` has just built; install exactly that.
  const args = ["--no-print-directory", "-o", "build", "install", `PREFIX=${prefix}`, "DESTDIR="];
  const make = spawnSync(process.env.MAKE || "make", args, { cwd: REPO, env: childEnv(), encoding: "utf8" });
  if (make.status !== 0) throw new Error(`make install failed: ${(make.stderr || make.stdout).trim().slice(-300)}`);
  const lib = path.join(prefix, "lib", "lap");
  const du = spawnSync("du", ["-sk", lib, path.join(prefix, "bin")], { encoding: "utf8" });
  const duKiB = du.stdout.split("\n").filter(Boolean).reduce((sum, line) => sum + Number(line.split(/\s+/)[0]), 0);
  const bytes = apparentBytes(lib);
  const packages = packagesIn(path.join(lib, "node_modules"));
  const onlyWs = packages.join() === TARGET.runtimePackages.join();
  const small = duKiB < TARGET.installedMiB * KiB;
  record({
    benchmark: "installed: `make install PREFIX=…`",
    lap: `${duKiB} KiB on disk (du -sk), ${(bytes / KiB).toFixed(0)} KiB of files; runtime packages: ${packages.join(", ") || "none"}`,
    floor: "—",
    compare: `${packages.length} package${packages.length === 1 ? "" : "s"}`,
    target: `one runtime package (ws), < ${TARGET.installedMiB} MiB`,
    met: onlyWs && small,
    detail: `of which node_modules/ws: ${(apparentBytes(path.join(lib, "node_modules", "ws")) / KiB).toFixed(0)} KiB of files`,
  });
}

// ---------- the report ----------

function machine(): string[] {
  const cpus = os.cpus();
  let commit = "unknown";
  try {
    commit = (JSON.parse(fs.readFileSync(path.join(REPO, "build", "version.json"), "utf8")) as { commit: string }).commit;
  } catch {
    // not built with make
  }
  return [
    `- CPU: ${cpus[0]?.model.trim() ?? "unknown"}, nproc ${os.availableParallelism?.() ?? cpus.length}`,
    `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; ${os.type()} ${os.release()} ${os.arch()}`,
    `- node ${process.version}; ws ${wsVersion()}; lap commit ${commit}`,
    `- load average when the run started: ${loadAtStart}; when it ended: ${load()}`,
    `- CPUs: ${cpuNote()}`,
  ];
}

function wsVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", "ws", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

const load = () => os.loadavg().map((x) => x.toFixed(2)).join(" ");
const loadAtStart = load();

function verdict(r: Row): string {
  if (r.lap === "error") return "could not run";
  return r.met === null ? "—" : r.met ? "✓ met" : "✗ missed";
}

function markdownTable(): string[] {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [
    "| benchmark | lap | floor (same run) | lap vs floor | target | this run |",
    "|---|---|---|---|---|---|",
    ...rows.map((r) => `| ${[r.benchmark, r.lap, r.floor, r.compare, r.target, verdict(r)].map(esc).join(" | ")} |`),
  ];
}

function consoleTable(): string {
  const cells = [["benchmark", "lap", "floor", "lap vs floor", "target", "this run"], ...rows.map((r) => [r.benchmark, r.lap, r.floor, r.compare, r.target, verdict(r)])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => [...row[i]!].length)));
  return cells.map((row) => row.map((c, i) => c + " ".repeat(widths[i]! - [...c].length)).join("  ").trimEnd()).join("\n") + "\n";
}

function report(seconds: number): string {
  const p = PLAN;
  return [
    "# Benchmarks",
    "",
    `Written by \`make bench\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC in ${seconds.toFixed(0)} s` +
      (QUICK ? " — a **quick run (BENCH_QUICK=1)**: sizes scaled down, numbers rougher than a full run." : "."),
    "Every number comes from this one run on this one machine; the floors were measured alongside, interleaved with lap.",
    "",
    ...markdownTable(),
    "",
    "## Details",
    "",
    ...rows.map((r) => `- **${r.benchmark}**: ${r.detail}`),
    "",
    "## Machine",
    "",
    ...machine(),
    "",
    "## Commands",
    "",
    "- `make bench` builds, then runs `node build/internal/bench/bench.js` (the time at the top: most of it is the throughput section's runs; the slow reader takes " +
      `${(PLAN.slow.bytes / PLAN.slow.rate).toFixed(0)} s per client and corpus). \`BENCH_QUICK=1 make bench\` scales the sizes down. ` +
      `\`BENCH_ONLY=${BENCHMARKS.map((b) => b.name).join(",")}\` runs some and prints them without writing this file. ` +
      "`BENCH_LAP=<path>/build/lap.js` measures another build against the same floor (before-and-after figures).",
    `- start-up: \`node build/lap.js --version\`, \`--help\`, \`__complete agents\` (HOME with no config: logged out, exit 1), an empty CommonJS file, an empty ES module and \`node -e 0\`, ` +
      `${p.startup.runs} runs each after ${p.startup.warmup} warm-ups, interleaved; wall time from spawn to exit.`,
    "- ratios and differences to the floor (start-up, attach, throughput) are taken run by run, each lap run against the floor's run next to it, and the median of those is shown: " +
      "a busy moment on a shared machine moves both runs of a pair, and cancels out there. The details give the medians of each side and their ratio or difference as well. " +
      `For time to attach and throughput, "90%" is the 5th to 95th percentile of that median over ${BOOTSTRAP} resamplings of the pairs (a bootstrap): how far the median itself may be off, ` +
      "since one process of a client can run tens of percent slower than the next for its whole life.",
    "- CPUs: the bench (its servers, and what drains a pipe or a terminal) keeps to one CPU, and every process measured, `node -e 0` and the bare client included, is started through `taskset -c` on another, all its threads with it. " +
      "Left to the scheduler, where a client landed (beside the server or not, on a faster CPU or a slower) held for its life and moved its throughput by tens of percent. With one CPU, or no taskset, nothing is pinned; the Machine section says which.",
    "- the bare client is `node build/internal/bench/bench_bare.js <ws-url> <token>`: ws with lap's socket options, every message to stdout (the socket paused while stdout is full), stdin out as binary frames, stdin ending closes; " +
      "with `<api-url> <api-key>` after them it first makes lap's two calls to attach by name.",
    "- lap is `node build/lap.js bench` with `LAP_CONFIG` naming a throw-away config; stdin is a pipe held open, with --detach-on-eof (stdin ending detaches).",
    `- time to attach: spawn → first byte on stdout, ${p.attach.runs} runs each after ${p.attach.warmup} warm-ups. lap asks the API for the agent and its live session, then opens /tty; the bare client opens /tty directly. ` +
      "Against the bench server the harness sends `$ ` the moment the socket opens; against the local platform (`startPlatform({bringUpMs: 0})`) the first byte is tmux drawing a real PTY.",
    `- throughput: the server sends ${p.throughput.bytes / MiB} MiB (${p.throughput.ptyBytes / MiB} MiB to a terminal) of a corpus from memory as 64 KiB text frames (${CORPUS_FRAMES} distinct frames over and over, ≤ ${SERVER_HIGH_WATER / MiB} MiB queued), then closes 1000; ` +
      `the first frame goes ${SETTLE_MS} ms after the socket opens, once the client has settled (what it still does then, the end of its start-up and V8 compiling and collecting behind it, is time to attach); ` +
      "timed from the first frame to the link closing (a client answers the close only after handing every frame before it to stdout) or, on a pipe, to the last byte read, whichever is later, with the client's CPU time (all threads, from schedstat; the details give its main thread's share too) over the same span; " +
      "on a pipe the bench counts every byte. What a client does once the link is over is not throughput: lap then asks the platform whether the session is still ready before it says `[ws closed]`, and the details give that tail. " +
      "stdout is /dev/null, or a pipe the bench reads and discards as fast as it can, or a terminal: `python3 internal/bench/ptysink.py` makes a PTY (120×40) the client's stdout and reads its master as fast as it can. " +
      `${p.throughput.runs} runs each (${p.throughput.ptyRuns} to a terminal) after ${p.throughput.warmup} warm-ups, lap and the bare client in turn, the order swapped every run; the rows take turns too, one pair each a round, so that each spreads over the whole section (a row of terminal runs sits out every other round). ` +
      `Both clients run with \`GLIBC_TUNABLES=${MALLOC_TUNABLE}\` (see "How to read it").`,
    "- the corpora: **source text** is this repository's .ts files (CRLF, as a PTY prints them), repeated; **coloured output** mixes `ls --color` rows, `git diff --color` hunks of those sources and test-runner lines with ticks, crosses and timings; " +
      "**full-screen redraw** is a Claude-Code-like stream: every redraw in `ESC[?2026h` … `ESC[?2026l`, cursor hidden and shown, 24 lines erased upwards (`ESC[2K ESC[1A`), box and text lines in truecolour SGR ending `ESC[K`, cursor addressing, " +
      "and every 40 redraws one of: alternate screen, bracketed paste, mouse (1000/1002/1006), focus events, kitty keyboard (`ESC[>1u` / `ESC[<u`), keypad (`ESC=` / `ESC>`), modifyOtherKeys; **plain text** is lorem ipsum with no ESC and none of `= < > ? { } ;`, the best case. " +
      "Frames cut the stream anywhere, mid-sequence and mid-character. The details line gives each corpus's density of those bytes.",
    `- full collections: ${p.gc.runs} runs each of lap, the bare client and the bare client with lap's two API calls, in turn, as the throughput runs on ${DIAGNOSTIC.corpus} text but with node's \`--trace-gc\` and stdout a file (written like /dev/null, with write(2)): ` +
      "V8 prints its trace to stdout, so each full collection's line lands in the file where the stream was when it came; the bench finds them (`Mark-Compact`) and reads the pause V8 gives.",
    `- keystroke round trip: one byte written to the client's stdin, echoed by the server as a text frame, read back from the client's stdout pipe; the next key goes when the echo is back. ` +
      `lap and the bare client run side by side and are typed to in turn, ${p.keys.warm + p.keys.count} keys each per run, ${p.keys.runs} runs. ` +
      `Two windows of ${p.keys.count} keys are timed: from key ${p.keys.warm}, and from key ${p.keys.warmup}; the table shows the medians of the runs' p50 and p99.`,
    `- memory: ${p.slow.bytes / MiB} MiB of numbered 64 KiB frames of the plain corpus, then of the full-screen one; the bench reads the client's stdout pipe at ${p.slow.rate / MiB} MiB/s, hashes it (sha256) and compares with what was sent; ` +
      "the peak RSS is VmHWM from /proc/<pid>/status, read before the server closes the socket. One run of lap, then one of the bare client, per corpus.",
    "- installed: `make install PREFIX=<tmp>`, then `du -sk` of lib/lap and bin, and the packages under lib/lap/node_modules.",
    "",
    "## How to read it",
    "",
    "- **floor** is the same job done with nothing of lap in the way, measured in the same run: `node -e 0` for start-up, a 30-line ws client (internal/bench/bench_bare.ts) for the rest. " +
      "lap cannot be faster than its floor; the targets say how close it must be.",
    "- **start-up ratios** include process spawn and node's own boot (" + (rows.find((r) => r.benchmark.startsWith("start-up: `node empty.cjs"))?.lap ?? "?") +
      " for an empty CommonJS file, " + (rows.find((r) => r.benchmark.startsWith("start-up: `node empty.mjs"))?.lap ?? "?") + " for an empty ES module): lap's own share is the difference.",
    "- **time to attach** against the bench server is lap's cost alone (reading the config, two API calls on one kept-alive connection, loading the bridge while the first is answered and ws while the second is, the upgrade). " +
      "Against the local platform a real PTY host and tmux sit behind the socket; both clients pay for them alike.",
    "- **throughput** compares times for the same bytes: 1.00× is the floor. When stdout is not a terminal lap has no terminal to restore; on a terminal it tracks the modes a program switches on, so the full-screen corpus is also measured on a PTY. " +
      "The target is for /dev/null and a pipe; the terminal rows are reported without a verdict, since there lap does work the bare client does not. " +
      "A PTY is far slower than a pipe; what lap's own CPU adds shows there on full-screen output, where the mode tracker has an escape sequence every few bytes to look at. " +
      "To a file or /dev/null lap makes the write(2) Node's stream for it would make, without the stream's work per frame. " +
      "lap pays, soon after heavy output starts, for one full garbage collection (5–15 ms) and for compiling again the optimised code V8 throws away in it; the row \"full collections\" counts them and says where they came. " +
      "V8 collects instead of growing the heap when the code it compiles for the output path needs a new page: during a stream it counts the dead 64 KiB read buffers, tens of MiB between young-generation collections, against the heap's limit. " +
      "lap starts its stream with more compiled code than the bare client (its start-up's regular expressions and functions, compiled to machine code), so its output path's code is what needs the page; " +
      "the bare client's fits. The bare client that first makes lap's two API calls (below) compiles more at start-up too, and pays the same collection; the row says in how many runs. It is paid once a session, not per byte: the longer a run, the less it counts. " +
      "With glibc's default trim threshold, a process whose 64 KiB frame buffers end up at the top of its heap gives each one back to the kernel when it is freed and faults the next one in again: " +
      "two to four times the minor page faults and about twice the time, for that process's whole life, lap's or the bare client's alike, at random. " +
      "Both clients therefore run these rows with a higher threshold; the details give each side's minor page faults over the span, which are then alike. " +
      "The two control rows run the bare client against itself, the same way: their distance from 1.00× is what the bench cannot tell apart in this run, and a lap row closer to its floor than that is not a measured difference. " +
      "Pinned to one CPU, a client's other threads (V8 compiling optimised code, mostly) take their time from its main thread, and until a function's optimised code is ready the main thread runs the slower code. " +
      "V8 optimises lap's output path in other pieces than the bare client's, and more of it; the CPU in the details shows that part as the difference between all threads and the main thread. " +
      `The diagnostic row runs both clients with \`${DIAGNOSTIC.flags.join(" ")}\`, V8 compiling on the main thread, in line: what separates it from 1.00× is lap's own work, with the compiler threads' share taken out. ` +
      "On a machine with a core to spare the compiler threads run beside the main thread; no client is run that way outside this row. " +
      "Before it attaches by name lap asks the platform for the agent and its sessions, over node:http; the bare client asks nothing. " +
      "Two more diagnostic rows give the bare client those two calls first (`bench_bare.js` with the API's URL and key, made as lap makes them: one kept-alive connection, each body read to the end): " +
      "one puts it in lap's place against the plain bare client, which is what having made the calls costs the stream after them, in a process that then runs no code of lap's; " +
      "the other makes it lap's floor, which leaves lap's own output path. " +
      "To /dev/null and to a pipe neither client looks at what it passes on (no terminal, so no mode tracking; no UTF-8 check), so there the corpora repeat one measurement: " +
      "the rows \"all corpora together\" take every pair of those rows at once, and their interval is narrower than one row's.",
    "- **round trip** overhead is lap minus floor at the same percentile; a few hundredths of a millisecond are noise on a busy machine. " +
      "Over a session's first few thousand keys V8 optimises each client's key path, and each optimisation holds up one key by about a millisecond (pinned, a client and its compiler threads share one CPU). " +
      `A client has a few dozen such keys, as many as a p99 over ${PLAN.keys.count} keys looks at,` +
      " so p99 there is the size of those stalls, for the bare client as much as for lap; " +
      "with TurboFan off (`--max-opt=1`), keys 1000 to 3000 stall no more often than later ones. The target is judged on the keys after them, which is most of a session's typing; the first keys are shown too.",
    "- **memory** is the most the process held while a reader far slower than the network drains it. Flow control keeps queued data small; " +
      "what remains above the idle size is mostly dead 64 KiB network buffers that V8 frees at its next young-generation GC. " +
      "The bare client pauses its socket the same way, so its peak is the floor for any node + ws client on this machine.",
    "- On a shared machine the medians move between runs (start-up and attach by 5–10 ms; throughput by several percent even with the clients pinned, since one process of a client can still run tens of percent slower than the next; far more when the load average is above the number of cores): " +
      "compare lap with the floor measured in the same run, as the table does, and look at the load average below the table.",
    "- A missed target is a finding, not a failure: `make test` does not run this.",
    "",
  ].join("\n");
}

// ---------- main ----------

const BENCHMARKS: { name: string; run: (srv: BenchServer, tmp: string) => Promise<void> | void; target: string; label: string }[] = [
  { name: "startup", label: "start-up", target: `≤ ${TARGET.startupRatio}×`, run: (_, tmp) => benchStartup(tmp) },
  { name: "attach", label: "time to attach (bench server)", target: `≤ floor + ${TARGET.attachOverMs} ms`, run: benchAttach },
  { name: "platform", label: "time to attach (local platform)", target: `≤ floor + ${TARGET.attachOverMs} ms`, run: (_, tmp) => benchAttachPlatform(tmp) },
  { name: "throughput", label: "throughput", target: `≤ ${TARGET.throughputTimeRatio}× the time`, run: benchThroughput },
  { name: "gc", label: "full collections during a stream", target: "— (reported)", run: benchFullCollections },
  { name: "keys", label: "keystroke round trip", target: `p99 overhead ≤ ${TARGET.keyOverheadMs} ms`, run: benchKeys },
  { name: "memory", label: "memory under a slow reader", target: `≤ floor + ${TARGET.peakOverMiB} MiB`, run: benchSlowReader },
  { name: "install", label: "installed size", target: "one runtime package (ws), < 1 MiB", run: (_, tmp) => benchInstall(tmp) },
];

async function main(): Promise<void> {
  for (const f of [LAP, BARE]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: run 'make build' first`);
  }
  const unknown = [...ONLY].filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length) throw new Error(`BENCH_ONLY: no benchmark '${unknown[0]}'; there are ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  pinBench();
  const started = performance.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-bench-"));
  const srv = await startBenchServer();
  try {
    for (const b of BENCHMARKS) {
      if (ONLY.size > 0 && !ONLY.has(b.name)) continue;
      progress(`· ${b.label}…`);
      try {
        await b.run(srv, tmp);
      } catch (err) {
        failed(b.label, b.target, err);
      }
    }
  } finally {
    await srv.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write("\n" + consoleTable());
  if (ONLY.size === 0) {
    fs.writeFileSync(REPORT, report((performance.now() - started) / 1000));
    process.stdout.write(`\nwritten to ${path.relative(process.cwd(), REPORT) || REPORT}\n`);
  }
}

// Whatever happens, no child outlives the bench.
process.on("exit", () => running.forEach((p) => p.kill("SIGKILL")));
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

main().catch((err: unknown) => {
  process.stderr.write(`✗ bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
