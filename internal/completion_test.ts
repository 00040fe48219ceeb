import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { completeWords, completionScript, flagsFromHelp, type CompletionSpec } from "./completion.js";
import { LapError } from "./errors.js";
import { startPlatform, type Platform } from "./platform/platform.js";
import { memoryIO } from "./testutil/testio.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-completion-"));
const platforms: Platform[] = [];
after(async () => {
  for (const p of platforms) await p.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const SPEC: CompletionSpec = {
  commands: { sessions: [{ name: "--json", value: false }], doctor: [{ name: "--idle", value: true }] },
  open: [{ name: "--new", value: false }, { name: "--agent", value: true }],
  global: [{ name: "--help", value: false }, { name: "--profile", value: true }],
};

test("flags are read from help texts, and <X> or an upper-case word after one marks a value", () => {
  const help = "usage: lap doctor [agent] [--idle D] [--timeout <D>]\n  --json   print JSON\n  --new]\n  --url URL\n  --idle";
  assert.deepEqual(flagsFromHelp(help), [
    { name: "--idle", value: true },
    { name: "--timeout", value: true },
    { name: "--json", value: false },
    { name: "--new", value: false },
    { name: "--url", value: true },
  ]);
  assert.deepEqual(flagsFromHelp("no flags here"), []);
});

test("each shell gets its own script, and an unknown shell is a usage error", () => {
  assert.match(completionScript("bash", SPEC), /^# lap completion for bash[^]*complete -F _lap_complete lap\n$/);
  assert.match(completionScript("bash", SPEC), /sessions\) flags="--json --help --profile" ;;/);
  assert.match(completionScript("bash", SPEC), /--idle\|--agent\) \(\(i\+\+\)\) ;;/);
  assert.match(completionScript("zsh", SPEC), /^# lap completion for zsh[^]*bashcompinit[^]*complete -F _lap_complete lap\n$/);
  const fish = completionScript("fish", SPEC);
  assert.match(fish, /complete -c lap -n '__lap_using sessions' -l json\n/);
  assert.match(fish, /complete -c lap -n '__lap_using doctor' -l idle -r\n/);
  assert.match(fish, /complete -c lap -n 'test -z \(__lap_cmd\)' -l agent -r -a '\(lap __complete agents 2>\/dev\/null\)'/);
  for (const shell of ["tcsh", ""]) {
    assert.throws(() => completionScript(shell, SPEC), (err: unknown) => err instanceof LapError && err.code === 2);
  }
});

test("completion words: agent names, live session ids, and profiles with the default first", async () => {
  const p = await startPlatform({ bringUpMs: 0 });
  platforms.push(p);
  const demo = p.addAgent({ name: "demo" });
  p.addAgent({ name: "has space" });
  p.addAgent({ name: null });
  const env = { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
  const live = (await (await fetch(`${p.url}/api/v1/managed_agents/agents/${demo.id}/session`, {
    method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}",
  })).json()) as { id: string };

  const agents = memoryIO({ env });
  await completeWords(agents.io, "agents");
  assert.equal(agents.stdout(), "demo\n");

  const sessions = memoryIO({ env });
  await completeWords(sessions.io, "sessions");
  assert.equal(sessions.stdout(), `${live.id}\n`);

  const file = path.join(tmp, "config.json");
  fs.writeFileSync(file, JSON.stringify({ profiles: { staging: { base: "http://s", key: "k" } } }));
  const profiles = memoryIO({ env: { LAP_CONFIG: file } });
  await completeWords(profiles.io, "profiles");
  assert.equal(profiles.stdout(), "default\nstaging\n");

  await assert.rejects(completeWords(memoryIO().io, "colours"), /nothing to complete for 'colours'/);
});
