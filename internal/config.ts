// The config file: where it is, reading and checking it, writing it
// atomically with 0600 permissions, removing it; and the credentials every
// command that talks to the platform draws from it and the environment.
// The format is the one older lap versions wrote, {"base": URL, "key": KEY},
// so existing logins work; that top-level pair is the default profile, and
// named profiles sit beside it as {"profiles": {"NAME": {"base", "key"}}},
// which older versions ignore.

import fs from "node:fs";
import path from "node:path";
import { say, visible } from "./output.js";
import { LapError } from "./errors.js";
import type { IO } from "./io.js";
import { DEFAULT_PROFILE, isProfileName, isToken } from "./settings.js";

export interface Config {
  base: string;
  key: string;
  // The top-level "detachKeys" (docker's syntax, e.g. "ctrl-p,ctrl-q"), the
  // same for every profile; checked where it is used (keys.ts).
  detachKeys?: string;
}

export type { Env } from "./settings.js";

export interface Loaded {
  config: Config;
  // Set when the file can be read by other users: the caller warns.
  looseMode: boolean;
}

type Json = Record<string, unknown>;

// A config file is a few hundred bytes; anything this large is not one (or
// is a device that never ends).
const MAX_CONFIG_BYTES = 1 << 20;

// readConfig returns null when there is no file or the file has no such
// profile, and throws a LapError when the file exists but cannot be used.
export function readConfig(file: string, profile = DEFAULT_PROFILE): Loaded | null {
  const found = readFile(file);
  if (!found) return null;
  const config = pickProfile(found.data, file, profile);
  return config && { config, looseMode: found.looseMode };
}

// parseConfig reads one profile out of the file's text; null when the file
// does not have it.
export function parseConfig(text: string, file: string, profile = DEFAULT_PROFILE): Config | null {
  return pickProfile(parseFile(text, file), file, profile);
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
  const { configFile: file, profile, baseUrl: envBase, masterKey: envKey } = io.settings;
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

// profileNames lists the profiles the file holds, the default first; none
// when there is no file.
export function profileNames(file: string): string[] {
  const found = readFile(file);
  if (!found) return [];
  const { data } = found;
  const names = data.base !== undefined || data.key !== undefined ? [DEFAULT_PROFILE] : [];
  const named = Object.keys(isObject(data.profiles) ? data.profiles : {}).filter((n) => n !== DEFAULT_PROFILE && isProfileName(n));
  return [...names, ...named];
}

function readFile(file: string): { data: Json; looseMode: boolean } | null {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO in the config's place must not hang lap.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new LapError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    checkTrusted(file, st);
    const text = fs.readFileSync(fd, "utf8");
    return { data: parseFile(text, file), looseMode: (st.mode & 0o044) !== 0 };
  } finally {
    fs.closeSync(fd);
  }
}

// A config file lap will not use, since someone else could have written it
// (removable: a regular file of config size, refused for its owner or mode,
// which a logout may delete; never a device, a link's target or a big file).
class UntrustedConfig extends LapError {
  constructor(message: string, hint: string, readonly removable: boolean) {
    super(message, hint);
  }
}

// checkTrusted refuses, as ssh does, a config file that someone else could
// have written: not a regular file, too large, owned by another user, or
// writable by others, or in a directory that is. It decides where the master
// key is sent.
function checkTrusted(file: string, st: fs.Stats): void {
  const untrusted = (why: string, hint: string, removable = true) => new UntrustedConfig(`config ${file} ${why}; not using it`, hint, removable);
  if (!st.isFile()) throw untrusted("is not a regular file", "point LAP_CONFIG at a file, or run 'lap login'", false);
  if (st.size > MAX_CONFIG_BYTES) throw untrusted(`is larger than ${MAX_CONFIG_BYTES} bytes`, "point LAP_CONFIG at lap's config file", false);
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const dir = path.dirname(file);
  const dirStat = fs.statSync(dir);
  for (const [what, s, name] of [["", st, file], [" directory", dirStat, dir]] as const) {
    if (s.uid !== uid && s.uid !== 0) throw untrusted(`${what ? `is in a directory ` : "is "}owned by another user (uid ${s.uid})`, `use a config file of your own; check ${name}`);
    if ((s.mode & 0o022) !== 0) throw untrusted(`${what ? "is in a directory" : "is"} writable by others`, `run: chmod go-w ${name}`);
  }
}

// A config file lap can read but not use; logging in again repairs it.
class BrokenConfig extends LapError {}

function broken(file: string, why: string): LapError {
  return new BrokenConfig(`config ${file} is ${why}`, "run 'lap login' to write it again");
}

function parseFile(text: string, file: string): Json {
  if (text.trim() === "") throw broken(file, "empty");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw broken(file, "not valid JSON");
  }
  if (!isObject(data)) throw broken(file, "not a JSON object");
  if (data.profiles !== undefined && !isObject(data.profiles)) throw broken(file, `holding a "profiles" that is not an object`);
  return data;
}

