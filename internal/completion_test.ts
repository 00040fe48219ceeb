import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { FLAGS, completionSpec } from "./cli.js";
import { completeWords, completionScript, type CompletionSpec } from "./completion.js";
import { LapError } from "./errors.js";
import { startPlatform, type Platform } from "./platform/platform.js";
import { memoryIO } from "./testutil/testio.js";
import { silentServer } from "./testutil/testnet.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-completion-"));
const platforms: Platform[] = [];
after(async () => {
  await Promise.all(platforms.map((p) => p.close()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const SPEC: CompletionSpec = {
  commands: { sessions: [{ name: "--json", value: false }], doctor: [{ name: "--idle", value: true }] },
  open: [{ name: "--new", value: false }, { name: "--agent", value: true }],
  global: [{ name: "--help", value: false }, { name: "--profile", value: true }],
  args: { sessions: "agents", doctor: "agents" },
  shells: ["bash", "zsh", "fish"],
};

test("the scripts are made from the command table: every flag of every command is completed", () => {
  const spec = completionSpec();
  const bash = completionScript("bash", spec);
  for (const f of FLAGS.filter((f) => f.name !== "version")) assert.ok(bash.includes(`--${f.name}`), `--${f.name}`);
  assert.deepEqual(spec.commands.doctor.map((f) => f.name), ["--timeout", "--json", "--idle"]);
  assert.deepEqual(spec.commands.logs.map((f) => f.name), ["--timeout", "--json", "--follow"]);
  assert.deepEqual(spec.commands.restart.map((f) => f.name), ["--timeout", "--yes"]);
  assert.equal(spec.args.restart, "restartable");
  assert.equal(spec.args.stop, "sessions");
});

// bashProbe is a bash script that runs the completion function as bash
// would on TAB at the end of line, and prints the candidates. Bash splits
// the line's words at blanks, and at : and = (its default COMP_WORDBREAKS),
// each run of those a word of its own; COMP_LINE holds the line as typed.
function bashProbe(script: string, line: string): string {
  const words: string[] = line.match(/[:=]+|[^\s:=]+/g) ?? [];
  if (/\s$/.test(line)) words.push("");
  const quote = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
  return `${script}\nCOMP_WORDS=(${words.map(quote).join(" ")}); COMP_CWORD=${words.length - 1}; COMP_LINE=${quote(line)}; COMP_POINT=${line.length}\n` +
    `_lap_complete\nprintf '%s\\n' "\${COMPREPLY[@]}"`;
}

// zshProbe is a zsh script that runs the completion function as zsh's bash
// completion layer does on TAB at the end of line, through its compgen,
// and prints the candidates. zsh keeps each word whole.
function zshProbe(script: string, line: string): string {
  const words = line.split(/\s+/).filter(Boolean);
  if (/\s$/.test(line)) words.push("");
  const quote = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
  return `source ${script}\nCOMP_WORDS=(${words.map(quote).join(" ")}); COMP_CWORD=${words.length - 1}; COMP_LINE=${quote(words.join(" "))}\n` +
    `compgen -F _lap_complete -- ${quote(words[words.length - 1])}`;
}

// completeInBash runs the bash script's function on TAB after line, with a
// `lap` on PATH that answers __complete with the given lines, and returns
// the candidates.
function completeInBash(script: string, line: string, answer: string, dir: string): string[] {
  fs.writeFileSync(path.join(dir, "lap"), `#!/bin/sh\ncat <<'EOF'\n${answer}\nEOF\n`, { mode: 0o755 });
  const r = spawnSync("bash", ["--norc", "-c", bashProbe(script, line)], { cwd: dir, env: { PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean);
}

test("in real bash, a hostile agent list is never expanded: no command runs, candidates are taken as they are", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "bash-"));
  const hostile = ["$(touch pwned1)", "`touch pwned2`", "de$(touch pwned3)", "demo", "dev;touch pwned4", "*"].join("\n");
  const script = completionScript("bash", completionSpec());
  assert.deepEqual(completeInBash(script, "lap ", hostile, dir).filter((w) => !completionSpec().commands[w]),
    ["$(touch pwned1)", "`touch pwned2`", "de$(touch pwned3)", "demo", "dev;touch pwned4", "*"]);
  assert.deepEqual(completeInBash(script, "lap stop de", hostile, dir), ["de$(touch pwned3)", "demo", "dev;touch pwned4"]);
  assert.deepEqual(completeInBash(script, "lap --tim", hostile, dir), ["--timeout"]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("pwned")), []);
});

// has says whether a shell is installed; the tests of its script skip otherwise.
function has(shell: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;
}

// stubLap puts a `lap` on PATH in dir that answers __complete with answer.
function stubLap(dir: string, answer: string): NodeJS.ProcessEnv {
  fs.writeFileSync(path.join(dir, "lap"), `#!/bin/sh\ncat <<'EOF'\n${answer}\nEOF\n`, { mode: 0o755 });
  return { PATH: `${dir}:${process.env.PATH}`, HOME: dir };
}

const HOSTILE_NAMES = ["$(touch pwned1)", "`touch pwned2`", "de$(touch pwned3)", "demo", "dev;touch pwned4"].join("\n");

test("in real zsh, a hostile agent list is never expanded", { skip: !has("zsh") && "zsh is not installed" }, () => {
  const dir = fs.mkdtempSync(path.join(tmp, "zsh-"));
  const script = path.join(dir, "lap.zsh");
  fs.writeFileSync(script, completionScript("zsh", completionSpec()));
  const r = spawnSync("zsh", ["-f", "-c", zshProbe(script, "lap stop de")], { cwd: dir, env: stubLap(dir, HOSTILE_NAMES), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["de$(touch pwned3)", "demo", "dev;touch pwned4"]);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("pwned")), []);
});

test("in real fish, a hostile agent list is never expanded", { skip: !has("fish") && "fish is not installed" }, () => {
  const dir = fs.mkdtempSync(path.join(tmp, "fish-"));
  const script = path.join(dir, "lap.fish");
  fs.writeFileSync(script, completionScript("fish", completionSpec()));
  const r = spawnSync("fish", ["--no-config", "-c", `source ${script}; complete -C 'lap stop '`], { cwd: dir, env: stubLap(dir, HOSTILE_NAMES), encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const got = r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
  for (const name of ["$(touch pwned1)", "`touch pwned2`", "demo"]) assert.ok(got.includes(name), `${name} in ${JSON.stringify(got)}`);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith("pwned")), []);
});

// The words lap is run with, as each shell's script runs it: a stub lap
// answers with its own arguments, one a line.
const ARGS = "$@";
const echoLap = (dir: string) => {
  fs.writeFileSync(path.join(dir, "lap"), `#!/bin/sh\nprintf '%s\\n' "${ARGS}"\n`, { mode: 0o755 });
  return { PATH: `${dir}:${process.env.PATH}`, HOME: dir };
};

test("--profile reaches lap __complete in every shell, also written --profile=NAME, and a flag's =value is not taken for the command", (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, "profile-"));
  const env = echoLap(dir);
  const bash = (line: string) => {
    const r = spawnSync("bash", ["--norc", "-c", bashProbe(completionScript("bash", completionSpec()), line)], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean);
  };
  // bash splits --profile=p2 into three words.
  assert.deepEqual(bash("lap --profile p2 sessions "), ["--profile", "p2", "__complete", "agents"]);
  assert.deepEqual(bash("lap --profile=p2 sessions "), ["--profile", "p2", "__complete", "agents"]);
  assert.deepEqual(bash("lap --timeout=5s restart "), ["__complete", "restartable"]);
  assert.deepEqual(bash("lap --profile="), ["__complete", "profiles"]);
  assert.deepEqual(bash("lap --profile=st"), [], "the value typed so far is matched, not the =");
  if (has("zsh")) {
    const script = path.join(dir, "lap.zsh");
    fs.writeFileSync(script, completionScript("zsh", completionSpec()));
    const r = spawnSync("zsh", ["-f", "-c", zshProbe(script, "lap --profile=p2 stop ")], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["--profile", "p2", "__complete", "sessions"]);
  } else t.diagnostic("zsh is not installed");
  if (has("fish")) {
    const script = path.join(dir, "lap.fish");
    fs.writeFileSync(script, completionScript("fish", completionSpec()));
    for (const typed of ["lap --profile p2 restart ", "lap --profile=p2 restart "]) {
      const r = spawnSync("fish", ["--no-config", "-c", `source ${script}; complete -C '${typed}'`], { cwd: dir, env, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      const got = r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
      for (const word of ["p2", "__complete", "restartable"]) assert.ok(got.includes(word), `${typed}: ${word} in ${JSON.stringify(got)}`);
    }
  } else t.diagnostic("fish is not installed");
});

// bashWith runs the bash script's function under the shell options a user
// may have set (set -e, set -u), as bash would on TAB after words, and
// returns the candidates; the function must return 0 and print nothing.
function bashWith(options: string, line: string, env: NodeJS.ProcessEnv, cwd?: string): string[] {
  const r = spawnSync("bash", ["--norc", "-c", `${options}\n${bashProbe(completionScript("bash", completionSpec()), line)}`], { env, cwd, encoding: "utf8" });
  assert.equal(r.status, 0, `${line}: ${r.stderr}`);
  assert.equal(r.stderr, "", line);
  return r.stdout.split("\n").filter(Boolean);
}

test("the bash script works in a shell with set -e and set -u: no word matching, or --profile= at the end, neither ends the shell nor prints an error", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "strict-"));
  const env = stubLap(dir, "demo\ndefault");
  for (const options of ["set -e", "set -u", "set -eu"]) {
    assert.deepEqual(bashWith(options, "lap zz", env), [], options);
    // Tab right after --profile=: bash's words end with the "=".
    assert.deepEqual(bashWith(options, "lap --profile=", env), ["demo", "default"], options);
    assert.deepEqual(bashWith(options, "lap --profile=p2 stop --y", env), ["--yes"], options);
    assert.deepEqual(bashWith(options, "lap doctor demo --idle ", env), [], options);
  }
});

