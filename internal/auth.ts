// The login, logout and config commands, and finding the credentials every
// other command uses.

import * as fs from "node:fs";
import * as readline from "node:readline";
import { Writable } from "node:stream";
import { Api } from "./api.js";
import {
  DEFAULT_PROFILE, checkProfileName, configPath, parseDuration, normalizeBase, profileNames, readConfig, removeProfile, saveProfile,
  type Config,
} from "./config.js";
import { LapError, visible } from "./errors.js";
import { say, type IO } from "./io.js";

// mask shows enough of a key to recognise it, never enough to use it.
export function mask(key: string): string {
  if (key.length < 12) return "…" + "*".repeat(Math.min(key.length, 4));
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

// activeProfile is the profile named by --profile (lap.ts passes it on as
// LAP_PROFILE) or LAP_PROFILE, else the default one.
export function activeProfile(io: IO): string {
  const name = io.env.LAP_PROFILE;
  return name ? checkProfileName(name) : DEFAULT_PROFILE;
}

export interface Found {
  config: Config;
  file: string;
  profile: string;
  // Whether the config file was read at all (not when both variables are set).
  fromFile: boolean;
  baseFromEnv: boolean;
  keyFromEnv: boolean;
  looseMode: boolean;
}

// findCredentials works out the platform and key: LAP_BASE_URL and
// LAP_MASTER_KEY together need no config file (CI jobs); either one alone
// overrides that half of the active profile. Throws "not logged in" with
// what to do when there is nothing to use.
export function findCredentials(io: IO): Found {
  const file = configPath(io.env, io.home);
  const profile = activeProfile(io);
  const envBase = io.env.LAP_BASE_URL?.trim() || undefined;
  const envKey = io.env.LAP_MASTER_KEY?.trim() || undefined;
  const found = { file, profile, baseFromEnv: !!envBase, keyFromEnv: !!envKey, looseMode: false };
  if (envBase && envKey) return { ...found, config: { base: normalizeBase(envBase), key: envKey }, fromFile: false };
  const loaded = readConfig(file, profile);
  if (!loaded) {
    if (envBase || envKey) {
      const [set, unset] = envBase ? ["LAP_BASE_URL", "LAP_MASTER_KEY"] : ["LAP_MASTER_KEY", "LAP_BASE_URL"];
      throw new LapError(`${set} is set but ${unset} is not`, "set both to work without a config file, or run 'lap login'");
    }
    throw notLoggedIn(file, profile);
  }
  const config = { ...loaded.config, base: envBase ? normalizeBase(envBase) : loaded.config.base, key: envKey ?? loaded.config.key };
  return { ...found, config, fromFile: true, looseMode: loaded.looseMode };
}

function notLoggedIn(file: string, profile: string): LapError {
  if (profile !== DEFAULT_PROFILE) {
    return new LapError(`not logged in to profile '${profile}'`, `run 'lap login --profile ${profile}' first`);
  }
  const others = profileNames(file);
  return new LapError("not logged in", others.length ? `run 'lap login' first, or pick a profile: ${others.map((n) => `--profile ${n}`).join(", ")}` : "run 'lap login' first");
}

// credentials returns the platform and key to use, or says how to log in.
export function credentials(io: IO): Config {
  const found = findCredentials(io);
  if (found.looseMode) say(io, `! ${found.file} is readable by other users — run: chmod 600 ${found.file}`);
  return found.config;
}

// connectApi is the API client for the saved credentials. LAP_HTTP_TIMEOUT
// changes how long one call may take (default 30s).
export function connectApi(io: IO, config: Config = credentials(io)): Api {
  const { base, key } = config;
  const timeout = io.env.LAP_HTTP_TIMEOUT;
  return new Api(base, key, io.fetch, timeout ? parseDuration(timeout, "LAP_HTTP_TIMEOUT") : undefined);
}

export interface LoginOptions {
  // The platform URL from --url: then only the key is read (one line when
  // stdin is not a terminal).
  url?: string;
}

// login asks for the platform URL and the master key (not echoed on a
// terminal; two lines on stdin otherwise) and saves them to the active profile.
export async function login(io: IO, opts: LoginOptions = {}): Promise<void> {
  const file = configPath(io.env, io.home);
  const profile = activeProfile(io);
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
  saveProfile(file, profile, { base, key: key.trim() });
  say(io, `✓ saved to ${file}${profile === DEFAULT_PROFILE ? "" : ` (profile ${profile})`}`);
}

// logout forgets the active profile; the file goes when nothing is left in it.
export function logout(io: IO): void {
  const file = configPath(io.env, io.home);
  const profile = activeProfile(io);
  const named = profile === DEFAULT_PROFILE ? "" : ` profile ${profile}`;
  const removed = removeProfile(file, profile);
  if (removed === "file") say(io, `✓ removed ${file}`);
  else if (removed === "profile") say(io, `✓ removed${named || " the default profile"} from ${file}`);
  else say(io, `✓ not logged in${named ? ` to${named}` : ""} (nothing in ${file})`);
}

// The variables `lap config` reports when set; secrets among them masked.
const OVERRIDES = [
  "LAP_CONFIG", "LAP_PROFILE", "LAP_BASE_URL", "LAP_MASTER_KEY", "LAP_TTY_TOKEN", "LAP_TTY_FALLBACK", "LAP_TTY_TOKEN_IN_QUERY",
  "LAP_HTTP_TIMEOUT", "LAP_RECONNECT_TIMEOUT",
];
const SECRETS = new Set(["LAP_MASTER_KEY", "LAP_TTY_TOKEN"]);

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
  const file = configPath(io.env, io.home);
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
  const overrides: Record<string, string> = {};
  for (const v of OVERRIDES.filter((v) => io.env[v])) overrides[v] = SECRETS.has(v) ? mask(io.env[v]!) : visible(io.env[v]);
  const report: ConfigReport = {
    config: file,
    config_exists: fs.existsSync(file),
    profile: found?.profile ?? safeProfile(io),
    profiles: names,
    base: found?.config.base ?? null,
    key: found ? mask(found.config.key) : null,
    base_from: found ? (found.baseFromEnv ? "env" : "file") : null,
    key_from: found ? (found.keyFromEnv ? "env" : "file") : null,
    private: found?.fromFile ? !found.looseMode : null,
    overrides,
  };
  io.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : configLines(report));
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

function safeProfile(io: IO): string {
  try {
    return activeProfile(io);
  } catch {
    return visible(io.env.LAP_PROFILE);
  }
}

async function promptBoth(io: IO): Promise<[string, string]> {
  const url = await prompt(io, "Agent platform URL: ", false);
  const key = await prompt(io, "Master key: ", true);
  return [url, key];
}

// prompt reads one line from the terminal. With hidden set, what is typed
// is not echoed (the prompt itself still is). Ctrl-C rejects with cancelled.
export function prompt(io: IO, question: string, hidden: boolean, cancelled = "login cancelled"): Promise<string> {
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
      reject(new LapError(cancelled));
    });
  });
}

// readLines takes up to n lines from piped stdin (fewer when it ends).
function readLines(io: IO, n: number): Promise<(string | undefined)[]> {
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
