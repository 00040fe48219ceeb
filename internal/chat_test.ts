import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { PassThrough, Writable } from "node:stream";
import { Api, type Session } from "./api.js";
import { chat, elapsed } from "./chat.js";
import { LapError } from "./errors.js";
import type { IO } from "./io.js";
import { memoryTerminal } from "./testutil/testterm.js";
import { readSettings } from "./settings.js";

const SESSION: Session = { id: "5e55-1000-aaaa", agent_id: "agent-1", status: "ready" };

// A platform stand-in for /message: what it answers depends on the text.
// "wait N" answers after N ms; "hold" answers only when the client gives up.
async function messageServer() {
  const got: string[] = [];
  let abandoned = 0;
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const text = (JSON.parse(body) as { text: string }).text;
      got.push(text);
      const send = (status: number, answer: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer));
      };
      if (text === "hold") {
        res.on("close", () => abandoned++);
        return;
      }
      const wait = /^wait (\d+)$/.exec(text);
      if (wait) return void setTimeout(() => send(200, { parts: [{ type: "text", text: `waited ${wait[1]}` }] }), Number(wait[1]));
      if (text === "fail") return send(500, { error: "model overloaded" });
      if (text === "gone") return send(404, { error: "session not found" });
      if (text === "odd") return send(200, { nothing: true });
      if (text === "tools") {
        return send(200, { parts: [{ type: "tool", name: "bash" }, { type: "text", text: "done\n" }, { type: "tool" }, { type: "reasoning", text: "hmm" }, { type: "text", text: "two" }] });
      }
      if (text === "silent") return send(200, { parts: [{ type: "reasoning", text: "thinking" }] });
      if (text === "empty") return send(200, { parts: [] });
      if (text === "ansi") return send(200, { parts: [{ type: "text", text: "a\x1b]0;pwned\x07b\r\nc\td" }] });
      send(200, { id: "m1", parts: [{ type: "text", text: "echo: " + text }] });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closers.push(() => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  }));
  return { url, got, abandoned: () => abandoned };
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

function chatIO(tty: boolean) {
  const stdin = new PassThrough();
  let out = "";
  let err = "";
  const sink = (add: (s: string) => void) => new Writable({
    write(chunk: Buffer, _enc, done) {
      add(chunk.toString());
      done();
    },
  });
  const m = memoryTerminal({ isTTY: tty });
  const io: IO = {
    stdin,
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    stdinIsTTY: tty,
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    env: {},
    settings: readSettings({}, "/nonexistent"),
    home: "/nonexistent",
    fetch,
    dial: () => Promise.reject(new Error("no terminal here")),
    terminal: () => m.term,
  };
  return { io, stdin, m, out: () => out, err: () => err };
}