test("--resume, which stands for 'attach', is completed where commands are, with session ids; in fish no file names are mixed into a flag's names or ids", (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, "resume-"));
  const env = echoLap(dir);
  const bash = (line: string) => bashWith("", line, env);
  assert.deepEqual(bash("lap --res"), ["--resume"]);
  assert.deepEqual(bash("lap --resume "), ["__complete", "sessions"]);
  assert.deepEqual(bash("lap attach --res"), [], "lap attach --resume is a usage error");
  if (!has("fish")) return t.diagnostic("fish is not installed");
  const fish = fishCompleter(dir, env);
  const sorted = (typed: string) => fish(typed).sort();
  assert.deepEqual(sorted("lap --res"), ["--resume"]);
  assert.deepEqual(sorted("lap attach --res"), []);
  // The stub lap answers with its arguments; dir holds the files lap and lap.fish.
  assert.deepEqual(sorted("lap --resume "), ["__complete", "sessions"]);
  assert.deepEqual(sorted("lap --agent "), ["__complete", "agents"]);
  assert.deepEqual(sorted("lap --profile "), ["__complete", "profiles"]);
});

test("in real bash, names and ids holding : or = (which bash splits words at) complete past them", () => {
  const dir = fs.mkdtempSync(path.join(tmp, "breaks-"));
  const env = stubLap(dir, ["team:bot", "team:cat", "demo", "k=v:1"].join("\n"));
  const bash = (line: string) => bashWith("set -eu", line, env);
  // bash replaces only what follows the last : or =, so that is what is offered.
  assert.deepEqual(bash("lap team:"), ["bot", "cat"]);
  assert.deepEqual(bash("lap team:b"), ["bot"]);
  assert.deepEqual(bash("lap t"), ["team:bot", "team:cat"]);
  assert.deepEqual(bash("lap stop k="), ["v:1"]);
  assert.deepEqual(bash("lap stop k=v:"), ["1"]);
  assert.deepEqual(bash("lap --agent team:c"), ["cat"]);
  assert.deepEqual(bash("lap --agent=team:"), ["bot", "cat"]);
  assert.deepEqual(bash("lap --resume=k=v"), ["v:1"]);
  // A name so split is still one word: the command, then its flags.
  assert.deepEqual(bash("lap team:bot --ne"), ["--new"]);
  assert.deepEqual(bash("lap --agent team:bot --ne"), ["--new"]);
});

