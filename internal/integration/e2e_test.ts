// End-to-end: the INSTALLED lap, typed into a plain shell inside a real
// terminal (a pane of a private tmux server), attached to the local platform
// running bash on a real PTY. Everything is observed the way a user would:
// what the pane shows (capture-pane), the pane's tty settings and modes.
//
// Needs `make build` first (`make test` does it); tmux and python3 on PATH.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { startPlatform, type Platform } from "../platform/platform.js";
import { REPO } from "../testutil/repo.js";
import { Pane, TmuxServer } from "../testutil/tmux.js";

const run = promisify(execFile);


// Generous: a loaded 2-core machine can take seconds to start node, tmux and a shell.
const DEADLINE_MS = 15_000;
// A 1 MiB paste crosses two tmux servers, lap, the WebSocket and the PTY host.
const PASTE_DEADLINE_MS = 90_000;
const POLL_MS = 100;
// Outer terminal size at the start of every test.
const COLS = 100;
const ROWS = 30;
// The platform's inner tmux keeps its status line on, like the real harness:
// the remote program gets one row less than the outer terminal has.
const STATUS_ROWS = 1;
// Short, so each test's fresh session is ready quickly, but still walks the phases.
const BRING_UP_MS = 200;
const PASTE_BYTES = 1 << 20;
// Ends the pasted block; cannot occur in base64 text.
const PASTE_END = "E2E-END";
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
// Pane modes a remote full-screen program switches on and lap must switch off again.
const PANE_MODES = "#{alternate_on} #{cursor_flag} #{keypad_cursor_flag} #{keypad_flag} #{mouse_any_flag} #{insert_flag} #{origin_flag}";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-e2e-"));
const prefix = path.join(tmp, "prefix");
const home = path.join(tmp, "home");
const config = path.join(tmp, "config.json");
let platform: Platform | null = null;
let shells = 0;
let marks = 0;

const tmux = new TmuxServer(home);

/**
 * One outer terminal: a tmux session whose pane runs a plain bash with a
 * known prompt, into which the tests type the lap commands.
 */
class Term extends Pane {
  private constructor(target: string) {
    super(tmux, target, DEADLINE_MS);
  }

