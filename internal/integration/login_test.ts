import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { Lap, homes, lap, platforms, run } from "../testutil/testcli.js";

const { home, loggedIn } = homes("lap-login-test-");
const platform = platforms();

// Twenty processes: the lock is between processes, so they are spawned.
test("twenty logins into twenty profiles at once all survive: the config is locked around each change", async () => {
  const h = home();
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    lap(["login", "--profile", `p${i}`], { HOME: h }, `http://127.0.0.1:9/\nsk-key-${i}\n`)));
  for (const r of runs) assert.equal(r.code, 0, r.stderr);
  const saved = JSON.parse(fs.readFileSync(path.join(h, ".lap", "config.json"), "utf8")) as { profiles: Record<string, { key: string }> };
  assert.deepEqual(Object.keys(saved.profiles).sort(), Array.from({ length: 20 }, (_, i) => `p${i}`).sort());
  for (let i = 0; i < 20; i++) assert.equal(saved.profiles[`p${i}`].key, `sk-key-${i}`);
});

test("a config file in a directory others can write is refused with one line, before the key is sent anywhere", async () => {
  const h = home();
  const dir = path.join(h, "shared");
  fs.mkdirSync(dir, { mode: 0o777 });
  fs.chmodSync(dir, 0o777);
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, JSON.stringify({ base: "http://127.0.0.1:9" }), { mode: 0o600 });
  const r = await run(["agents"], { HOME: h, LAP_CONFIG: file, LAP_MASTER_KEY: "sk-from-env" });
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split("\n")[0], `✗ config ${file} is in a directory writable by others; not using it`);
});

test("a bad LAP_* value is one usage line before anything is sent", async () => {
  const r = await run(["agents"], { HOME: home(), LAP_KEEPALIVE: "600h", LAP_BASE_URL: "http://127.0.0.1:9", LAP_MASTER_KEY: "k" });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "✗ LAP_KEEPALIVE '600h' is out of range\n  give a duration from 1ms to 24h\n");
});

test("SIGUSR1 does not open Node's debugger inside a session: lap ignores it", async () => {
  const p = await platform();
  const l = new Lap(["demo"], loggedIn(p));
  await l.waitFor(/attached to demo/, "stderr");
  l.child.kill("SIGUSR1");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(l.child.exitCode, null, "lap is still attached");
  l.type("\x04");
  l.child.stdin.end();
  const r = await l.exited;
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Debugger listening|inspector/i);
});
