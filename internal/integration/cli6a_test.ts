// Integration tests for sessions, stop, scripting (--json, environment
// credentials, profiles, completion, colour) and doctor: lap's main() run in
// this process against the local platform over real sockets. The completion
// scripts call the compiled CLI, as a shell does; colour on a terminal and a
// CA file read at start-up are the process's own and are tested spawned.

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { once } from "node:events";
import { promisify } from "node:util";
import { hasOpenssl, makeCerts, startProxy } from "../testutil/testnet.js";
import { homes, lap, LAP, newSession, platforms, run } from "../testutil/testcli.js";
import { REPO } from "../testutil/repo.js";

const { tmp, home, loggedIn } = homes("lap-cli6a-test-");

const platform = platforms();


test("lap sessions lists sessions with agent names, newest first, and one agent's with its name", async () => {
  const p = await platform();
  p.addAgent({ name: "other", harness_id: "codex" });
  const first = await newSession(p);
  const second = await newSession(p, "other");
  const env = loggedIn(p);
  const r = await run(["sessions"], env);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID\s+AGENT\s+STATUS\s+PHASE\s+AGE\s+LAST SEEN\s+REAPED IN$/);
  // The local platform reaps after 24 h without messages, like the real one.
  assert.match(lines[1], new RegExp(`^${second.slice(0, 8)}\\s+other\\s+ready\\s+ready\\s+\\d+s\\s+\\d+s ago\\s+2[34]h$`));
  assert.match(lines[2], new RegExp(`^${first.slice(0, 8)}\\s+demo\\s+ready\\s+`));

  const one = await run(["sessions", "demo", "--json"], env);
  assert.equal(one.code, 0, one.stderr);
  const rows = JSON.parse(one.stdout) as Record<string, unknown>[];
  assert.deepEqual(rows.map((s) => [s.id, s.agent]), [[first, "demo"]]);
  assert.deepEqual(Object.keys(rows[0]), ["id", "agent_id", "agent", "status", "phase", "phase_detail", "failure_reason", "created_at", "last_seen_at", "idle_timeout_ms"]);
  assert.doesNotMatch(one.stdout, new RegExp(p.sessions.get(first)!.tty_token!));
});

test("lap stop <id> --yes stops the session; piped stdin without --yes is refused with exit 2", async () => {
  const p = await platform();
  const id = await newSession(p);
  const env = loggedIn(p);
  const refused = await run(["stop", id], env, "y\n");
  assert.equal(refused.code, 2);
  assert.equal(refused.stderr, `✗ not stopping session ${id} without confirmation: stdin is not a terminal\n  pass --yes to stop it without asking\n`);
  assert.equal(p.sessions.get(id)!.status, "ready");

  const r = await run(["stop", id.slice(0, 8), "--yes"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, `✓ stopped session ${id} (agent demo): deleted\n`);
  assert.equal(p.sessions.get(id)!.status, "deleted");
  assert.ok(p.requests.some((q) => q.method === "DELETE" && q.path.endsWith(id)));

  const unknown = await run(["stop", "--yes", "0b7e6a4e-2f7c-4d3e-9a51-2b8c1d0e9f10"], env);
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, "✗ no session 0b7e6a4e-2f7c-4d3e-9a51-2b8c1d0e9f10\n  list them with 'lap sessions'\n");
});

test("lap agents --json prints stable fields, with whether each has a terminal even when the platform omits it", async () => {
  const p = await platform();
  p.addAgent({ name: "old", harness_id: "codex" });
  await newSession(p);
  const r = await run(["agents", "--json"], loggedIn(p));
  assert.equal(r.code, 0, r.stderr);
  const [old, demo] = JSON.parse(r.stdout) as Record<string, unknown>[];
  assert.deepEqual(old, { id: p.agents[1].id, name: "old", harness_id: "codex", supports_tui: true, has_active_session: false });
  assert.deepEqual(demo, { id: p.agents[0].id, name: "demo", harness_id: "claude-code", supports_tui: true, has_active_session: true });
});