  static async open(): Promise<Term> {
    const name = `t${++shells}`;
    const shell = [
      "env", "-i",
      `HOME=${home}`,
      `PATH=${path.join(prefix, "bin")}:${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      "TERM=xterm-256color",
      "LANG=C.UTF-8",
      `LAP_CONFIG=${config}`,
      "PS1=outer$ ",
      "HISTFILE=",
      "bash", "--norc", "--noprofile",
    ];
    await tmux.run("-u", "new-session", "-d", "-s", name, "-x", String(COLS), "-y", String(ROWS), "--", ...shell);
    // Sizes change only by resize-window, never by an attaching client. Set
    // for this window, not globally: tmux 3.3a crashes on new-session when
    // window-size is manual globally and no session is left.
    await tmux.run("set-option", "-t", `=${name}:`, "window-size", "manual");
    const term = new Term(`=${name}:`);
    await term.expect(/^outer\$$/);
    return term;
  }

  /** Runs a shell command line and waits until it has finished. */
  async done(cmd: string, deadlineMs?: number): Promise<void> {
    const n = ++marks;
    await this.line(`${cmd}; echo "done-${n}"`);
    // The typed line reads "...; echo "done-N"", so only the output matches.
    await this.expect(new RegExp(`^done-${n}$`, "m"), deadlineMs);
  }

  /** Echoes a shell expression in the pane's shell and returns what it printed. */
  async ask(expr: string): Promise<string> {
    const n = ++marks;
    await this.line(`echo "q${n}=${expr}"`);
    return (await this.expect(new RegExp(`^q${n}=(.*)$`, "m")))[1]!;
  }

  /** Clears the outer screen so nothing from an earlier run can match. */
  async clear(): Promise<void> {
    await this.line("clear");
    await this.expect(/^outer\$$/);
  }

  async modes(): Promise<string> {
    return (await tmux.run("display-message", "-p", "-t", this.target, PANE_MODES)).trim();
  }

  async ttyPath(): Promise<string> {
    return (await tmux.run("display-message", "-p", "-t", this.target, "#{pane_tty}")).trim();
  }


  async close(): Promise<void> {
    await tmux.run("kill-session", "-t", this.target).catch(() => {});
  }
}

/**
 * Starts `lap <args>` at the outer prompt; resolves once the remote shell's
 * prompt shows. lap's own lines stay on the outer screen, hidden while the
 * remote tmux has the alternate screen: check them after detaching.
 */
async function startLap(term: Term, args: string): Promise<void> {
  await term.clear();
  await term.line(`lap ${args}`);
  await term.expect(/^remote\$$/m);
}

/** Ctrl-D; resolves to the session id lap names once the outer prompt is back. */
async function detach(term: Term, again: string): Promise<string> {
  await term.keys("C-d");
  const m = await term.expect(new RegExp(`^· detached — session (${UUID}) keeps running; reconnect: ${again}\\nouter\\$$`, "m"));
  return m[1]!;
}

/** The outer shell's own `stty -g`, written by the shell in the pane. */
async function sttyInPane(term: Term, name: string): Promise<string> {
  const file = path.join(tmp, `stty-${name}`);
  await term.done(`stty -g > '${file}'`);
  return fs.readFileSync(file, "utf8").trim();
}

function agent(name: string): string {
  platform!.addAgent({ name, harness_id: "claude-code", supports_tui: true });
  return name;
}

function sessionsOf(name: string): string[] {
  const id = platform!.agents.find((a) => a.name === name)!.id;
  return [...platform!.sessions.values()].filter((s) => s.agent_id === id).map((s) => s.id);
}

/** 1 MiB of base64 lines ending with the PASTE_END line, as a user might paste. */
function pasteBlock(): Buffer {
  const b64 = randomBytes(PASTE_BYTES).toString("base64");
  const lines: string[] = [];
  let size = PASTE_END.length + 1;
  for (let at = 0; size < PASTE_BYTES; ) {
    const len = Math.min(76, PASTE_BYTES - size - 1);
    lines.push(b64.slice(at, at + len));
    at += len;
    size += len + 1;
  }
  lines.push(PASTE_END);
  const block = Buffer.from(lines.join("\n") + "\n");
  assert.equal(block.length, PASTE_BYTES);
  return block;
}

function lapProcesses(): Promise<string> {
  // The installed lap's command line names the prefix inside tmp.
  return run("pgrep", ["-af", prefix], { encoding: "utf8" }).then((r) => r.stdout.trim(), () => "");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

before(async () => {
  if (!fs.existsSync(path.join(REPO, "build", "lap.js"))) throw new Error("build/lap.js is missing: run `make build` first");
  // Install what `make build` made, exactly as a user would, but without
  // rebuilding (-o build): tsc rewriting build/ would race other test files
  // that run build/lap.js at the same time under `make test`.
  const env = { ...process.env };
  for (const name of ["MAKEFLAGS", "MFLAGS", "MAKELEVEL"]) delete env[name];
  await run("make", ["--no-print-directory", "-o", "build", "install", `PREFIX=${prefix}`, "DESTDIR="], { cwd: REPO, env });
  const { stdout } = await run(path.join(prefix, "bin", "lap"), ["--version"], { encoding: "utf8" });
  assert.match(stdout, /^lap \d+\.\d+\.\d+ /);

  fs.mkdirSync(home, { mode: 0o700 });
  platform = await startPlatform({
    bringUpMs: BRING_UP_MS,
    command: ["bash", "--norc", "--noprofile", "-i"],
    env: { PS1: "remote$ " },
  });
  fs.writeFileSync(config, JSON.stringify({ base: platform.url, key: platform.key }) + "\n", { mode: 0o600, flag: "wx" });
});

after(async () => {
  tmux.stop();
  // Each lap gets SIGHUP when its pane goes; wait for them to be gone.
  const deadline = Date.now() + DEADLINE_MS;
  while ((await lapProcesses()) !== "" && Date.now() < deadline) await sleep(POLL_MS);
  const left = await lapProcesses();
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  assert.equal(left, "", "no lap process outlives its terminal");
});

describe("lap in a real terminal, against a real shell on a real PTY", () => {
  test("typed commands run remotely and CJK and emoji arrive intact both ways", async () => {
    const term = await Term.open();
    try {
      await startLap(term, agent("e2e-utf8"));
      assert.match(await term.ask("$((6 * 7)) $(tty)"), /^42 \/dev\/pts\/\d+$/, "the remote shell computes, on a real tty");
      // Typed: the characters cross lap as keystrokes and come back as output.
      assert.equal(await term.ask("typed:世界🎉"), "typed:世界🎉");
      // Printed: the remote program writes the bytes; only output carries them.
      assert.equal(await term.ask("$(printf 'printed:\\344\\270\\226\\347\\225\\214\\360\\237\\216\\211')"), "printed:世界🎉");
      await detach(term, "lap e2e-utf8");
    } finally {
      await term.close();
    }
  });

  test("the remote tput cols and lines follow tmux resize-window, less the remote status line", async () => {
    const term = await Term.open();
    try {
      await startLap(term, agent("e2e-resize"));
      const size = async (cols: number, rows: number) => {
        const want = `${cols}x${rows - STATUS_ROWS} ${rows - STATUS_ROWS} ${cols}`;
        // The new size travels asynchronously (SIGWINCH, lap, WebSocket, PTY):
        // ask again until it has arrived, or fail with the last answer.
        const deadline = Date.now() + DEADLINE_MS;
        let got = "";
        while (got !== want && Date.now() < deadline) {
          got = await term.ask("$(tput cols)x$(tput lines) $(stty size)");
          if (got !== want) await sleep(POLL_MS);
        }
        assert.equal(got, want, `remote size after resize to ${cols}x${rows}`);
      };
      await size(COLS, ROWS);
      await term.resize(91, 27);
      await size(91, 27);
      await term.resize(72, 20);
      await size(72, 20);
      await term.resize(COLS, ROWS);
      await size(COLS, ROWS);
      await detach(term, "lap e2e-resize");
    } finally {
      await term.close();
    }
  });

  test("vi draws its screen, edits a file and quits back to the remote prompt", async () => {
    const term = await Term.open();
    const file = path.join(tmp, "vi-file.txt");
    try {
      await startLap(term, agent("e2e-vi"));
      await term.line(`vi -u NONE -N '${file}'`);
      // Empty lines past the end of the buffer: vi has drawn the full screen.
      await term.expect(/(?:^~\n){10}/m);
      await term.expect(/"[^"\n]*vi-file\.txt"/);
      await term.type("ihello from vi 世界");
      await term.expect(/^hello from vi 世界$/m);
      await term.keys("Escape");
      await term.line(":wq");
      await term.expect(/^remote\$$/m);
      const screen = await term.screen();
      assert.doesNotMatch(screen, /^~$/m, "vi's screen is gone after :wq");
      assert.equal(await term.ask("$(cat '" + file + "')"), "hello from vi 世界");
      await detach(term, "lap e2e-vi");
    } finally {
      await term.close();
    }
  });

  test("Ctrl-D detaches and gives back exactly the tty settings and screen modes lap found", async () => {
    const term = await Term.open();
    try {
      // Settings `stty sane` would change: lap must restore these, not defaults.
      await term.done("stty -echoctl ixany");
      const sttyBefore = await sttyInPane(term, "before");
      const modesBefore = await term.modes();

      await startLap(term, agent("e2e-detach"));
      assert.match(await lapProcesses(), /\/prefix\/bin\/lap e2e-detach$/m, "the installed lap is the one running");
      const during = (await run("stty", ["-a", "-F", await term.ttyPath()], { encoding: "utf8" })).stdout;
      assert.match(during, /(?:^|\s)-icanon(?:\s|$)/, "lap puts the terminal in raw mode");
      assert.match(during, /(?:^|\s)-echo(?:\s|$)/);
      assert.match(during, /(?:^|\s)-isig(?:\s|$)/);
      assert.match(await term.modes(), /^1 /, "the remote tmux switched the pane to the alternate screen");
      const id = await detach(term, "lap e2e-detach");

      assert.deepEqual(sessionsOf("e2e-detach"), [id]);
      assert.equal(platform!.sessions.get(id)!.status, "ready", "detaching leaves the session running");
      assert.equal(await sttyInPane(term, "after"), sttyBefore);
      assert.equal(await term.modes(), modesBefore);
      assert.equal(await term.ask("$?"), "0", "lap exits 0 on a detach");
    } finally {
      await term.close();
    }
  });

  test("lap <agent> and lap attach <id> both land in the same shell, its variables still set", async () => {
    const term = await Term.open();
    const mark = "m-" + randomBytes(6).toString("hex");
    try {
      await startLap(term, agent("e2e-again"));
      await term.done(`E2E_MARK=${mark}`);
      const id = await detach(term, "lap e2e-again");

      await startLap(term, "e2e-again");
      // The reattach shows the current screen: the line typed before the detach.
      await term.expect(new RegExp(`^remote\\$ E2E_MARK=${mark}; echo`, "m"));
      assert.equal(await term.ask("$E2E_MARK"), mark);
      assert.equal(await detach(term, "lap e2e-again"), id);
      await term.expect(new RegExp(`^· reattaching to session ${id}$`, "m"));

      await startLap(term, `attach ${id}`);
      assert.equal(await term.ask("$E2E_MARK"), mark);
      assert.equal(await detach(term, `lap attach ${id}`), id);
      assert.deepEqual(sessionsOf("e2e-again"), [id], "no second session was created");
    } finally {
      await term.close();
    }
  });

  test("the remote shell exiting closes with [ws closed] and returns to the outer prompt with the terminal restored", async () => {
    const term = await Term.open();
    try {
      const sttyBefore = await sttyInPane(term, "before-exit");
      const modesBefore = await term.modes();
      await startLap(term, agent("e2e-exit"));
      await term.line("exit");
      await term.expect(/^\[ws closed\] 1005$(?:\n.*)*\nouter\$$/m);
      assert.equal(await term.ask("$?"), "0", "the program ending is not an error");
      assert.equal(await sttyInPane(term, "after-exit"), sttyBefore);
      assert.equal(await term.modes(), modesBefore);
    } finally {
      await term.close();
    }
  });

  test("a pasted 1 MiB block reaches the remote program byte for byte", async () => {
    const term = await Term.open();
    const block = pasteBlock();
    const blockFile = path.join(tmp, "paste.txt");
    const received = path.join(tmp, "pasted-remote.txt");
    fs.writeFileSync(blockFile, block);
    try {
      await startLap(term, agent("e2e-paste"));
      // tmux pastes newlines as CR (what a terminal sends for Enter); the
      // remote tty's ICRNL turns them back into LF, so the program must read
      // exactly the original bytes. -echo keeps 1 MiB off the screen; sed
      // stops at the end line, so a lost byte shows as a short count.
      const n = ++marks;
      await term.line(
        `stty -echo; echo "paste-${n}""-ready"; sed '/^${PASTE_END}$/q' > '${received}'; stty echo; ` +
          `echo "got $(wc -c < '${received}') $(sha256sum < '${received}' | cut -c1-64)"`,
      );
      await term.expect(new RegExp(`^paste-${n}-ready$`, "m"));
      await tmux.run("load-buffer", "-b", "e2e-paste", blockFile);
      await tmux.run("paste-buffer", "-d", "-b", "e2e-paste", "-t", term.target);
      const m = await term.expect(/^got (\d+) ([0-9a-f]{64})$/m, PASTE_DEADLINE_MS);
      assert.equal(Number(m[1]), PASTE_BYTES, "byte count inside the PTY");
      assert.equal(m[2], createHash("sha256").update(block).digest("hex"), "sha256 inside the PTY");
      await detach(term, "lap e2e-paste");
    } finally {
      await term.close();
    }
  });
});
