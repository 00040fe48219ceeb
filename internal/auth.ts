// The login, logout and config commands, and finding the credentials every
// other command uses.

import * as readline from "node:readline";
import { Writable } from "node:stream";
import { configPath, normalizeBase, readConfig, removeConfig, writeConfig, type Config } from "./config.js";
import { LapError, visible } from "./errors.js";
import { say, type IO } from "./io.js";

// mask shows enough of a key to recognise it, never enough to use it.
export function mask(key: string): string {
  if (key.length < 12) return "…" + "*".repeat(Math.min(key.length, 4));
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

// credentials returns the platform and key to use, or says how to log in.
export function credentials(io: IO): Config {
  const file = configPath(io.env, io.home);
  const loaded = readConfig(file);
  if (!loaded) throw new LapError("not logged in", "run 'lap login' first");
  if (loaded.looseMode) say(io, `! ${file} is readable by other users — run: chmod 600 ${file}`);
  return loaded.config;
}

// login asks for the platform URL and the master key (not echoed on a
// terminal; two lines on stdin otherwise) and saves them.
export async function login(io: IO): Promise<void> {
  const file = configPath(io.env, io.home);
  const [url, key] = io.stdinIsTTY ? await promptBoth(io) : await readTwoLines(io);
  const base = normalizeBase(url ?? "");
  if (!key || !key.trim()) throw new LapError("no master key given", "run 'lap login' and paste the platform's master key");
  writeConfig(file, { base, key: key.trim() });
  say(io, `✓ saved to ${file}`);
}

export function logout(io: IO): void {
  const file = configPath(io.env, io.home);
  say(io, removeConfig(file) ? `✓ removed ${file}` : `✓ not logged in (no ${file})`);
}

// showConfig prints which platform lap talks to, with the key masked.
export function showConfig(io: IO): void {
  const file = configPath(io.env, io.home);
  const loaded = readConfig(file);
  const lines = [`config    ${file}${loaded ? "" : " (missing)"}`];
  if (loaded) {
    lines.push(`platform  ${loaded.config.base}`, `key       ${mask(loaded.config.key)}`);
    if (loaded.looseMode) lines.push(`warning   readable by other users — run: chmod 600 ${file}`);
  }
  const overrides = ["LAP_CONFIG", "LAP_TTY_TOKEN", "LAP_TTY_FALLBACK"].filter((v) => io.env[v]);
  for (const v of overrides) {
    const value = v === "LAP_TTY_TOKEN" ? mask(io.env[v]!) : visible(io.env[v]);
    lines.push(`override  ${v}=${value}`);
  }
  io.stdout.write(lines.join("\n") + "\n");
  if (!loaded) throw new LapError("not logged in", "run 'lap login' first");
}

async function promptBoth(io: IO): Promise<[string, string]> {
  const url = await prompt(io, "Agent platform URL: ", false);
  const key = await prompt(io, "Master key: ", true);
  return [url, key];
}

// prompt reads one line from the terminal. With hidden set, what is typed
// is not echoed (the prompt itself still is).
function prompt(io: IO, question: string, hidden: boolean): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = readline.createInterface({ input: io.stdin, output, terminal: true });
  return new Promise((resolve, reject) => {
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) io.stderr.write("\n");
      resolve(answer);
    });
    muted = hidden;
    rl.on("SIGINT", () => {
      rl.close();
      io.stderr.write("\n");
      reject(new LapError("login cancelled"));
    });
  });
}

// readTwoLines takes the URL and the key from piped stdin.
function readTwoLines(io: IO): Promise<[string | undefined, string | undefined]> {
  const rl = readline.createInterface({ input: io.stdin, terminal: false });
  const lines: string[] = [];
  return new Promise((resolve) => {
    rl.on("line", (line) => {
      lines.push(line);
      if (lines.length === 2) rl.close();
    });
    rl.on("close", () => resolve([lines[0], lines[1]]));
  });
}
