import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { findCredentials, normalizeBase, parseConfig, profileNames, readConfig, removeConfig, removeProfile, saveProfile, writeConfig } from "./config.js";
import { LapError } from "./errors.js";
import { checkProfileName, readSettings } from "./settings.js";
import { memoryIO } from "./testutil/testio.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "lap-config-"));

test("the config lives in ~/.lap/config.json unless LAP_CONFIG says otherwise", () => {
  assert.equal(readSettings({}, "/home/u").configFile, "/home/u/.lap/config.json");
  assert.equal(readSettings({ LAP_CONFIG: "/etc/lap.json" }, "/home/u").configFile, "/etc/lap.json");
});

test("a written config reads back, is 0600 in a 0700 directory, and leaves no temporary file", () => {
  const dir = tmp();
  const file = path.join(dir, "nested", "config.json");
  writeConfig(file, { base: "https://lap.example.com", key: "sk-1" });
  assert.deepEqual(readConfig(file), { config: { base: "https://lap.example.com", key: "sk-1" }, looseMode: false });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(file)).mode & 0o777, 0o700);
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ["config.json"]);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { base: "https://lap.example.com", key: "sk-1" });
  fs.rmSync(dir, { recursive: true });
});

test("a config that cannot be written is one line that says so, and leaves nothing half-written", () => {
  const dir = tmp();
  const cannot = (file: string) => (err: unknown) => err instanceof LapError && err.message.startsWith(`cannot write ${file}: `) && /LAP_CONFIG/.test(err.hint ?? "");
  // Its directory is a link to nowhere.
  fs.symlinkSync(path.join(dir, "gone"), path.join(dir, "dangling"));
  const inDangling = path.join(dir, "dangling", "config.json");
  assert.throws(() => writeConfig(inDangling, { base: "https://x", key: "k" }), cannot(inDangling));
  assert.throws(() => saveProfile(inDangling, "default", { base: "https://x", key: "k" }), cannot(inDangling));
  // Written whole, the file cannot take the place of what is there (a directory).
  const taken = path.join(dir, "taken");
  fs.mkdirSync(path.join(taken, "config.json"), { recursive: true });
  fs.writeFileSync(path.join(taken, "config.json", "x"), "");
  assert.throws(() => writeConfig(path.join(taken, "config.json"), { base: "https://x", key: "k" }), cannot(path.join(taken, "config.json")));
  assert.deepEqual(fs.readdirSync(taken), ["config.json"], "the temporary file is gone");
  fs.rmSync(dir, { recursive: true });
});

test("rewriting a config that others could read leaves it 0600", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, "{}", { mode: 0o644 });
  assert.equal(readConfig(file.replace("config", "missing")), null);
  writeConfig(file, { base: "http://h", key: "k" });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  fs.chmodSync(file, 0o640);
  assert.equal(readConfig(file)!.looseMode, true);
  assert.equal(removeConfig(file), true);
  assert.equal(removeConfig(file), false);
  fs.rmSync(dir, { recursive: true });
});

test("a config written by older lap versions is read unchanged", () => {
  assert.deepEqual(parseConfig('{"base":"https://lap.example.com/","key":"sk-old"}', "f"), { base: "https://lap.example.com", key: "sk-old" });
});

test("broken configs are errors that say what is wrong and how to fix it", () => {
  const cases: [string, string][] = [
    ["", "config f is empty"],
    ["  \n", "config f is empty"],
    ["{", "config f is not valid JSON"],
    ["[]", "config f is not a JSON object"],
    ["null", "config f is not a JSON object"],
    ['{"key":"k"}', 'config f is missing "base"'],
    ['{"base":"http://h"}', 'config f is missing "key"'],
    ['{"base":"http://h","key":"sk k\u00e9y"}', 'config f is holding a "key" with characters a header cannot carry'],
    ['{"base":"not a url","key":"k"}', "the platform URL must start with https:// or http://"],
    ['{"base":"https://[nope","key":"k"}', "'https://[nope' is not a URL"],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseConfig(text, "f"), (err: unknown) => err instanceof LapError && err.message === message, text);
  }
});

test("platform URLs are checked and trimmed", () => {
  assert.equal(normalizeBase(" https://lap.example.com/base/ "), "https://lap.example.com/base");
  assert.equal(normalizeBase("http://127.0.0.1:4000?x=1#y"), "http://127.0.0.1:4000");
  assert.throws(() => normalizeBase("ws://h"), /not an http\(s\) URL/);
  assert.throws(() => normalizeBase("https://u:p@h"), /must not carry a user or password/);
});