test("lap config --json masks the key and names the file, the profile and the overrides", async () => {
  const p = await platform();
  const env = loggedIn(p, { LAP_TTY_TOKEN: "tty-secret-123456789" });
  const r = await run(["config", "--json"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    config: path.join(env.HOME, ".lap", "config.json"),
    config_exists: true,
    profile: "default",
    profiles: ["default"],
    base: p.url,
    key: `…${p.key.slice(-4)}`,
    base_from: "file",
    key_from: "file",
    private: true,
    overrides: { LAP_TTY_TOKEN: "…6789" },
  });
  assert.doesNotMatch(r.stdout, new RegExp(p.key));

  const none = await run(["config", "--json"], { HOME: home() });
  assert.equal(none.code, 1);
  assert.equal(JSON.parse(none.stdout).base, null);
  assert.equal(none.stderr, "✗ not logged in\n  run 'lap login' first\n");
});

test("LAP_BASE_URL and LAP_MASTER_KEY work without any config file", async () => {
  const p = await platform();
  const env = { HOME: home(), LAP_BASE_URL: p.url + "/", LAP_MASTER_KEY: p.key };
  const r = await run(["agents"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^demo\s+claude-code\s+yes\s+/m);
  const c = await run(["config"], env);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stdout, /^config    .*config\.json \(missing\)$/m);
  assert.match(c.stdout, new RegExp(`^platform  ${p.url} \\(from LAP_BASE_URL\\)$`, "m"));
  assert.match(c.stdout, /^key       …\w{4} \(from LAP_MASTER_KEY\)$/m);
  assert.match(c.stdout, /^override  LAP_MASTER_KEY=…\w{4}$/m);
  assert.doesNotMatch(c.stdout, new RegExp(p.key));

  const half = await run(["agents"], { HOME: home(), LAP_BASE_URL: p.url });
  assert.equal(half.code, 1);
  assert.equal(half.stderr, "✗ LAP_BASE_URL is set but LAP_MASTER_KEY is not\n  set both to work without a config file, or run 'lap login'\n");

  // With a config file, either one alone overrides its half.
  const wrong = await run(["agents"], loggedIn({ url: p.url, key: "sk-wrong" }, { LAP_MASTER_KEY: p.key }));
  assert.equal(wrong.code, 0, wrong.stderr);
});

test("lap login --url reads the key as one line from piped stdin", async () => {
  const h = home();
  const r = await run(["login", "--url", "https://lap.example.com/"], { HOME: h }, "sk-from-a-pipe-0000\n");
  assert.equal(r.code, 0, r.stderr);
  const file = path.join(h, ".lap", "config.json");
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { base: "https://lap.example.com", key: "sk-from-a-pipe-0000" });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  const bad = await run(["login", "--url", "ftp://x"], { HOME: h }, "k\n");
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^✗ 'ftp:\/\/x' is not an http\(s\) URL/);
  const empty = await run(["login", "--url", "https://lap.example.com"], { HOME: h }, "");
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^✗ no master key given/);
  const unsendable = await run(["login", "--url", "https://lap.example.com"], { HOME: h }, "sk-caf\u00e9 key\n");
  assert.equal(unsendable.code, 1);
  assert.match(unsendable.stderr, /^✗ the master key holds characters a header cannot carry\n {2}paste the platform's master key/);
  assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).key, "sk-from-a-pipe-0000", "the saved key is untouched");
});

