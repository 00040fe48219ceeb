import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { login, logout, showConfig, type ConfigReport } from "./auth.js";
import { prompt } from "./io.js";
import { LapError } from "./errors.js";
import { memoryIO } from "./testutil/testio.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-auth-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let files = 0;
function configFile(data?: unknown): string {
  const file = path.join(tmp, `config${++files}.json`);
  if (data !== undefined) fs.writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
  return file;
}

test("login from a pipe saves to the active profile; with --url it reads only the key", async () => {
  const file = configFile({ base: "https://prod.example.com", key: "sk-prod" });
  const m = memoryIO({ env: { LAP_CONFIG: file, LAP_PROFILE: "eu" } });
  m.stdin.end("sk-eu-key\nignored\n");
  await login(m.io, { url: "https://eu.example.com/" });
  assert.equal(m.stderr(), `✓ saved to ${file} (profile eu)\n`);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), {
    base: "https://prod.example.com", key: "sk-prod", profiles: { eu: { base: "https://eu.example.com", key: "sk-eu-key" } },
  });

  const two = memoryIO({ env: { LAP_CONFIG: file } });
  two.stdin.end("https://new.example.com\nsk-new\n");
  await login(two.io);
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).key, "sk-new");
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).profiles.eu.key, "sk-eu-key");
});

test("login on a terminal with --url asks only for the key, and does not echo it", async () => {
  const file = configFile();
  const m = memoryIO({ env: { LAP_CONFIG: file }, stdinIsTTY: true });
  const done = login(m.io, { url: "https://lap.example.com" });
  m.stdin.write("sk-typed-secret\r");
  await done;
  assert.match(m.stderr(), /Master key: .*\n✓ saved to /);
  assert.doesNotMatch(m.stderr(), /sk-typed-secret/);
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).key, "sk-typed-secret");
});

test("a wrong --url is refused before the key is read", async () => {
  const m = memoryIO({ env: { LAP_CONFIG: configFile() }, stdinIsTTY: true });
  await assert.rejects(login(m.io, { url: "ftp://x" }), /'ftp:\/\/x' is not an http\(s\) URL/);
  assert.equal(m.stderr(), "");
});

test("Ctrl-C at a prompt cancels with the caller's words", async () => {
  const m = memoryIO({ stdinIsTTY: true });
  const answer = prompt(m.io, "Stop? [y/N] ", false, "not stopped");
  m.stdin.write("\x03");
  await assert.rejects(answer, (err: unknown) => err instanceof LapError && err.message === "not stopped");
});

test("logout removes only the active profile, and says when there was nothing to remove", () => {
  const file = configFile({ base: "https://prod.example.com", key: "sk-prod", profiles: { eu: { base: "https://eu.example.com", key: "k" } } });
  const out = (env: Record<string, string>) => {
    const m = memoryIO({ env: { LAP_CONFIG: file, ...env } });
    logout(m.io);
    return m.stderr();
  };
  assert.equal(out({ LAP_PROFILE: "us" }), `✓ not logged in to profile us (nothing in ${file})\n`);
  assert.equal(out({}), `✓ removed the default profile from ${file}\n`);
  assert.equal(out({}), `✓ not logged in (nothing in ${file})\n`);
  assert.equal(out({ LAP_PROFILE: "eu" }), `✓ removed ${file}\n`);
  assert.equal(fs.existsSync(file), false);
});

test("lap config shows the profile, where each half comes from, and masks every secret", () => {
  const file = configFile({ base: "https://prod.example.com", key: "sk-prod-0123456789", profiles: { eu: { base: "https://eu.example.com", key: "k" } } });
  fs.chmodSync(file, 0o644);
  const m = memoryIO({ env: { LAP_CONFIG: file, LAP_MASTER_KEY: "sk-env-9876543210", LAP_TTY_FALLBACK: "ws://gw/tty" } });
  showConfig(m.io);
  assert.equal(m.stdout(), [
    `config    ${file}`,
    "profile   default (also: eu)",
    "platform  https://prod.example.com",
    "key       …3210 (from LAP_MASTER_KEY)",
    `warning   readable by other users — run: chmod 600 ${file}`,
    `override  LAP_CONFIG=${file}`,
    "override  LAP_MASTER_KEY=…3210",
    "override  LAP_TTY_FALLBACK=ws://gw/tty",
    "",
  ].join("\n"));

  const j = memoryIO({ env: { LAP_CONFIG: file, LAP_PROFILE: "eu" } });
  showConfig(j.io, { json: true });
  const report = JSON.parse(j.stdout()) as ConfigReport;
  assert.deepEqual(report, {
    config: file, config_exists: true, profile: "eu", profiles: ["default", "eu"], base: "https://eu.example.com", key: "****",
    base_from: "file", key_from: "file", private: false, overrides: { LAP_CONFIG: file, LAP_PROFILE: "eu" },
  });
});

test("lap config still prints what it can when the file is damaged or the profile is unknown, then fails", () => {
  const file = configFile();
  fs.writeFileSync(file, "{nope");
  const damaged = memoryIO({ env: { LAP_CONFIG: file } });
  assert.throws(() => showConfig(damaged.io), /is not valid JSON/);
  assert.equal(damaged.stdout(), `config    ${file}\nprofile   default\noverride  LAP_CONFIG=${file}\n`);

  // A bad LAP_PROFILE is refused with the other settings, before any command runs.
  assert.throws(() => memoryIO({ env: { LAP_CONFIG: file, LAP_PROFILE: "no/such" } }), /is not a profile name/);
});