test("profiles sit beside the top-level login, which stays the default and stays readable by older versions", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, JSON.stringify({ base: "https://prod.example.com", key: "sk-prod", detach_keys: "ctrl-p,ctrl-q" }), { mode: 0o600 });
  saveProfile(file, "staging", { base: "https://staging.example.com", key: "sk-staging" });
  const data = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.deepEqual(data, {
    base: "https://prod.example.com", key: "sk-prod", detach_keys: "ctrl-p,ctrl-q",
    profiles: { staging: { base: "https://staging.example.com", key: "sk-staging" } },
  });
  // What an older lap reads: the top-level pair, unchanged.
  assert.deepEqual({ base: data.base, key: data.key }, { base: "https://prod.example.com", key: "sk-prod" });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readConfig(file)!.config, { base: "https://prod.example.com", key: "sk-prod" });
  assert.deepEqual(readConfig(file, "staging")!.config, { base: "https://staging.example.com", key: "sk-staging" });
  assert.equal(readConfig(file, "nope"), null);
  assert.deepEqual(profileNames(file), ["default", "staging"]);

  saveProfile(file, "default", { base: "https://new.example.com", key: "sk-new" });
  assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, "utf8"))), ["base", "key", "detach_keys", "profiles"]);

  assert.equal(removeProfile(file, "staging"), "profile");
  assert.equal(removeProfile(file, "staging"), "none");
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { base: "https://new.example.com", key: "sk-new", detach_keys: "ctrl-p,ctrl-q" });
  assert.equal(removeProfile(file, "default"), "profile", "the other setting keeps the file");
  assert.equal(removeProfile(file, "default"), "none");
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { detach_keys: "ctrl-p,ctrl-q" });
  fs.rmSync(dir, { recursive: true });
});

test("a file with only named profiles has no default login, and removing the last profile removes the file", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  assert.equal(removeProfile(file, "default"), "none");
  assert.deepEqual(profileNames(file), []);
  saveProfile(file, "ci", { base: "http://ci", key: "k" });
  assert.equal(readConfig(file), null);
  assert.deepEqual(profileNames(file), ["ci"]);
  assert.equal(removeProfile(file, "default"), "none");
  assert.equal(removeProfile(file, "ci"), "file");
  assert.equal(fs.existsSync(file), false);
  fs.rmSync(dir, { recursive: true });
});

test("a damaged file is replaced by a login and deleted by a logout of the default profile", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, "{oops", { mode: 0o600 });
  assert.throws(() => removeProfile(file, "staging"), /not valid JSON/);
  saveProfile(file, "staging", { base: "http://s", key: "k" });
  assert.deepEqual(profileNames(file), ["staging"]);
  fs.writeFileSync(file, "{oops");
  assert.equal(removeProfile(file, "default"), "file");
  assert.equal(fs.existsSync(file), false);
  fs.rmSync(dir, { recursive: true });
});

test("broken profiles are errors that name the profile", () => {
  const cases: [string, string, string][] = [
    ['{"profiles":[]}', "default", 'config f is holding a "profiles" that is not an object'],
    ['{"profiles":{"x":"y"}}', "x", "config f is holding a profile 'x' that is not an object"],
    ['{"profiles":{"x":{"key":"k"}}}', "x", `config f is missing "base" in profile 'x'`],
    ['{"profiles":{"x":{"base":"http://h"}}}', "x", `config f is missing "key" in profile 'x'`],
  ];
  for (const [text, profile, message] of cases) {
    assert.throws(() => parseConfig(text, "f", profile), (err: unknown) => err instanceof LapError && err.message === message, text);
  }
  assert.equal(parseConfig('{"profiles":{"x":{}}}', "f", "x"), null);
  assert.equal(parseConfig("{}", "f"), null);
});

test("a profile named like an object's own methods is just a profile the file does not hold", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  saveProfile(file, "ci", { base: "http://ci", key: "k" });
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, "utf8")), profiles: { ci: { base: "http://ci", key: "k" }, __proto__x: {} } }));
  for (const name of ["constructor", "toString", "hasOwnProperty", "valueOf"]) {
    assert.equal(parseConfig(fs.readFileSync(file, "utf8"), file, name), null, name);
    assert.equal(removeProfile(file, name), "none", name);
  }
  assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(file, "utf8")).profiles), ["ci", "__proto__x"], "the file is left as it was");
  fs.writeFileSync(file, '{"profiles":{"ci":{"base":"http://ci","key":"k"},"__proto__":{"base":"http://x","key":"k"},"a b":{}}}');
  assert.deepEqual(profileNames(file), ["ci"], "names lap would refuse on the command line are not offered");
  fs.rmSync(dir, { recursive: true });
});

test("profile names are plain words", () => {
  for (const good of ["staging", "eu-west.2", "A_1"]) assert.equal(checkProfileName(good), good);
  for (const bad of ["", "-x", "__proto__", "a b", "x".repeat(65), "a/b"]) {
    assert.throws(() => checkProfileName(bad), (err: unknown) => err instanceof LapError && err.code === 2, bad);
  }
});

