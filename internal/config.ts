// The config file: where it is, reading and checking it, writing it
// atomically with 0600 permissions, removing it. The format is the one older
// lap versions wrote, {"base": URL, "key": KEY}, so existing logins work.

import * as fs from "node:fs";
import * as path from "node:path";
import { LapError, visible } from "./errors.js";

export interface Config {
  base: string;
  key: string;
}

export type Env = Record<string, string | undefined>;

// configPath is $LAP_CONFIG, or ~/.lap/config.json.
export function configPath(env: Env, home: string): string {
  if (env.LAP_CONFIG) return path.resolve(env.LAP_CONFIG);
  return path.join(home, ".lap", "config.json");
}

export interface Loaded {
  config: Config;
  // Set when the file can be read by other users: the caller warns.
  looseMode: boolean;
}

// readConfig returns null when there is no file, and throws a LapError when
// the file exists but cannot be used.
export function readConfig(file: string): Loaded | null {
  let text: string;
  let mode: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mode = fs.statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new LapError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { config: parseConfig(text, file), looseMode: (mode & 0o077) !== 0 };
}

export function parseConfig(text: string, file: string): Config {
  const broken = (why: string) =>
    new LapError(`config ${file} is ${why}`, "run 'lap login' to write it again");
  if (text.trim() === "") throw broken("empty");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw broken("not valid JSON");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw broken("not a JSON object");
  const { base, key } = data as Record<string, unknown>;
  if (typeof base !== "string" || base === "") throw broken(`missing "base"`);
  if (typeof key !== "string" || key === "") throw broken(`missing "key"`);
  return { base: normalizeBase(base), key };
}

// normalizeBase checks a platform URL and drops trailing slashes, so paths
// can be appended to it.
export function normalizeBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new LapError(`'${visible(raw)}' is not a URL`, "give the platform's address, e.g. https://lap.example.com");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LapError(`'${visible(raw)}' is not an http(s) URL`, "give the platform's address, e.g. https://lap.example.com");
  }
  if (url.username || url.password) {
    throw new LapError("the platform URL must not carry a user or password", "the master key is asked for separately");
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

// writeConfig replaces the file in one rename. The temporary file is created
// with mode 0600 from the start, so the key is never readable by others, not
// even for a moment; the directory is made 0700.
export function writeConfig(file: string, config: Config): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeSync(fd, JSON.stringify({ base: config.base, key: config.key }, null, 2) + "\n");
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

// removeConfig deletes the file; true when there was one.
export function removeConfig(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw new LapError(`cannot remove ${file}: ${(err as Error).message}`);
  }
}
