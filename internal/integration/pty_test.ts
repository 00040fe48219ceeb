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
  const script = `stty -g; "${process.execPath}" "${LAP}" demo --timeout ${marker}; echo "rc=$?"; stty -g`;
  const child = spawn(pythonPath(), [PTYHOST, "80", "24", "sh", "-c", script], {
    env: { PATH: process.env.PATH ?? "", HOME: tmp, LAP_CONFIG: config, TERM: "xterm-256color" },
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
  // Anchored, so the sh -c line that mentions the same words does not match.
  const lapPid = () => Number(execFileSync("pgrep", ["-f", `^${process.execPath} ${LAP} demo --timeout ${marker}`]).toString().trim());
  return { child, waitFor, lapPid, out: () => out, closed };
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