test("profiles: an old config is the default, a named login sits beside it, and --profile or LAP_PROFILE picks one", async () => {
  const prod = await platform();
  const staging = await platform();
  staging.addAgent({ name: "staging-only", harness_id: "codex" });
  const env = loggedIn(prod);
  const file = path.join(env.HOME, ".lap", "config.json");
  const before = JSON.parse(fs.readFileSync(file, "utf8"));

  const login = await run(["login", "--profile", "staging", "--url", staging.url], env, staging.key + "\n");
  assert.equal(login.code, 0, login.stderr);
  assert.equal(login.stderr, `✓ saved to ${file} (profile staging)\n`);
  const after = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.deepEqual({ base: after.base, key: after.key }, before, "the default login is untouched");
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  assert.doesNotMatch((await run(["agents"], env)).stdout, /staging-only/);
  assert.match((await run(["agents", "--profile", "staging"], env)).stdout, /staging-only/);
  assert.match((await run(["agents"], { ...env, LAP_PROFILE: "staging" })).stdout, /staging-only/);

  const c = await run(["config", "--profile", "staging"], env);
  assert.match(c.stdout, /^profile   staging \(also: default\)$/m);
  assert.match(c.stdout, new RegExp(`^platform  ${staging.url}$`, "m"));

  const missing = await run(["agents", "--profile", "eu"], env);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, "✗ not logged in to profile 'eu'\n  run 'lap login --profile eu' first\n");

  const out = await run(["logout", "--profile", "staging"], env);
  assert.equal(out.stderr, `✓ removed profile staging from ${file}\n`);
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), before);
  assert.equal((await run(["agents"], env)).code, 0);
  const gone = await run(["logout"], env);
  assert.equal(gone.stderr, `✓ removed ${file}\n`);
  assert.equal(fs.existsSync(file), false);
});

test("a config holding only named profiles says which to pick", async () => {
  const p = await platform();
  const h = home();
  await run(["login", "--profile", "ci", "--url", p.url], { HOME: h }, p.key + "\n");
  const r = await run(["agents"], { HOME: h });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "✗ not logged in\n  run 'lap login' first, or pick a profile: --profile ci\n");
});

// shim puts a `lap` on PATH that runs the compiled CLI, as the completion
// scripts call it.
function shim(): string {
  const dir = path.join(tmp, "bin");
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "lap"), `#!/bin/sh\nexec "${process.execPath}" "${LAP}" "$@"\n`, { mode: 0o755 });
  }
  return `${dir}:${process.env.PATH ?? ""}`;
}

function has(program: string): boolean {
  return spawnSync(program, ["--version"], { stdio: "ignore" }).status === 0;
}

// shell runs a shell script without blocking: the platform in this process
// must answer the `lap __complete` calls the script makes.
async function shell(program: string, args: string[], env: Record<string, string>): Promise<string> {
  return (await promisify(execFile)(program, args, { env: { ...env, PATH: shim() }, encoding: "utf8" })).stdout;
}

// bashComplete runs the bash script's completion function for a command line
// (the words so far, the last one being completed; none holding a : or =)
// and returns the candidates. COMP_LINE is the line, as bash sets it.
async function bashComplete(script: string, words: string[], env: Record<string, string>): Promise<string[]> {
  const driver = `source ${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")})\nCOMP_CWORD=${words.length - 1}\nCOMP_LINE='${words.join(" ")}'\n` +
    `_lap_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`;
  const out = await shell("bash", ["--norc", "--noprofile", "-c", driver], env);
  return out.split("\n").filter(Boolean).sort();
}

test("the bash script completes commands, agent names, flags per command, session ids and profiles", async () => {
  const p = await platform();
  p.addAgent({ name: "reviewer", harness_id: "codex" });
  const id = await newSession(p);
  const env = loggedIn(p);
  const script = path.join(tmp, "lap.bash");
  const r = await run(["completion", "bash"], env);
  assert.equal(r.code, 0, r.stderr);
  fs.writeFileSync(script, r.stdout);

  assert.deepEqual(await bashComplete(script, ["lap", ""], env),
    ["agents", "attach", "completion", "config", "demo", "doctor", "help", "login", "logout", "logs", "restart", "reviewer", "sessions", "stop"]);
  assert.deepEqual(await bashComplete(script, ["lap", "rev"], env), ["reviewer"]);
  assert.deepEqual(await bashComplete(script, ["lap", "re"], env), ["restart", "reviewer"]);
  assert.deepEqual(await bashComplete(script, ["lap", "logs", "--"], env), ["--follow", "--help", "--json", "--profile", "--timeout"]);
  assert.deepEqual(await bashComplete(script, ["lap", "restart", "--yes", ""], env), [id]);
  assert.deepEqual(await bashComplete(script, ["lap", "sessions", "--"], env), ["--help", "--json", "--profile"]);
  assert.deepEqual(await bashComplete(script, ["lap", "stop", "--yes", ""], env), [id]);
  // The flags of `lap <agent>` are the ones its help text names, whatever they are.
  const openFlags = await bashComplete(script, ["lap", "demo", "--"], env);
  for (const f of ["--agent", "--help", "--new", "--profile", "--timeout"]) assert.ok(openFlags.includes(f), f);
  for (const f of ["--yes", "--idle"]) assert.ok(!openFlags.includes(f), f);
  assert.deepEqual(await bashComplete(script, ["lap", "doctor", "--idle", ""], env), []);
  assert.deepEqual(await bashComplete(script, ["lap", "completion", ""], env), ["bash", "fish", "zsh"]);
  assert.deepEqual(await bashComplete(script, ["lap", "--profile", ""], env), ["default"]);
  // Not logged in: commands still complete, quietly.
  assert.deepEqual(await bashComplete(script, ["lap", "s"], { HOME: home() }), ["sessions", "stop"]);
});

