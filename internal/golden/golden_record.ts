// `make record`: records real programs for the golden-frame replays. Each
// scenario runs the real lap CLI on a real PTY (ptyhost.py) with
// LAP_RECORD_FRAMES set, attached to a local platform whose shell runs on a
// real PTY inside tmux; the platform records the same WebSocket from its side
// (recordDir). Not installed.

import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { startPlatform } from "../platform/platform.js";
import { REPO, LAP } from "../testutil/repo.js";

// One thing a user does, in order: wait for text on the screen, type, change
// the window size, or let the program run a while (top refreshing).
export type Step = { expect: RegExp } | { type: string } | { resize: [number, number] } | { pause: number };

export interface Scenario {
  name: string;
  note: string;
  steps: Step[];
}

// The window lap starts in, as on most terminals.
const START_COLS = 80;
const START_ROWS = 24;
// Generous: a loaded machine can take seconds to start tmux and a shell.
const STEP_MS = 20_000;
const POLL_MS = 10;
const SHELL = ["bash", "--norc", "--noprofile", "-i"];
const ENTER = "\r";
const CTRL_C = "\x03";
const CTRL_D = "\x04";
const ESC = "\x1b";
// lap's own line once the bridge runs: keys typed before it would be cooked.
const ATTACHED = /Ctrl-D detaches/;
// The prompt the platform gives bash.
const PROMPT = /\$ /;

// Commands print their markers split by quotes (do''ne), so the echo of the
// typed command never matches what the output is awaited for. lap's own
// terminal shows \r\r\n for the program's \r\n: libuv's raw mode keeps ONLCR.
export const SCENARIOS: Scenario[] = [
  {
    name: "10-shell-commands",
    note: "local platform (tmux + bash): prompt, a few commands with UTF-8 output, detach with Ctrl-D",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "echo hel''lo; pwd >/dev/null; printf 'caf\\303\\251 \\342\\234\\223 \\360\\237\\230\\200\\n'" + ENTER },
      { expect: /hello[^]*café ✓ 😀/ },
      { type: "for i in 1 2 3; do echo line$i; done" + ENTER }, { expect: /line3/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "11-ls-color",
    note: "local platform (tmux + bash): `ls --color` in a folder with a directory, an executable, a symlink and a plain file",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: 'cd "$LAP_RECORD_DIR" && ls --color' + ENTER }, { expect: /tool/ },
      { type: "ls -l --color=always | wc -l" + ENTER }, { expect: /5\r+\n/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "12-resize-tput",
    note: "local platform (tmux + bash): `tput cols; tput lines` at 80x24, the window resized to 120x40, again (tmux's status line takes a row)",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "tput cols; tput lines; echo do''ne" + ENTER }, { expect: /80\r+\n23\r+\ndone/ },
      { resize: [120, 40] }, { pause: 300 },
      { type: "clear; tput cols; tput lines; echo fin''ished" + ENTER }, { expect: /120\r+\n39\r+\nfinished/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "13-vi",
    note: "local platform (tmux + bash): vi, insert UTF-8 text, Esc, :q!, back at the prompt",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "vi -u NONE -N" + ENTER }, { expect: /~/ },
      { type: "i" }, { expect: /INSERT/ },
      { type: "héllo wörld ✓ 日本" }, { expect: /日本/ },
      { type: ESC }, { pause: 200 },
      { type: ":q!" + ENTER }, { expect: PROMPT },
      { type: "echo ba''ck" + ENTER }, { expect: /back/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "14-top",
    note: "local platform (tmux + bash): top refreshing twice a second for a while, quit with q",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "top -d 0.5" + ENTER }, { expect: /load average/ }, { pause: 1200 },
      { type: "q" }, { pause: 300 },
      { type: "echo ba''ck" + ENTER }, { expect: /back/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "15-ctrl-c",
    note: "local platform (tmux + bash): Ctrl-C interrupts `sleep 30`, then `cat`",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "sleep 30" + ENTER }, { pause: 300 },
      { type: CTRL_C }, { expect: /\^C/ },
      { type: "cat" + ENTER }, { pause: 300 }, { type: "typed into cat" + ENTER }, { pause: 300 },
      { type: CTRL_C }, { pause: 300 },
      { type: "echo st''opped" + ENTER }, { expect: /stopped/ },
      { type: CTRL_D },
    ],
  },
  {
    name: "16-program-exits",
    note: "local platform (tmux + bash): the program exits (`exit 3`); the harness sends a notice and closes without a code (1005)",
    steps: [
      { expect: ATTACHED }, { expect: PROMPT },
      { type: "echo bye''bye; exit 3" + ENTER }, { expect: /\[ws closed\]/ },
    ],
  },
];

export interface Recorded {
  // Recorded by lap itself (LAP_RECORD_FRAMES).
  client: string;
  // Recorded by the platform (recordDir).
  server: string;
  // lap's exit status.
  status: number;
  // The sessions' tty tokens, so a test can check none reached a recording.
  tokens: string[];
}

