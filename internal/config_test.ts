import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { configPath, normalizeBase, parseConfig, readConfig, removeConfig, writeConfig } from "./config.js";
import { LapError } from "./errors.js";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "lap-config-"));

test("the config lives in ~/.lap/config.json unless LAP_CONFIG says otherwise", () => {
  assert.equal(configPath({}, "/home/u"), "/home/u/.lap/config.json");
  assert.equal(configPath({ LAP_CONFIG: "/etc/lap.json" }, "/home/u"), "/etc/lap.json");
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
    ['{"base":"not a url","key":"k"}', "'not a url' is not a URL"],
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