test("in real zsh, --profile=NAME, --agent=NAME and --resume=ID complete the value, in the word zsh keeps whole", { skip: !has("zsh") && "zsh is not installed" }, () => {
  const dir = fs.mkdtempSync(path.join(tmp, "zsh-eq-"));
  const env = stubLap(dir, "team:bot\ndemo");
  const script = path.join(dir, "lap.zsh");
  fs.writeFileSync(script, completionScript("zsh", completionSpec()));
  const zsh = (line: string) => {
    const r = spawnSync("zsh", ["-f", "-c", zshProbe(script, line)], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean);
  };
  assert.deepEqual(zsh("lap --profile="), ["--profile=team:bot", "--profile=demo"]);
  assert.deepEqual(zsh("lap --agent=d"), ["--agent=demo"]);
  assert.deepEqual(zsh("lap --resume=t"), ["--resume=team:bot"]);
  assert.deepEqual(zsh("lap team:"), ["team:bot"]);
  assert.deepEqual(zsh("lap --profile=p2 --agent=demo --ne"), ["--new"]);
});

test("--record completes file names in every shell; in fish no other flag's value does", (t) => {
  const dir = fs.mkdtempSync(path.join(tmp, "record-"));
  const env = stubLap(dir, "demo");
  fs.writeFileSync(path.join(dir, "old.cast"), "");
  assert.deepEqual(bashWith("set -eu", "lap demo --record o", env, dir), ["old.cast"]);
  assert.deepEqual(bashWith("set -eu", "lap attach x --record=o", env, dir), ["old.cast"]);
  if (has("zsh")) {
    const script = path.join(dir, "lap.zsh");
    fs.writeFileSync(script, completionScript("zsh", completionSpec()));
    const r = spawnSync("zsh", ["-f", "-c", zshProbe(script, "lap demo --record o")], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["old.cast"]);
  } else t.diagnostic("zsh is not installed");
  if (!has("fish")) return t.diagnostic("fish is not installed");
  const fish = fishCompleter(dir, env);
  assert.deepEqual(fish("lap demo --record o"), ["old.cast"]);
  for (const typed of ["lap demo --timeout ", "lap demo --history ", "lap attach x --detach-keys ", "lap doctor demo --idle ", "lap login --url "]) {
    assert.deepEqual(fish(typed), [], typed);
  }
});