async function until(cond: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting; so far:\n${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const OPTS = { name: "sdk", again: "lap sdk", spinMs: 10 };

test("piped lines are sent in turn and each answer's text printed; blank lines are skipped", async () => {
  const s = await messageServer();
  const c = chatIO(false);
  c.stdin.end("hello\n\n  \nwait 50\nworld\n");
  const code = await chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  assert.equal(code, 0);
  assert.equal(c.out(), "echo: hello\nwaited 50\necho: world\n");
  assert.deepEqual(s.got, ["hello", "wait 50", "world"]);
  assert.equal(c.err(), `· chatting with sdk (session 5e55-100)\n· chat ended — session ${SESSION.id} keeps running; continue: lap sdk\n`);
});

test("text parts are printed one per line; other parts are counted on stderr", async () => {
  const s = await messageServer();
  const c = chatIO(false);
  c.stdin.end("tools\nsilent\nempty\nansi\n");
  assert.equal(await chat(c.io, new Api(s.url, "k"), SESSION, OPTS), 0);
  // Piped output is the agent's text exactly as it came.
  assert.equal(c.out(), "done\ntwo\na\x1b]0;pwned\x07b\r\nc\td\n");
  assert.match(c.err(), /· \(2 tool, 1 reasoning parts not shown\)\n/);
  assert.match(c.err(), /· \(1 reasoning part not shown\)\n/);
  assert.match(c.err(), /· \(the answer has no text\)\n/);
});

test("on a terminal the answer's control characters are shown, not obeyed", async () => {
  const s = await messageServer();
  const c = chatIO(true);
  const done = chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  c.stdin.write("ansi\r");
  await until(() => c.out().length > 0, c.err);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
  assert.equal(c.out(), "a\\x1b]0;pwned\\x07b\nc\td\n");
});

test("piped, a failed message stops the chat with the error", async () => {
  const s = await messageServer();
  for (const [line, message] of [
    ["fail", /^127\.0\.0\.1:\d+: POST \/api\/v1\/managed_agents\/sessions\/5e55-1000-aaaa\/message: 500 model overloaded$/],
    ["odd", /the message answer has an unexpected shape/],
  ] as const) {
    const c = chatIO(false);
    c.stdin.end(`${line}\nnever sent\n`);
    await assert.rejects(chat(c.io, new Api(s.url, "k"), SESSION, OPTS), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.deepEqual(s.got, ["fail", "odd"]);
});

test("a message waits far longer than an ordinary call may take", async () => {
  const s = await messageServer();
  const c = chatIO(false);
  c.stdin.end("wait 400\n");
  // Ordinary calls of this client give up after 100 ms; the turn takes 400.
  const api = new Api(s.url, "k", fetch, 100);
  await assert.rejects(api.call("POST", `/api/v1/managed_agents/sessions/${SESSION.id}/message`, { text: "wait 400" }), /timed out/);
  assert.equal(await chat(c.io, api, SESSION, OPTS), 0);
  assert.equal(c.out(), "waited 400\n");
});

test("on a terminal a spinner counts the seconds, Ctrl-C stops waiting, and the prompt comes back", async () => {
  const s = await messageServer();
  const c = chatIO(true);
  const done = chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  await until(() => c.err().includes("> "), c.err);
  assert.match(c.err(), /Enter sends, Ctrl-C stops waiting for an answer, Ctrl-D ends the chat/);
  c.stdin.write("hold\r");
  await until(() => /⠙ sdk is working… 0s \(Ctrl-C stops waiting\)/.test(c.err()), c.err);
  await until(() => /is working… 1s/.test(c.err()), c.err, 4000);
  // Typed while waiting: not echoed over the spinner, sent after.
  c.stdin.write("queued\r");
  c.stdin.write("\x03");
  await until(() => s.abandoned() === 1, c.err);
  await until(() => c.out() === "echo: queued\n", () => c.out() + c.err());
  assert.match(c.err(), /\r\x1b\[K· stopped waiting; the agent may still finish that turn\n/);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
  assert.deepEqual(s.got, ["hold", "queued"]);
  assert.doesNotMatch(c.err(), /queued/, "what was typed while waiting was not echoed over the spinner");
  assert.match(c.err(), /· chat ended — session 5e55-1000-aaaa keeps running; continue: lap sdk\n$/);
});

test("a second Ctrl-C at the prompt leaves with status 130", async () => {
  const s = await messageServer();
  const c = chatIO(true);
  const done = chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  c.stdin.write("half typed\x03");
  await until(() => /press Ctrl-C again to leave/.test(c.err()), c.err);
  c.stdin.write("hi\r");
  await until(() => c.out() === "echo: hi\n", c.out);
  // Sending a line in between made the next Ctrl-C a first one again.
  c.stdin.write("\x03");
  await until(() => c.err().split("press Ctrl-C again").length === 3, c.err);
  c.stdin.write("\x03");
  assert.equal(await done, 130);
  assert.deepEqual(s.got, ["hi"]);
});

test("on a terminal a failed message is reported and the chat goes on; a gone session ends it", async () => {
  const s = await messageServer();
  const c = chatIO(true);
  const done = chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  c.stdin.write("fail\r");
  await until(() => /! no answer: .*500 model overloaded/.test(c.err()), c.err);
  c.stdin.write("gone\r");
  await assert.rejects(done, /404 session not found/);
});

test("a signal ends the chat with 128 + its number, dropping lines not yet sent", async () => {
  const s = await messageServer();
  const c = chatIO(false);
  c.stdin.write("hold\nlater\n");
  const done = chat(c.io, new Api(s.url, "k"), SESSION, OPTS);
  await until(() => s.got.length === 1, c.err);
  c.m.signal("SIGTERM");
  assert.equal(await done, 143);
  assert.deepEqual(s.got, ["hold"]);
});

test("elapsed time reads in seconds, then minutes, then hours", () => {
  assert.deepEqual([0, 999, 7_000, 59_999, 60_000, 125_000, 3_599_000, 3_720_000].map(elapsed),
    ["0s", "0s", "7s", "59s", "1m00s", "2m05s", "59m59s", "1h02m"]);
});
