// Chat in a real terminal: the built lap runs in a pane of a private tmux
// server, talking to the local platform; keys are typed with send-keys and
// the screen read with capture-pane, as a user would see it.
//
// Needs `make build` first (`make test` does it); tmux on PATH.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startPlatform, type Platform } from "../platform/platform.js";
import { LAP, homes } from "../testutil/testcli.js";
import { TmuxServer } from "../testutil/tmux.js";

// Generous: a loaded 2-core machine can take seconds to start node.
const DEADLINE_MS = 15_000;
const POLL_MS = 100;
const { loggedIn } = homes("lap-chat-tty-");
const tmux = new TmuxServer();

const closers: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

function quote(s: string): string {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

async function screen(pane: string): Promise<string> {
  return tmux.run("capture-pane", "-p", "-J", "-t", pane, "-S", "-100");
}

async function waitFor(what: RegExp | (() => Promise<boolean>), pane = "chat"): Promise<string> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const shown = await screen(pane).catch(() => "");
    if (typeof what === "function" ? await what() : what.test(shown)) return shown;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; the screen:\n${shown}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

test("in a real terminal Ctrl-C stops the agent's turn, the prompt comes back, and Ctrl-C twice leaves with 130", async () => {
  const p: Platform = await startPlatform({
    bringUpMs: 0,
    chatScript: (text) => (text === "long" ? [{ text: "working on it\n" }, { hold: true }] : [{ text: `# Echo\n**${text}**\n` }, { info: { tokens: { output: 9 }, cost: 0.25 } }]),
  });
  closers.push(() => p.close());
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const env = { ...tmux.env, ...loggedIn(p), TERM: "xterm-256color" };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  // A shell runs lap and then shows its exit status on the screen.
  const command = `env ${envArgs.map(quote).join(" ")} ${quote(process.execPath)} ${quote(LAP)} sdk; echo "EXIT=$?"; sleep 60`;
  await tmux.run("new-session", "-d", "-s", "chat", "-x", "100", "-y", "30", "sh", "-c", command);
  closers.push(() => tmux.stop());

  await waitFor(/Ctrl-D ends the chat\n> $/m);
  await tmux.run("send-keys", "-t", "chat", "long", "Enter");
  await waitFor(/working on it/);
  await tmux.run("send-keys", "-t", "chat", "C-c");
  await waitFor(/· stopped the agent\n> /);
  assert.equal(p.chat.aborts.length, 1, "the platform saw one abort");

  await tmux.run("send-keys", "-t", "chat", "hi", "Enter");
  const shown = await waitFor(/· \d+\.\ds · 9 tokens out · \$0\.2500\n> /);
  assert.match(shown, /\nEcho\nhi\n/, "markdown markers are rendered away");

  await tmux.run("send-keys", "-t", "chat", "C-c");
  await waitFor(/press Ctrl-C again to leave/);
  await tmux.run("send-keys", "-t", "chat", "C-c");
  await waitFor(/\nEXIT=130\n/);
  assert.equal(p.chat.aborts.length, 1, "leaving at the prompt sends no abort");
});

test("in a real terminal Ctrl-D during a turn ends the chat with 0, the session left running", async () => {
  const p: Platform = await startPlatform({ bringUpMs: 0, chatScript: () => [{ text: "working on it\n" }, { hold: true }] });
  closers.push(() => p.close());
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const env = { ...tmux.env, ...loggedIn(p), TERM: "xterm-256color" };
  const command = `env ${Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)).join(" ")} ${quote(process.execPath)} ${quote(LAP)} sdk; echo "EXIT=$?"; sleep 60`;
  await tmux.run("new-session", "-d", "-s", "held", "-x", "100", "-y", "30", "sh", "-c", command);
  closers.push(() => tmux.stop());
  await waitFor(/Ctrl-D ends the chat\n> $/m, "held");
  await tmux.run("send-keys", "-t", "held", "long", "Enter");
  await waitFor(/working on it/, "held");
  await tmux.run("send-keys", "-t", "held", "C-d");
  const shown = await waitFor(/\nEXIT=0\n/, "held");
  assert.match(shown, /· chat ended — session \S+ keeps running/);
});

test("in a real terminal Ctrl-Z gives the terminal back to the shell, and after fg the chat answers again", async () => {
  const p: Platform = await startPlatform({ bringUpMs: 0 });
  closers.push(() => p.close());
  p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const env = { ...tmux.env, ...loggedIn(p), TERM: "xterm-256color", PS1: "$ " };
  // An interactive shell, for job control: Ctrl-Z stops lap and fg brings
  // it back. Where sh is dash, the terminal is left as lap leaves it (bash
  // would put its own settings back).
  const command = `env ${Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)).join(" ")} sh -i`;
  await tmux.run("new-session", "-d", "-s", "job", "-x", "100", "-y", "30", "sh", "-c", command);
  closers.push(() => tmux.stop());
  await waitFor(/^\$ $/m, "job");
  await tmux.run("send-keys", "-t", "job", "-l", `${quote(process.execPath)} ${quote(LAP)} sdk`);
  await tmux.run("send-keys", "-t", "job", "Enter");
  await waitFor(/Ctrl-D ends the chat\n> $/m, "job");
  await tmux.run("send-keys", "-t", "job", "C-z");
  await waitFor(/Stopped.*\n\$ $/m, "job");
  // The shell has its terminal back, not raw: the line is read and run.
  await tmux.run("send-keys", "-t", "job", "-l", "stty -a | grep -o ' -\\?icanon'");
  await tmux.run("send-keys", "-t", "job", "Enter");
  await waitFor(/^ icanon$/m, "job");
  await tmux.run("send-keys", "-t", "job", "fg", "Enter");
  await waitFor(/^\$ fg\n.*sdk\n> $/m, "job");
  await tmux.run("send-keys", "-t", "job", "hi", "Enter");
  await waitFor(/echo: hi\n· \d+\.\ds\n> $/m, "job");
  await tmux.run("send-keys", "-t", "job", "C-d");
  await waitFor(/· chat ended .*\n\$ $/m, "job");
  await tmux.run("send-keys", "-t", "job", "-l", "echo EXIT=$?");
  await tmux.run("send-keys", "-t", "job", "Enter");
  await waitFor(/^EXIT=0$/m, "job");
});