// pickProfile is null when the profile is absent (neither base nor key), and
// an error when it is half there.
function pickProfile(data: Json, file: string, profile: string): Config | null {
  const named = profile !== DEFAULT_PROFILE;
  // Own keys only: "constructor" is no profile of the file's.
  const profiles = isObject(data.profiles) ? data.profiles : {};
  const entry = named ? (Object.hasOwn(profiles, profile) ? profiles[profile] : undefined) : data;
  if (entry === undefined) return null;
  const where = named ? ` in profile '${profile}'` : "";
  if (!isObject(entry)) throw broken(file, `holding a profile '${profile}' that is not an object`);
  const { base, key } = entry;
  if (base === undefined && key === undefined) return null;
  if (typeof base !== "string" || base === "") throw broken(file, `missing "base"${where}`);
  if (typeof key !== "string" || key === "") throw broken(file, `missing "key"${where}`);
  if (!isToken(key)) throw broken(file, `holding a "key"${where} with characters a header cannot carry`);
  if (data.detachKeys !== undefined && typeof data.detachKeys !== "string") throw broken(file, `holding a "detachKeys" that is not a string`);
  return { base: normalizeBase(base), key, ...(data.detachKeys !== undefined && { detachKeys: data.detachKeys as string }) };
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// normalizeBase checks a platform URL and drops trailing slashes, so paths
// can be appended to it.
export function normalizeBase(raw: string): string {
  // Without a scheme it may be the master key typed in the wrong place: it
  // is not echoed.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw.trim())) {
    throw new LapError("the platform URL must start with https:// or http://", "give the platform's address, e.g. https://lap.example.com");
  }
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
// even for a moment; the directory is made 0700. When anything fails (a
// full disk), the temporary file goes and the file is as it was.
export function writeConfig(file: string, data: Config | Json): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  let created = false;
  try {
    makeConfigDir(file);
    checkWritableDir(file);
    const fd = fs.openSync(tmp, "wx", 0o600);
    created = true;
    try {
      fs.writeSync(fd, JSON.stringify(data, null, 2) + "\n");
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    if (created) fs.rmSync(tmp, { force: true });
    throw err instanceof LapError ? err : cannotWrite(file, err);
  }
}

function makeConfigDir(file: string): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw cannotWrite(file, err);
  }
}

// checkWritableDir refuses to save the master key where lap would then
// refuse to read it: in a directory others can write to.
function checkWritableDir(file: string): void {
  const dir = path.dirname(file);
  if (process.getuid?.() === undefined || (fs.statSync(dir).mode & 0o022) === 0) return;
  throw new LapError(`cannot write ${file}: its directory is writable by others`, `run: chmod go-w ${dir}, or set LAP_CONFIG to a file in a directory of your own`);
}

function cannotWrite(file: string, err: unknown): LapError {
  return new LapError(`cannot write ${file}: ${(err as Error).message}`, "free some space, or set LAP_CONFIG to a file in a directory you can write to");
}

// saveProfile stores one profile's credentials and keeps everything else in
// the file: other profiles, other settings. A damaged file is replaced, since
// logging in again is how it gets repaired.
export function saveProfile(file: string, profile: string, config: Config): void {
  withLock(file, () => {
    let data: Json = {};
    try {
      data = readFile(file)?.data ?? {};
    } catch (err) {
      if (!(err instanceof BrokenConfig)) throw err;
    }
    writeConfig(file, withProfile(data, profile, config));
  });
}

function withProfile(data: Json, profile: string, config: Config): Json {
  if (profile === DEFAULT_PROFILE) {
    // base and key first, as older versions wrote them.
    const { base: _b, key: _k, ...rest } = data;
    data = { base: config.base, key: config.key, ...rest };
  } else {
    data.profiles = { ...(isObject(data.profiles) ? data.profiles : {}), [profile]: { base: config.base, key: config.key } };
  }
  return data;
}

// removeProfile forgets one profile's credentials; the file goes when
// nothing is left in it. "file" when the file was deleted, "profile" when
// only the profile was taken out, "none" when there was nothing to remove.
export function removeProfile(file: string, profile: string): "file" | "profile" | "none" {
  if (!fs.existsSync(path.dirname(file))) return "none";
  return withLock(file, () => removeLocked(file, profile));
}

function removeLocked(file: string, profile: string): "file" | "profile" | "none" {
  let data: Json;
  try {
    const found = readFile(file);
    if (!found) return "none";
    data = found.data;
  } catch (err) {
    // A damaged file, or one lap will not use, holds no usable default
    // login: deleting it is logging out.
    const removable = err instanceof BrokenConfig || (err instanceof UntrustedConfig && err.removable);
    if (removable && profile === DEFAULT_PROFILE && !fs.lstatSync(file).isSymbolicLink() && removeConfig(file)) return "file";
    throw err;
  }
  const profiles = isObject(data.profiles) ? { ...data.profiles } : {};
  if (profile === DEFAULT_PROFILE) {
    if (data.base === undefined && data.key === undefined) return "none";
    delete data.base;
    delete data.key;
  } else {
    if (!Object.hasOwn(profiles, profile)) return "none";
    delete profiles[profile];
    if (Object.keys(profiles).length) data.profiles = profiles;
    else delete data.profiles;
  }
  if (Object.keys(data).length === 0) {
    removeConfig(file);
    return "file";
  }
  writeConfig(file, data);
  return "profile";
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

// How long a login or logout waits for another one to finish with the file,
// and when a lock left by a lap that died is taken as stale.
const LOCK_WAIT_MS = 10_000;
const LOCK_STALE_MS = 30_000;
const LOCK_RETRY_MS = 10;

// withLock runs fn while holding FILE.lock, created exclusively, so that
// concurrent logins into different profiles do not lose each other's
// read-modify-write (as kubectl locks its kubeconfig).
function withLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  makeConfigDir(file);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW, 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new LapError(`cannot lock ${file}: ${(err as Error).message}`);
    }
    if (lockAge(lock) > LOCK_STALE_MS) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new LapError(`config ${file} is being changed by another lap`, `try again; if no other lap runs, remove ${lock}`);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_RETRY_MS);
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function lockAge(lock: string): number {
  try {
    return Date.now() - fs.statSync(lock).mtimeMs;
  } catch {
    return 0;
  }
}