// recordScenario runs one scenario and writes DIR/NAME.jsonl (lap's side)
// and DIR/server-side/NAME.jsonl (the platform's side).
export async function recordScenario(s: Scenario, dir: string, lapCommand: string[] = defaultLap()): Promise<Recorded> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-record-"));
  const platform = await startPlatform({
    bringUpMs: 0,
    command: SHELL,
    env: { PS1: "$ ", LAP_RECORD_DIR: sampleFolder(tmp) },
    recordDir: path.join(tmp, "server"),
  });
  let lap: ChildProcess | null = null;
  try {
    platform.addAgent({ name: "rec", harness_id: "claude-code", supports_tui: true });
    const config = path.join(tmp, "config.json");
    fs.writeFileSync(config, JSON.stringify({ base: platform.url, key: platform.key }) + "\n", { mode: 0o600 });
    const clientFile = path.join(tmp, "client.jsonl");
    lap = spawn("python3", [ptyHost(), String(START_COLS), String(START_ROWS), ...lapCommand, "rec"], {
      stdio: ["pipe", "pipe", "pipe", "pipe"],
      env: { ...process.env, LAP_CONFIG: config, LAP_RECORD_FRAMES: clientFile },
    });
    const status = await drive(lap, s.steps);
    // The platform writes its recording once it has seen the socket close.
    const serverDir = path.join(tmp, "server");
    await until(() => fs.existsSync(serverDir) && fs.readdirSync(serverDir).length > 0, "the platform's recording");
    const serverFiles = fs.readdirSync(serverDir);
    if (serverFiles.length !== 1) throw new Error(`${s.name}: the platform recorded ${serverFiles.length} connections, not 1`);
    const tokens = [...platform.sessions.values()].flatMap((x) => (x.tty_token ? [x.tty_token] : []));
    const out = { client: path.join(dir, `${s.name}.jsonl`), server: path.join(dir, "server-side", `${s.name}.jsonl`), status, tokens };
    fs.mkdirSync(path.dirname(out.server), { recursive: true });
    writeWithNote(clientFile, out.client, `${s.note}; recorded by lap (LAP_RECORD_FRAMES), client side`);
    writeWithNote(path.join(serverDir, serverFiles[0]!), out.server, `${s.note}; recorded by the local platform (recordDir), server side`);
    return out;
  } finally {
    // ptyhost.py hangs up lap's process group on SIGTERM.
    if (lap && lap.exitCode === null) lap.kill("SIGTERM");
    await platform.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// A folder for `ls --color` to show: one of each kind ls colours.
function sampleFolder(tmp: string): string {
  const dir = path.join(tmp, "sample");
  fs.mkdirSync(path.join(dir, "docs"), { recursive: true });
  fs.writeFileSync(path.join(dir, "notes.txt"), "notes\n");
  fs.writeFileSync(path.join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 });
  fs.symlinkSync("notes.txt", path.join(dir, "link"));
  return dir;
}

// drive plays the steps against lap's terminal and resolves with lap's exit
// status once it has exited.
async function drive(lap: ChildProcess, steps: Step[]): Promise<number> {
  let screen = "";
  let seen = 0;
  lap.stdout!.setEncoding("utf8");
  lap.stdout!.on("data", (text: string) => (screen += text));
  lap.stderr!.resume();
  const exited = new Promise<number>((resolve) => lap.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  const control = lap.stdio[3] as Writable;
  for (const step of steps) {
    if ("expect" in step) {
      await until(() => {
        const m = step.expect.exec(screen.slice(seen));
        if (m) seen += m.index + m[0].length;
        return m !== null;
      }, () => `${step.expect} on the screen; it ends ${JSON.stringify(screen.slice(-300))}`);
    } else if ("type" in step) lap.stdin!.write(step.type);
    else if ("resize" in step) control.write(`${step.resize[0]} ${step.resize[1]}\n`);
    else await new Promise((r) => setTimeout(r, step.pause));
  }
  let status: number | null = null;
  void exited.then((s) => (status = s));
  await until(() => status !== null, "lap to exit");
  return status!;
}

async function until(cond: () => boolean, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function writeWithNote(from: string, to: string, note: string): void {
  const text = fs.readFileSync(from, "utf8");
  const nl = text.indexOf("\n");
  const header = { ...(JSON.parse(text.slice(0, nl)) as object), note };
  fs.writeFileSync(to, JSON.stringify(header) + text.slice(nl));
}

// The real CLI as make build leaves it.
function defaultLap(): string[] {
  return [process.execPath, LAP];
}

function ptyHost(): string {
  return path.join(REPO, "internal", "platform", "ptyhost.py");
}

async function main(): Promise<void> {
  const [dir = "testdata/frames", ...names] = process.argv.slice(2);
  const chosen = names.length > 0 ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;
  for (const s of chosen) {
    const r = await recordScenario(s, dir);
    process.stdout.write(`recorded ${r.client} and ${r.server} (lap exited ${r.status})\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`record: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
