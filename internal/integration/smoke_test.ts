// Every command once through the compiled CLI, as a user runs it: the
// other integration tests run main() in-process, so this file shows the
// built entry, its module loading and its exit status work for each command.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { attachAndRun, homes, lap, platforms } from "../testutil/testcli.js";

const { home } = homes("lap-smoke-test-");
const platform = platforms();

test("each command runs through the compiled CLI: login, config, agents, sessions, <agent>, attach, stop, doctor, completion, help, version, logout", async () => {
  const p = await platform();
  const env = { HOME: home() };
  const file = path.join(env.HOME, ".lap", "config.json");

  const login = await lap(["login"], env, `${p.url}\n${p.key}\n`);
  assert.equal(login.code, 0, login.stderr);
  assert.equal(login.stderr, `✓ saved to ${file}\n`);

  const config = await lap(["config"], env);
  assert.equal(config.code, 0, config.stderr);
  assert.match(config.stdout, new RegExp(`^platform  ${p.url}$`, "m"));

  const agents = await lap(["agents"], env);
  assert.equal(agents.code, 0, agents.stderr);
  assert.match(agents.stdout, /^demo\s+claude-code\s+yes\s+[0-9a-f]{8}$/m);

  const open = await attachAndRun(["demo"], env);
  assert.equal(open.code, 0, open.stderr);
  assert.match(open.stderr, /· attached to demo .* Ctrl-D detaches/);
  const [s] = p.sessions.values();

  const sessions = await lap(["sessions"], env);
  assert.equal(sessions.code, 0, sessions.stderr);
  assert.match(sessions.stdout, new RegExp(`^${s.id.slice(0, 8)}\\s+demo\\s+ready\\s+`, "m"));

  const attach = await attachAndRun(["attach", s.id], env);
  assert.equal(attach.code, 0, attach.stderr);
  assert.match(attach.stderr, new RegExp(`reconnect: lap attach ${s.id}`));

  const doctor = await lap(["doctor"], env);
  assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /^✓ agents — /m);

  const stop = await lap(["stop", s.id, "--yes"], env);
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(stop.stderr, `✓ stopped session ${s.id} (agent demo): deleted\n`);

  const completion = await lap(["completion", "bash"], env);
  assert.equal(completion.code, 0, completion.stderr);
  assert.match(completion.stdout, /_lap_complete/);
  const words = await lap(["__complete", "agents"], env);
  assert.equal(words.code, 0, words.stderr);
  assert.match(words.stdout, /^demo$/m);

  const help = await lap(["help", "agents"], env);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: lap agents/);
  const version = await lap(["--version"], env);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^lap \d+\.\d+\.\d+ \(\w+\)\n$/);

  const usage = await lap(["agents", "extra"], env);
  assert.equal(usage.code, 2);
  assert.equal(usage.stderr.split("\n")[0], "✗ unexpected argument 'extra' for 'lap agents'");

  const logout = await lap(["logout"], env);
  assert.equal(logout.code, 0, logout.stderr);
  assert.equal(fs.existsSync(file), false);
});