test("the zsh script loads and completes agent names through zsh's bash completion", { skip: !has("zsh") && "zsh is not installed" }, async () => {
  const p = await platform();
  const env = loggedIn(p);
  const script = path.join(tmp, "lap.zsh");
  fs.writeFileSync(script, (await run(["completion", "zsh"], env)).stdout);
  const driver = `source ${script}\nprint -r -- "\${_comps[lap]}"\nsetopt ksharrays\nCOMP_WORDS=(lap de)\nCOMP_CWORD=1\nCOMP_LINE='lap de'\n_lap_complete\nprint -r -- "\${COMPREPLY[*]}"\n`;
  const out = await shell("zsh", ["-f", "-c", driver], env);
  // The script matches the typed prefix itself, in zsh as in bash.
  const [registered, words] = out.split("\n");
  assert.equal(registered, "_bash_complete -F _lap_complete");
  assert.deepEqual(words.split(" ").sort(), ["demo"]);
});

test("the fish script completes commands, agent names and flags", { skip: !has("fish") && "fish is not installed" }, async () => {
  const p = await platform();
  const env = loggedIn(p);
  const script = path.join(tmp, "lap.fish");
  fs.writeFileSync(script, (await run(["completion", "fish"], env)).stdout);
  const complete = async (line: string) =>
    (await shell("fish", ["--no-config", "-c", `source ${script}; complete -C '${line}'`], env))
      .split("\n").filter(Boolean).map((l) => l.split("\t")[0]).sort();
  assert.ok((await complete("lap ")).includes("demo"));
  assert.ok((await complete("lap ")).includes("doctor"));
  assert.deepEqual(await complete("lap stop --"), ["--help", "--profile", "--yes"]);
  assert.deepEqual(await complete("lap completion "), ["bash", "fish", "zsh"]);
});

test("lap doctor <agent> --idle 1s passes against the local platform, and fails with exit 1 on a wrong key", async () => {
  const p = await platform();
  const env = loggedIn(p);
  const r = await run(["doctor", "demo", "--idle", "1s"], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const steps = r.stdout.trimEnd().split("\n").map((l) => l.split(" — ")[0]);
  assert.deepEqual(steps, ["✓ config", "✓ proxy", "✓ dns", "✓ tcp", "· tls", "✓ key", "✓ agents", "· platform", "· session", "✓ session", "✓ websocket", "✓ idle", "· session"]);
  assert.match(r.stdout, /^✓ idle — still open after 1s idle/m);

  const wrong = await run(["doctor", "--idle", "1s", "demo"], loggedIn({ url: p.url, key: "sk-nope-nope-nope" }));
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout, /^✗ key — …nope refused: 401\n  run 'lap login' again with the platform's master key\n$/m);
});

test("lap doctor passes the tls step when NODE_EXTRA_CA_CERTS names the platform's certificate authority", { skip: !hasOpenssl() && "openssl is not installed" }, async () => {
  const dir = fs.mkdtempSync(path.join(tmp, "cert-"));
  const certs = makeCerts(dir);
  // A platform that answers the agents list and nothing else.
  const server = https.createServer({ key: certs.key, cert: certs.cert }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"data":[],"total":0,"limit":200,"offset":0}');
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const env = { HOME: home(), LAP_BASE_URL: url, LAP_MASTER_KEY: "sk-any-key-1234" };
    const without = await run(["doctor"], env);
    assert.equal(without.code, 1);
    assert.match(without.stdout, /^✗ tls — .*\n  signed by a private certificate authority\? export NODE_EXTRA_CA_CERTS=/m);
    // Node reads NODE_EXTRA_CA_CERTS when the process starts: spawned.
    const r = await lap(["doctor"], { ...env, NODE_EXTRA_CA_CERTS: certs.caFile });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^✓ tls — TLSv1\.[23], certificate for localhost valid until .+$/m);
    assert.match(r.stdout, /^✓ agents — 0 agents, 0 with a terminal$/m);
  } finally {
    server.close();
  }
});

