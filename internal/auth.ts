// The login, logout and config commands.

import fs from "node:fs";
import { findCredentials, normalizeBase, profileNames, removeProfile, saveProfile, type Found } from "./config.js";
import { LapError } from "./errors.js";
import type { IO } from "./io.js";
import { json, print, say } from "./output.js";
import { DEFAULT_PROFILE, isToken, mask, overrides } from "./settings.js";

// prompt is loaded only when login asks.
function prompt(...args: Parameters<typeof import("./io.js").prompt>): Promise<string> {
  return (require("./io.js") as typeof import("./io.js")).prompt(...args);
}

export interface LoginOptions {
  // The platform URL from --url: then only the key is read (one line when
  // stdin is not a terminal).
  url?: string;
}

// login asks for the platform URL and the master key (not echoed on a
// terminal; two lines on stdin otherwise) and saves them to the active profile.
export async function login(io: IO, opts: LoginOptions = {}): Promise<void> {
  const { configFile: file, profile } = io.settings;
  let url = opts.url;
  let key: string | undefined;
  if (url !== undefined) {
    normalizeBase(url); // a wrong URL is said before the key is asked for
    key = io.stdinIsTTY ? await prompt(io, "Master key: ", true) : (await readLines(io, 1))[0];
  } else {
    [url, key] = io.stdinIsTTY ? await promptBoth(io) : await readLines(io, 2);
  }
  const base = normalizeBase(url ?? "");
  if (!key || !key.trim()) throw new LapError("no master key given", "run 'lap login' and paste the platform's master key");
  if (!isToken(key.trim())) throw new LapError("the master key holds characters a header cannot carry", "paste the platform's master key: printable ASCII, without spaces");
  saveProfile(file, profile, { base, key: key.trim() });
  say(io, `✓ saved to ${file}${profile === DEFAULT_PROFILE ? "" : ` (profile ${profile})`}`);
}

// logout forgets the active profile; the file goes when nothing is left in it.
export function logout(io: IO): void {
  const { configFile: file, profile } = io.settings;
  const named = profile === DEFAULT_PROFILE ? "" : ` profile ${profile}`;
  const removed = removeProfile(file, profile);
  if (removed === "file") say(io, `✓ removed ${file}`);
  else if (removed === "profile") say(io, `✓ removed${named || " the default profile"} from ${file}`);
  else say(io, `✓ not logged in${named ? ` to${named}` : ""} (nothing in ${file})`);
}

export interface ShowOptions {
  json?: boolean;
}

// ConfigReport is what `lap config --json` prints; its field names are stable.
export interface ConfigReport {
  config: string;
  config_exists: boolean;
  profile: string;
  profiles: string[];
  base: string | null;
  key: string | null; // always masked
  base_from: "file" | "env" | null;
  key_from: "file" | "env" | null;
  private: boolean | null;
  overrides: Record<string, string>;
}

// showConfig prints which platform lap talks to, with the key masked. It
// still prints, then fails with "not logged in", when there is nothing to use.
export function showConfig(io: IO, opts: ShowOptions = {}): void {
  const file = io.settings.configFile;
  let found: Found | null = null;
  let problem: unknown = null;
  try {
    found = findCredentials(io);
  } catch (err) {
    problem = err;
  }
  let names: string[] = [];
  try {
    names = profileNames(file);
  } catch {
    // a damaged file: the problem above says so
  }
  const report: ConfigReport = {
    config: file,
    config_exists: fs.existsSync(file),
    profile: io.settings.profile,
    profiles: names,
    base: found?.config.base ?? null,
    key: found ? mask(found.config.key) : null,
    base_from: found ? (found.baseFromEnv ? "env" : "file") : null,
    key_from: found ? (found.keyFromEnv ? "env" : "file") : null,
    private: found?.fromFile ? !found.looseMode : null,
    overrides: overrides(io.env),
  };
  if (opts.json) io.stdout.write(json(report));
  else print(io, configLines(report));
  if (problem) throw problem;
}

function configLines(r: ConfigReport): string {
  const from = (f: string | null, v: string) => (f === "env" ? ` (from ${v})` : "");
  const others = r.profiles.filter((n) => n !== r.profile);
  const lines = [
    `config    ${r.config}${r.config_exists ? "" : " (missing)"}`,
    `profile   ${r.profile}${others.length ? ` (also: ${others.join(", ")})` : ""}`,
  ];
  if (r.base !== null) lines.push(`platform  ${r.base}${from(r.base_from, "LAP_BASE_URL")}`, `key       ${r.key}${from(r.key_from, "LAP_MASTER_KEY")}`);
  if (r.private === false) lines.push(`warning   readable by other users — run: chmod 600 ${r.config}`);
  for (const [v, value] of Object.entries(r.overrides)) lines.push(`override  ${v}=${value}`);
  return lines.join("\n") + "\n";
}

async function promptBoth(io: IO): Promise<[string, string]> {
  const url = await prompt(io, "Agent platform URL: ", false);
  const key = await prompt(io, "Master key: ", true);
  return [url, key];
}

// readLines takes up to n lines from piped stdin (fewer when it ends).
async function readLines(io: IO, n: number): Promise<(string | undefined)[]> {
  const readline = await import("node:readline");
  const rl = readline.createInterface({ input: io.stdin, terminal: false });
  const lines: string[] = [];
  return new Promise((resolve) => {
    rl.on("line", (line) => {
      lines.push(line);
      if (lines.length === n) rl.close();
    });
    rl.on("close", () => resolve(lines));
  });
}
