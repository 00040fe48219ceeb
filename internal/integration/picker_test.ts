// The picker in a real terminal: a pane of a private tmux server runs a
// plain bash, into which the tests type the command, then keys; what the
// pane shows (capture-pane), its size (resize-window) and its tty settings
// (stty -g before and after) are checked the way a user would see them.
// Runs the compiled lap: needs `make build` first; tmux and python3 on PATH.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { startPlatform, type Platform } from "../platform/platform.js";
import { LAP, REPO } from "../testutil/repo.js";
import { Pane, TmuxServer } from "../testutil/tmux.js";


// Generous: a loaded 2-core machine can take seconds to start node with tsx.
const DEADLINE_MS = 20_000;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-picker-"));
const home = path.join(tmp, "home");
let platform: Platform | null = null;
let empty: Platform | null = null;
let terms = 0;
let marks = 0;

const tmux = new TmuxServer(home);

class Term extends Pane {
  private constructor(target: string) {
    super(tmux, target, DEADLINE_MS);
  }

  // open starts a bash at the given size, logged in to p through the config file at config.
  static async open(cols: number, rows: number, config: string): Promise<Term> {
    const name = `t${++terms}`;
    const shell = [
      "env", "-i", `HOME=${home}`, `PATH=${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      "TERM=xterm-256color", "LANG=C.UTF-8", `LAP_CONFIG=${config}`, "PS1=outer$ ", "HISTFILE=",
      "bash", "--norc", "--noprofile",
    ];
    await tmux.run("-u", "new-session", "-d", "-s", name, "-x", String(cols), "-y", String(rows), "-c", REPO, "--", ...shell);
    // Per session: tmux 3.3a crashes creating a session sized with -x/-y
    // after the option was set globally while another session lives.
    await tmux.run("set-option", "-t", `=${name}:`, "window-size", "manual");
    const term = new Term(`=${name}:`);
    await term.expect(/^outer\$$/m);
    return term;
  }


  // status runs a command line and returns the exit status it printed.
  async status(): Promise<string> {
    const n = ++marks;
    await this.line(`echo "rc${n}=$?"`);
    return (await this.expect(new RegExp(`^rc${n}=(\\d+)$`, "m")))[1]!;
  }

  async stty(): Promise<string> {
    const file = path.join(tmp, `stty-${++marks}`);
    await this.line(`stty -g > '${file}'; echo "stty-${marks}"`);
    await this.expect(new RegExp(`^stty-${marks}$`, "m"));
    return fs.readFileSync(file, "utf8").trim();
  }

  // modes: alternate screen on, cursor shown.
  async modes(): Promise<string> {
    return (await tmux.run("display-message", "-p", "-t", this.target, "#{alternate_on} #{cursor_flag}")).trim();
  }


  async clear(): Promise<void> {
    await this.line("clear");
    await this.expect(/^outer\$$/);
  }

  async close(): Promise<void> {
    await tmux.run("kill-session", "-t", this.target).catch(() => {});
  }
}

const config = path.join(tmp, "config.json");
const emptyConfig = path.join(tmp, "empty.json");

// picker types `lap` (or `lap attach`) with no more arguments.
function picker(term: Term, what = ""): Promise<void> {
  return term.line(`node '${LAP}'${what ? ` ${what}` : ""}`);
}

before(async () => {
  if (!fs.existsSync(LAP)) throw new Error("build/lap.js is missing: run `make build` first");
  fs.mkdirSync(home, { mode: 0o700 });
  // Keeps the server up between tests: one exiting with its last session
  // races the next test's new-session.
  await tmux.run("new-session", "-d", "-s", "keep", "--", "sleep", "86400");
  platform = await startPlatform({ bringUpMs: 0, command: ["bash", "--norc", "--noprofile", "-i"], env: { PS1: "remote$ " } });
  for (let i = 0; i < 50; i++) platform.addAgent({ name: `agent-${String(i).padStart(2, "0")}`, harness_id: i % 5 === 0 ? "codex" : "claude-code", supports_tui: true });
  platform.addAgent({ name: "Gamma-Shell", harness_id: "claude-code", supports_tui: true });
  fs.writeFileSync(config, JSON.stringify({ base: platform.url, key: platform.key }) + "\n", { mode: 0o600 });
  empty = await startPlatform({ bringUpMs: 0 });
  fs.writeFileSync(emptyConfig, JSON.stringify({ base: empty.url, key: empty.key }) + "\n", { mode: 0o600 });
});

after(async () => {
  tmux.stop();
  await platform?.close();
  await empty?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("typing filters case-insensitively, Enter opens the agent as lap <name> would, and the terminal is left as found", async () => {
  const term = await Term.open(80, 24, config);
  const before = await term.stty();
  await term.clear();
  await picker(term);
  await term.expect(/^Pick an agent \(51\/51\)/m);
  assert.equal(await term.modes(), "1 1");
  await term.type("gAMMA");
  await term.expect(/^Pick an agent \(1\/51\)[\s\S]*^> gAMMA$[\s\S]*^> Gamma-Shell\s+claude-code\s+terminal\s+-$/m);
  await term.keys("Enter");
  await term.expect(/^remote\$$/m);
  await term.line("echo R=$((6*7))");
  await term.expect(/^R=42$/m);
  await term.keys("C-d");
  await term.expect(/reconnect: lap Gamma-Shell\nouter\$$/m);
  const screen = await term.screen();
  assert.doesNotMatch(screen, /Pick an agent/);
  assert.match(screen, /^· agent Gamma-Shell$/m);
  assert.equal(await term.status(), "0");
  assert.equal(await term.stty(), before);
  assert.equal(await term.modes(), "0 1");
  await term.close();
});

test("arrows and Ctrl-N/Ctrl-P move the selection; Esc cancels with 0, Ctrl-C with 130, one summary line left", async () => {
  const term = await Term.open(80, 24, config);
  const before = await term.stty();
  await term.clear();
  await picker(term);
  await term.expect(/^> Gamma-Shell/m);
  await term.keys("Down", "Down", "C-n", "C-p");
  await term.expect(/^> agent-48/m);
  await term.keys("Escape");
  await term.expect(/^· no agent picked\nouter\$$/m);
  assert.equal(await term.status(), "0");
  assert.equal(await term.stty(), before);
  await term.clear();
  await picker(term);
  await term.expect(/^> Gamma-Shell/m);
  await term.keys("C-c");
  await term.expect(/^outer\$ node '\S+lap\.js'\nouter\$$/m);
  assert.equal(await term.status(), "130");
  assert.equal(await term.stty(), before);
  assert.equal(await term.modes(), "0 1");
  assert.equal(platform!.sessions.size, 1, "only the first test opened a session");
  await term.close();
});

test("a resize while open redraws at the new size, and a 10-row window with 50 agents scrolls", async () => {
  const term = await Term.open(80, 24, config);
  const before = await term.stty();
  await term.clear();
  await picker(term);
  await term.expect(/^Pick an agent \(51\/51\) — ↑↓ move, type to filter, enter opens, esc cancels$/m);
  await term.resize(40, 10);
  const small = (await term.expect(/^Pick an agent \(51\/51\) — ↑↓ move,[^\n]*…$/m)).input;
  assert.equal(small.split("\n").length, 10);
  assert.ok(small.split("\n").every((l) => [...l].length < 40), small);
  for (let i = 0; i < 20; i++) await term.keys("Down");
  const scrolled = (await term.expect(/^> agent-30\s/m)).input;
  assert.doesNotMatch(scrolled, /Gamma-Shell/, "the top rows scrolled away");
  assert.match(scrolled, /^>$/m, "the filter line stays");
  await term.keys("BSpace", "Escape");
  await term.expect(/^· no agent picked\nouter\$$/m);
  assert.equal(await term.stty(), before);
  await term.close();
});

test("lap attach without an id picks among the live sessions", async () => {
  const term = await Term.open(80, 24, config);
  await term.clear();
  await picker(term, "attach");
  await term.expect(/^Pick a session \(1\/1\)[\s\S]*^> [0-9a-f]{8}\s+Gamma-Shell\s+ready\s+\d+[smh]$/m);
  await term.keys("Enter");
  await term.expect(/^remote\$$/m);
  await term.keys("C-d");
  await term.expect(/reconnect: lap attach [0-9a-f-]{36}\nouter\$$/m);
  await term.close();
});

test("not logged in: the login prompts, then the picker, then attached", async () => {
  const fresh = path.join(tmp, "fresh", "config.json");
  const term = await Term.open(80, 24, fresh);
  await term.clear();
  await picker(term);
  await term.expect(/^Agent platform URL:\s*$/m);
  await term.line(platform!.url);
  await term.expect(/^Master key:\s*$/m);
  await term.line(platform!.key);
  await term.expect(/^Pick an agent \(51\/51\)/m);
  await term.type("agent-07");
  await term.keys("Enter");
  await term.expect(/^remote\$$/m);
  await term.keys("C-d");
  const screen = (await term.expect(/reconnect: lap agent-07\nouter\$$/m)).input;
  assert.doesNotMatch(screen, new RegExp(platform!.key), "the key is never echoed");
  assert.ok(fs.existsSync(fresh));
  await term.close();
});

test("with no agents, one ✗ line says so and where agents are created", async () => {
  const term = await Term.open(80, 24, emptyConfig);
  const before = await term.stty();
  await term.clear();
  await picker(term);
  await term.expect(/^✗ no agents on http:\/\/127\.0\.0\.1:\d+: agents are created in the platform's web UI\nouter\$$/m);
  assert.equal(await term.status(), "1");
  assert.equal(await term.stty(), before);
  await term.close();
});
