// A private tmux server for the tests that drive lap in a real terminal:
// panes to type into and read the screen of, the way a user sees them. Its
// socket is named for this process, so never the user's own server. Not
// installed.

import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import { promisify } from "node:util";

const exec = promisify(execFile);

// How often a pane's screen is read while waiting for it to show something.
const POLL_MS = 100;

export class TmuxServer {
  // -L names a socket in tmux's own directory: unique, so never the user's server.
  readonly name = `lap-test-${process.pid}-${randomBytes(4).toString("hex")}`;
  // A clean environment for tmux: no TMUX (the tests may run inside the
  // user's tmux), no TMUX_TMPDIR.
  readonly env: Record<string, string>;
  private socket = "";
  private started: Promise<unknown> | undefined;

  constructor(home?: string) {
    this.env = { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...(home && { HOME: home }) };
    // A run cut short must not leave the server, and the shells and laps in it, behind.
    process.once("exit", () => this.stop());
  }

  async run(...args: string[]): Promise<string> {
    // The server outlives its sessions until stop: otherwise a test closing
    // the last session races the next one opening its own against the
    // server's exit ("server exited unexpectedly").
    this.started ??= exec("tmux", ["-L", this.name, "-f", "/dev/null", "start-server", ";", "set-option", "-s", "exit-empty", "off"], { env: this.env });
    await this.started;
    const { stdout } = await exec("tmux", ["-L", this.name, "-f", "/dev/null", ...args], { env: this.env, encoding: "utf8" });
    if (this.socket === "") this.socket = (await exec("tmux", ["-L", this.name, "display-message", "-p", "#{socket_path}"], { env: this.env, encoding: "utf8" }).catch(() => ({ stdout: "" }))).stdout.trim();
    return stdout;
  }

  // stop ends the server and removes its socket file (tmux leaves it behind).
  stop(): void {
    try {
      execFileSync("tmux", ["-L", this.name, "kill-server"], { env: this.env, stdio: "ignore" });
    } catch {
      // not running
    }
    if (this.socket) fs.rmSync(this.socket, { force: true });
    this.socket = "";
    this.started = undefined;
  }
}

// Pane is one terminal of the server: keys in, screen out.
export class Pane {
  constructor(readonly tmux: TmuxServer, readonly target: string, readonly deadlineMs: number) {}

  // type sends text literally (no Enter).
  async type(text: string): Promise<void> {
    // tmux splits commands at an argument ending in ";".
    assert.ok(!text.endsWith(";"), "typed text must not end with ';'");
    await this.tmux.run("send-keys", "-t", this.target, "-l", "--", text);
  }

  // line types a command line and Enter.
  async line(text: string): Promise<void> {
    await this.type(text);
    await this.keys("Enter");
  }

  async keys(...names: string[]): Promise<void> {
    await this.tmux.run("send-keys", "-t", this.target, ...names);
  }

  // screen is the visible screen, wrapped lines joined, trailing blanks dropped.
  async screen(): Promise<string> {
    const text = await this.tmux.run("capture-pane", "-p", "-J", "-t", this.target);
    return text.split("\n").map((l) => l.trimEnd()).join("\n").trimEnd();
  }

  // expect waits until the screen matches; on timeout it fails showing the screen.
  async expect(re: RegExp, deadlineMs = this.deadlineMs): Promise<RegExpExecArray> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const screen = await this.screen();
      const m = re.exec(screen);
      if (m) return m;
      if (Date.now() > deadline) {
        assert.fail(`timed out after ${deadlineMs} ms waiting for ${re} on the screen:\n${screen}\n--- end of screen ---`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.tmux.run("resize-window", "-t", this.target, "-x", String(cols), "-y", String(rows));
  }
}
