// Running the compiled CLI in tests: a child process per run, with a private
// home and config, its output collected. Not installed.

import { after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { parseCommand } from "../cli.js";
import { LapError } from "../errors.js";
import { startPlatform, type Platform, type PlatformOptions } from "../platform/platform.js";

import { LAP } from "./repo.js";

export { LAP };

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Lap is one running lap: its output so far, and ways to feed it.
export class Lap {
  readonly child;
  stdout = "";
  stderr = "";
  readonly exited: Promise<Run>;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [LAP, ...args], { env: { PATH: process.env.PATH ?? "", ...env } });
    this.child.stdout.on("data", (d: Buffer) => (this.stdout += d.toString("utf8")));
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString("utf8")));
    this.exited = once(this.child, "close").then(([code]) => ({ code: code as number, stdout: this.stdout, stderr: this.stderr }));
  }

  async waitFor(re: RegExp, where: "stdout" | "stderr" = "stdout", ms = 15000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this[where])) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${re} in ${where}:\n${this[where]}\n--- stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  type(text: string | Buffer): void {
    this.child.stdin.write(text);
  }
}

// lap runs lap to the end with input as its whole stdin.
export function lap(args: string[], env: Record<string, string>, input = ""): Promise<Run> {
  const l = new Lap(args, env);
  l.child.stdin.end(input);
  return l.exited;
}

// attachAndRun opens lap <args>, runs one shell command remotely, waits for
// its output, then closes stdin (a detach) and returns the finished run.
export async function attachAndRun(args: string[], env: Record<string, string>, command = 'echo "R=$((6*7))"', expect = /R=42/): Promise<Run> {
  const l = new Lap(args, env);
  await l.waitFor(/\$ /);
  l.type(command + "\r");
  await l.waitFor(expect);
  l.child.stdin.end();
  return l.exited;
}

// platforms starts local platforms, each with a "demo" agent that has a
// terminal and ready at once unless opts say otherwise, all closed after the
// test file.
export function platforms(): (opts?: PlatformOptions) => Promise<Platform> {
  const started: Platform[] = [];
  after(async () => {
    for (const p of started) await p.close();
  });
  return async (opts = {}) => {
    const p = await startPlatform({ bringUpMs: 0, ...opts });
    started.push(p);
    p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
    return p;
  };
}

// assertUsageErrors checks that each argv is a usage error (exit 2) with
// exactly that message.
export function assertUsageErrors(table: [string[], string][]): void {
  for (const [argv, message] of table) {
    assert.throws(() => parseCommand(argv), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.equal(err.message, message, argv.join(" "));
      assert.equal(err.code, 2);
      return true;
    });
  }
}

// homes hands out private home directories, removed after the test file.
export function homes(prefix: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  const home = (): string => {
    const dir = path.join(tmp, `home${++n}`);
    fs.mkdirSync(dir);
    return dir;
  };
  // loggedIn is the environment of a user logged in to p, with the config
  // file older lap versions wrote ({"base","key"}) plus any settings.
  const loggedIn = (p: { url: string; key: string }, extra: Record<string, string> = {}, settings: Record<string, unknown> = {}) => {
    const h = home();
    const config = path.join(h, ".lap", "config.json");
    fs.mkdirSync(path.dirname(config), { mode: 0o700 });
    fs.writeFileSync(config, JSON.stringify({ base: p.url, key: p.key, ...settings }), { mode: 0o600 });
    return { HOME: h, ...extra } as Record<string, string>;
  };
  return { tmp, home, loggedIn };
}