test("lap __complete gives up quietly on a platform that does not answer, before a shell's Tab feels frozen", async (t) => {
  const { url } = await silentServer(t);
  const m = memoryIO({ env: { LAP_BASE_URL: url, LAP_MASTER_KEY: "k" } });
  const start = Date.now();
  await completeWords(m.io, "agents");
  const took = Date.now() - start;
  assert.equal(m.stdout(), "");
  assert.ok(took < 10_000, `gave up after ${took} ms, not the 30 s of a call`);
});

test("lap __complete prints only words that are safe as shell words", async () => {
  const p = await startPlatform({ bringUpMs: 0 });
  platforms.push(p);
  for (const name of ["demo", "$(touch pwned)", "a`b`", "x;y", "-rf", "it's", "ok.name-2"]) p.addAgent({ name });
  const m = memoryIO({ env: { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key } });
  await completeWords(m.io, "agents");
  assert.deepEqual(m.stdout().split("\n").filter(Boolean).sort(), ["demo", "ok.name-2"]);
});

test("each shell gets its own script, and an unknown shell is a usage error", () => {
  assert.match(completionScript("bash", SPEC), /^# lap completion for bash[^]*complete -F _lap_complete lap\n$/);
  assert.match(completionScript("bash", SPEC), /sessions\) _lap_add "\$cur" < <\(printf '%s\\n' --json --help --profile\) ;;/);
  assert.doesNotMatch(completionScript("bash", SPEC), /compgen|eval/);
  assert.match(completionScript("bash", SPEC), /--idle\|--agent\) \(\(i\+\+\)\) ;;\n/);
  assert.match(completionScript("zsh", SPEC), /^# lap completion for zsh[^]*bashcompinit[^]*complete -F _lap_complete lap\n$/);
  const fish = completionScript("fish", SPEC);
  assert.match(fish, /complete -c lap -n '__lap_using sessions' -l json\n/);
  assert.match(fish, /complete -c lap -n '__lap_using doctor' -l idle -r -f\n/);
  assert.match(fish, /complete -c lap -n 'test -z \(__lap_cmd\)' -l agent -r -f -a '\(lap \(__lap_profile\) __complete agents 2>\/dev\/null\)'/);
  for (const shell of ["tcsh", ""]) {
    assert.throws(() => completionScript(shell, SPEC), (err: unknown) => err instanceof LapError && err.code === 2);
  }
});