test("lap doctor through a proxy checks the proxy's address and reaches the terminal through it", async () => {
  const p = await platform();
  const proxy = await startProxy();
  try {
    const r = await run(["doctor", "demo", "--idle", "1s"], loggedIn(p, { HTTP_PROXY: proxy.url }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^✓ proxy — HTTP_PROXY=${proxy.url} is used for 127\\.0\\.0\\.1:\\d+$`, "m"));
    assert.match(r.stdout, new RegExp(`^✓ tcp — connected to ${proxy.url.slice("http://".length)} in \\d+ ms$`, "m"));
    assert.match(r.stdout, /^· tls — through the proxy: checked by the calls below$/m);
    assert.match(r.stdout, /^✓ websocket — upgraded /m);
    assert.ok(proxy.forwarded.length >= 1, "the API calls went through the proxy");
    assert.ok(proxy.connects.length >= 1, "the WebSocket went through the proxy");
  } finally {
    await proxy.close();
  }
});

test("marks are coloured on a terminal only, and never with NO_COLOR set", { skip: (process.platform !== "linux" || !has("script")) && "needs util-linux script for a terminal" }, async () => {
  // script(1) gives lap a terminal for stdout and stderr.
  const onTerminal = (extra: Record<string, string>) =>
    execFileSync("script", ["-qec", `"${process.execPath}" "${LAP}" agents`, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", HOME: home(), TERM: "xterm", ...extra }, encoding: "utf8",
    }).toString();
  let out = "";
  try {
    onTerminal({});
  } catch (err) {
    out = String((err as { stdout?: string }).stdout);
  }
  assert.match(out, /\x1b\[31m✗\x1b\[39m not logged in/);
  try {
    onTerminal({ NO_COLOR: "1" });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout);
  }
  assert.match(out, /^✗ not logged in/m);
  assert.doesNotMatch(out, /\x1b\[/);
  const piped = await run(["agents"], { HOME: home() });
  assert.doesNotMatch(piped.stderr, /\x1b/);
});

test("--help for the new commands exits 0 and shows their usage", async () => {
  const env = { HOME: home() };
  for (const c of ["sessions", "stop", "doctor", "completion"]) {
    const r = await run([c, "--help"], env);
    assert.equal(r.code, 0, c);
    assert.match(r.stdout, new RegExp(`^usage: lap ${c}`));
  }
  const main = await run(["--help"], env);
  for (const c of ["sessions", "stop", "doctor", "completion", "--json", "--profile", "LAP_BASE_URL", "NO_COLOR"]) assert.match(main.stdout, new RegExp(c));
});

test("the README's table of JSON fields names every field lap agents --json and lap sessions --json print, in order", async () => {
  const p = await platform();
  await newSession(p);
  const env = loggedIn(p);
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  for (const command of ["agents", "sessions"]) {
    const row = new RegExp(`^\\| \`lap ${command} --json\` \\| array of (.*) \\|$`, "m").exec(readme);
    assert.ok(row, `the README has a row for lap ${command} --json`);
    const documented = [...row[1].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    const r = await run([command, "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(documented, Object.keys((JSON.parse(r.stdout) as Record<string, unknown>[])[0]), command);
  }
});
