// On a real PTY (internal/ptyhost.py): lap login, and the terminal always
// given back. The compiled CLI is attached to the local platform; the tests
// end it in each way a session ends and compare the tty settings before and
// after.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { pythonPath, startPlatform, type Platform } from "../platform/platform.js";
import { REPO, LAP } from "../testutil/repo.js";

const PTYHOST = path.join(REPO, "internal", "platform", "ptyhost.py");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-signals-"));
let platform: Platform;
let config: string;

after(async () => {
  await platform?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function setup(): Promise<void> {
  if (platform) return;
  platform = await startPlatform({ bringUpMs: 0 });
  platform.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
  config = path.join(tmp, "config.json");
  fs.writeFileSync(config, JSON.stringify({ base: platform.url, key: platform.key }), { mode: 0o600 });
}

// onPty runs lap between two `stty -g` on a fresh PTY and returns a handle
// on everything the PTY showed. marker makes lap's command line findable.
function onPty(marker: string) {
  const pty = ptyRun(`stty -g; "${process.execPath}" "${LAP}" demo --timeout ${marker}; echo "rc=$?"; stty -g`, { LAP_CONFIG: config });
  // Anchored, so the sh -c line that mentions the same words does not match.
  const lapPid = () => Number(execFileSync("pgrep", ["-f", `^${process.execPath} ${LAP} demo --timeout ${marker}`]).toString().trim());
  return { ...pty, lapPid };
}

// ptyRun runs a shell script on a fresh 80x24 PTY and returns a handle on
// it: the PTY host, waiting for what the PTY showed, all it showed so far.
function ptyRun(script: string, env: Record<string, string> = {}) {
  const child = spawn(pythonPath(), [PTYHOST, "80", "24", "sh", "-c", script], {
    env: { PATH: process.env.PATH ?? "", HOME: tmp, TERM: "xterm-256color", ...env },
    stdio: ["pipe", "pipe", "inherit", "pipe"],
  });
  // Made now: the PTY host may be gone before a test gets to wait for it.
  const closed = once(child, "close");
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  const waitFor = async (re: RegExp, ms = 15000) => {
    const deadline = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${re} in:\n${JSON.stringify(out)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, waitFor, out: () => out, closed };
}

// The two stty -g lines, before and after lap.
function settings(out: string): [string, string] {
  const lines = out.split(/\r?\n/).map((l) => l.replace(/\x1b\[[^a-zA-Z]*[a-zA-Z]/g, "").trim()).filter((l) => /^[0-9a-f]+(:[0-9a-f]+){10,}$/.test(l));
  assert.ok(lines.length >= 2, `two stty -g lines in ${JSON.stringify(out)}`);
  return [lines[0], lines[lines.length - 1]];
}

const signals: [string, number][] = [["SIGTERM", 15], ["SIGHUP", 1], ["SIGQUIT", 3]];
let n = 0;
for (const [signal, number] of signals) {
  test(`${signal} while attached restores the terminal and exits ${128 + number}`, async () => {
    await setup();
    const marker = `${++n}7${n}s`;
    const pty = onPty(marker);
    await pty.waitFor(/Ctrl-D detaches/);
    await pty.waitFor(/\$ /);
    process.kill(pty.lapPid(), signal);
    await pty.waitFor(new RegExp(`rc=${128 + number}\\r\\n[0-9a-f:]+\\r\\n`));
    const [before, afterRun] = settings(pty.out());
    assert.equal(afterRun, before);
    pty.child.stdin!.end();
    await pty.closed;
  });
}

test("Ctrl-D on a real terminal detaches, restores the tty settings and switches off the modes left on", async () => {
  await setup();
  const pty = onPty(`${++n}8${n}s`);
  await pty.waitFor(/Ctrl-D detaches/);
  await pty.waitFor(/\$ /);
  pty.child.stdin!.write("printf '\\033[?2004h\\033[?1002h'; echo R=$((3*3))\r");
  await pty.waitFor(/R=9/);
  pty.child.stdin!.write(Buffer.from([4]));
  await pty.waitFor(/rc=0\r\n[0-9a-f:]+\r\n/);
  const out = pty.out();
  const [before, afterRun] = settings(out);
  assert.equal(afterRun, before);
  // The inner tmux client put the terminal in its alternate screen and was
  // cut off before it could leave: lap leaves it for it.
  const tail = out.slice(out.lastIndexOf("R=9"));
  assert.match(tail, /\x1b\[\?1049l/);
  assert.match(out.slice(0, out.lastIndexOf("\x1b[?1049l")), /\x1b\[\?1049h/);
  assert.match(tail, /detached — session/);
  pty.child.stdin!.end();
  await pty.closed;
});

test("lap login on a terminal asks for both, does not echo the key, and saves it 0600", async () => {
  const file = path.join(tmp, "login", "config.json");
  const child = spawn(pythonPath(), [PTYHOST, "80", "24", process.execPath, LAP, "login"], {
    env: { PATH: process.env.PATH ?? "", HOME: tmp, LAP_CONFIG: file, TERM: "xterm-256color" },
    stdio: ["pipe", "pipe", "inherit", "pipe"],
  });
  const closed = once(child, "close");
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (out += d));
  const waitFor = async (re: RegExp) => {
    const deadline = Date.now() + 15000;
    while (!re.test(out)) {
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${re} in:\n${JSON.stringify(out)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(/Agent platform URL: /);
  child.stdin!.write("https://lap.example.com\r");
  await waitFor(/Master key: /);
  child.stdin!.write("sk-secret-typed-1234\r");
  await waitFor(/ saved to /);
  assert.match(out, /https:\/\/lap\.example\.com/, "the URL is echoed");
  assert.doesNotMatch(out, /secret/, "the key is not");
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { base: "https://lap.example.com", key: "sk-secret-typed-1234" });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  child.stdin!.end();
  await closed;
});

for (const [signal, status] of [["SIGHUP", 129], ["SIGQUIT", 131], ["SIGTERM", 143]] as const) {
  test(`${signal} at the Master key prompt leaves the terminal as it was found, echo on, and exits ${status}`, async () => {
    const marker = `prompt-${signal}`;
    const file = path.join(tmp, marker, "config.json");
    const pty = ptyRun(`stty -g; LAP_CONFIG=${file} "${process.execPath}" "${LAP}" login --url http://x.example --profile ${marker}; echo "rc=$?"; stty -g`);
    await pty.waitFor(/Master key: /);
    const pid = Number(execFileSync("pgrep", ["-f", `^${process.execPath} ${LAP} login .*${marker}`]).toString().trim());
    process.kill(pid, signal);
    await pty.waitFor(/rc=\d+\r?\n[^\n]*\n/);
    const [before, after] = settings(pty.out());
    assert.equal(after, before, "stty -g after equals stty -g before");
    assert.match(pty.out(), new RegExp(`rc=${status}`));
    pty.child.stdin!.end();
    await pty.closed;
  });
}

test("the window size is found through the controlling terminal when stdin, stdout and stderr are all redirected", async () => {
  const file = path.join(tmp, "size.json");
  const tty = path.join(REPO, "build", "internal", "tty.js");
  const probe = `const t = require(${JSON.stringify(tty)}); ` +
    `require("fs").writeFileSync(${JSON.stringify(file)}, JSON.stringify(t.windowSize([process.stdout, process.stderr])))`;
  const child = spawn(pythonPath(), [PTYHOST, "101", "37", "sh", "-c", `"${process.execPath}" -e '${probe}' </dev/null >/dev/null 2>&1`], {
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["pipe", "pipe", "inherit", "pipe"],
  });
  child.stdout!.resume();
  await once(child, "close");
  assert.deepEqual(JSON.parse(fs.readFileSync(file, "utf8")), { cols: 101, rows: 37 });
});

// sttyOf reads the settings of the terminal lap runs on, from outside it.
function sttyOf(tty: string): string {
  return execFileSync("stty", ["-g", "-F", tty]).toString().trim();
}

async function until(check: () => boolean, what: string | (() => string), ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("SIGTSTP gives the terminal back before lap stops, and SIGCONT takes it again, as ssh does", async (t) => {
  await setup();
  const marker = "575s";
  const { child, out, closed } = ptyRun(`tty; stty -g; "${process.execPath}" "${LAP}" demo --timeout ${marker}; echo "rc=$?"; stty -g`, { LAP_CONFIG: config });
  await until(() => /Ctrl-D detaches/.test(out()) && /\$ /.test(out()), () => `the shell's prompt in ${JSON.stringify(out())}`);
  const tty = /^(\/dev\/pts\/\d+)/m.exec(out())![1];
  const before = settings(out() + "\n" + out())[0];
  const raw = sttyOf(tty);
  assert.notEqual(raw, before, "attached, the terminal is raw");
  const pid = Number(execFileSync("pgrep", ["-f", `^${process.execPath} ${LAP} demo --timeout ${marker}`]).toString().trim());
  // A failure below must not leave this lap stopped for good.
  t.after(() => {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) process.kill(pid, "SIGKILL");
    } catch {
      // it has exited
    }
  });

  // The remote program switches mouse reporting on, as a full-screen one would.
  child.stdin!.write("printf '\\033[?1000hMOUSE-%s\\n' ON\r");
  await until(() => /MOUSE-ON/.test(out()), "the remote's mouse reporting on");
  const at = out().length;
  process.kill(pid, "SIGTSTP");
  await until(() => execFileSync("ps", ["-o", "stat=", "-p", String(pid)]).toString().startsWith("T"), "lap to stop");
  assert.equal(sttyOf(tty), before, "stopped, lap has given the terminal back as it found it");
  await until(() => out().slice(at).includes("\x1b[?1000l"), "mouse reporting off while lap is stopped");

  process.kill(pid, "SIGCONT");
  await until(() => sttyOf(tty) === raw, "raw mode again after SIGCONT");
  await until(() => out().slice(at).includes("\x1b[?1000h"), "mouse reporting on again for the remote program");
  child.stdin!.write('echo "R=$((6*7))"\r');
  await until(() => /R=42/.test(out()), "the shell to answer after the resume");
  child.stdin!.write("\x04");
  await until(() => /rc=0\r?\n[0-9a-f:]+\r?\n/.test(out()), "the detach");
  const [, afterRun] = settings(out());
  assert.equal(afterRun, before);
  child.stdin!.end();
  await closed;
});

test("--read-only on a real terminal sends nothing typed and no window size, and Ctrl-D still detaches", async () => {
  const record = fs.mkdtempSync(path.join(tmp, "readonly-"));
  const p = await startPlatform({ bringUpMs: 0, recordDir: record });
  try {
    p.addAgent({ name: "demo", harness_id: "claude-code", supports_tui: true });
    const cfg = path.join(tmp, "readonly.json");
    fs.writeFileSync(cfg, JSON.stringify({ base: p.url, key: p.key }), { mode: 0o600 });
    const { child, out, closed } = ptyRun(`stty -g; "${process.execPath}" "${LAP}" demo --read-only; echo "rc=$?"; stty -g`, { LAP_CONFIG: cfg });
    await until(() => /read-only, Ctrl-D detaches/.test(out()), "the attach line saying read-only");
    child.stdin!.write("echo TYPED-$((6*7))\r");
    await new Promise((r) => setTimeout(r, 300));
    child.stdin!.write("\x04");
    await until(() => /rc=0\r?\n[0-9a-f:]+\r?\n/.test(out()), "the detach");
    assert.doesNotMatch(out(), /TYPED-42/, "the shell never ran what was typed");
    const [before, afterRun] = settings(out());
    assert.equal(afterRun, before);
    child.stdin!.end();
    await closed;
    await until(() => fs.readdirSync(record).length > 0, "the platform's recording of the connection");
    const lines = fs.readdirSync(record).flatMap((f) => fs.readFileSync(path.join(record, f), "utf8").trim().split("\n").slice(1));
    const fromClient = lines.map((l) => JSON.parse(l) as { from: string; type: string }).filter((e) => e.from === "client" && e.type !== "close");
    assert.deepEqual(fromClient, [], "the harness received no keystroke and no resize from a watcher");
  } finally {
    await p.close();
  }
});