test("the key is never saved where lap would refuse to read it, and a logout deletes a file lap will not use", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.chmodSync(dir, 0o777);
  assert.throws(() => saveProfile(file, "default", { base: "http://h", key: "k" }), /^LapError: cannot write .*: its directory is writable by others$/);
  assert.deepEqual(fs.readdirSync(dir), [], "no file, no temporary file and no lock left behind");
  fs.writeFileSync(file, JSON.stringify({ base: "http://h", key: "k" }), { mode: 0o600 });
  assert.throws(() => readConfig(file), /not using it/);
  assert.equal(removeProfile(file, "default"), "file");
  assert.deepEqual(fs.readdirSync(dir), []);
  fs.chmodSync(dir, 0o700);
  // What is not lap's to delete is left: a big file, a link, not a file.
  fs.writeFileSync(file, "x".repeat(2 << 20));
  assert.throws(() => removeProfile(file, "default"), /larger than/);
  fs.rmSync(file);
  fs.writeFileSync(path.join(dir, "target"), JSON.stringify({ base: "http://h", key: "k" }));
  fs.chmodSync(path.join(dir, "target"), 0o622);
  fs.symlinkSync("target", file);
  assert.throws(() => removeProfile(file, "default"), /writable by others/);
  assert.ok(fs.existsSync(path.join(dir, "target")) && fs.lstatSync(file).isSymbolicLink());
  fs.rmSync(dir, { recursive: true });
});

test("a platform URL without a scheme is refused without being echoed: it may be the key", () => {
  assert.throws(() => normalizeBase("sk-live-SECRET"), (err: unknown) => err instanceof LapError && !err.message.includes("SECRET"));
});

test("like ssh, a config file someone else could have written is refused, and so is one that is not a file", (t) => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, JSON.stringify({ base: "http://attacker.example", key: "k" }), { mode: 0o600 });
  assert.equal(readConfig(file)?.config.base, "http://attacker.example");

  fs.chmodSync(file, 0o622);
  assert.throws(() => readConfig(file), /config .* is writable by others; not using it/);
  fs.chmodSync(file, 0o600);
  fs.chmodSync(dir, 0o777);
  assert.throws(() => readConfig(file), /is in a directory writable by others; not using it/);
  fs.chmodSync(dir, 0o700);

  if (process.getuid?.() === 0) {
    fs.chownSync(file, 4321, 4321);
    assert.throws(() => readConfig(file), /is owned by another user \(uid 4321\); not using it/);
    fs.chownSync(file, 0, 0);
  } else {
    t.diagnostic("not root: cannot give the file to another user here");
  }

  const fifo = path.join(dir, "fifo.json");
  if (spawnSync("mkfifo", [fifo]).status === 0) assert.throws(() => readConfig(fifo), /is not a regular file/);
  assert.throws(() => readConfig("/dev/zero"), /is not a regular file/);
  const big = path.join(dir, "big.json");
  fs.writeFileSync(big, " ".repeat((1 << 20) + 1), { mode: 0o600 });
  assert.throws(() => readConfig(big), /is larger than/);
  fs.rmSync(dir, { recursive: true });
});

test("saving a profile waits for another lap holding the lock, and a stale lock is taken over", () => {
  const dir = tmp();
  const file = path.join(dir, "config.json");
  fs.writeFileSync(`${file}.lock`, "");
  const old = new Date(Date.now() - 60_000);
  fs.utimesSync(`${file}.lock`, old, old);
  saveProfile(file, "a", { base: "http://a", key: "k" });
  assert.deepEqual(profileNames(file), ["a"]);
  assert.equal(fs.existsSync(`${file}.lock`), false, "the lock is gone after saving");
  fs.rmSync(dir, { recursive: true });
});

test("credentials come from the environment, the active profile, or both, in that order", () => {
  const file = path.join(tmp(), "config.json");
  fs.writeFileSync(file, JSON.stringify({ base: "https://prod.example.com", key: "sk-prod-key-0001", profiles: { ci: { base: "https://ci.example.com", key: "sk-ci-key-00002" } } }), { mode: 0o600 });
  const found = (env: Record<string, string>) => findCredentials(memoryIO({ env: { LAP_CONFIG: file, ...env } }).io);
  assert.deepEqual(found({}).config, { base: "https://prod.example.com", key: "sk-prod-key-0001" });
  assert.deepEqual(found({ LAP_PROFILE: "ci" }).config, { base: "https://ci.example.com", key: "sk-ci-key-00002" });
  const both = found({ LAP_BASE_URL: "https://env.example.com/", LAP_MASTER_KEY: " sk-env " });
  assert.deepEqual(both.config, { base: "https://env.example.com", key: "sk-env" });
  assert.equal(both.fromFile, false);
  const half = found({ LAP_MASTER_KEY: "sk-env" });
  assert.deepEqual(half.config, { base: "https://prod.example.com", key: "sk-env" });
  assert.deepEqual([half.fromFile, half.baseFromEnv, half.keyFromEnv], [true, false, true]);
  // Both set: a damaged file is not even read.
  fs.writeFileSync(file, "{");
  assert.equal(found({ LAP_BASE_URL: "http://h", LAP_MASTER_KEY: "k" }).config.base, "http://h");
  assert.throws(() => found({}), /is not valid JSON/);
  assert.throws(() => readSettings({ LAP_PROFILE: "../x" }, "/h"), /is not a profile name/);
});