test("completion words: agent names, live session ids, sessions a restart can bring back, and profiles with the default first", async () => {
  const p = await startPlatform({ bringUpMs: 0 });
  platforms.push(p);
  const demo = p.addAgent({ name: "demo" });
  p.addAgent({ name: "has space" });
  p.addAgent({ name: null });
  const env = { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
  const live = (await (await fetch(`${p.url}/api/v1/managed_agents/agents/${demo.id}/session`, {
    method: "POST", headers: { authorization: `Bearer ${p.key}` }, body: "{}",
  })).json()) as { id: string };

  const words = async (what: string) => {
    const m = memoryIO({ env });
    await completeWords(m.io, what);
    return m.stdout();
  };
  assert.equal(await words("agents"), "demo\n");
  assert.equal(await words("sessions"), `${live.id}\n`);
  // restart brings back dead, failed and ready sessions.
  p.sessions.get(live.id)!.status = "dead";
  assert.equal(await words("sessions"), "");
  assert.equal(await words("restartable"), `${live.id}\n`);

  const file = path.join(tmp, "config.json");
  fs.writeFileSync(file, JSON.stringify({ profiles: { staging: { base: "http://s", key: "k" } } }));
  const profiles = memoryIO({ env: { LAP_CONFIG: file } });
  await completeWords(profiles.io, "profiles");
  assert.equal(profiles.stdout(), "default\nstaging\n");

  await assert.rejects(completeWords(memoryIO().io, "colours"), /nothing to complete for 'colours'/);
});

// fishCompleter writes the fish script into dir and returns what fish
// offers for a typed line (candidates without their descriptions).
function fishCompleter(dir: string, env: NodeJS.ProcessEnv): (typed: string) => string[] {
  const script = path.join(dir, "lap.fish");
  fs.writeFileSync(script, completionScript("fish", completionSpec()));
  return (typed) => {
    const r = spawnSync("fish", ["--no-config", "-c", `source ${script}; complete -C '${typed}'`], { cwd: dir, env, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
  };
}
