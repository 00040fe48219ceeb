import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { PassThrough, Writable } from "node:stream";
import { Api, type Session } from "./api.js";
import { chat, elapsed, imageType, PasteFilter, withoutInjected, type ChatOptions } from "./chat.js";
import { readSettings, type Env } from "./settings.js";
import { LapError } from "./errors.js";
import type { IO } from "./io.js";
import { startPlatform, type Platform, type PlatformOptions } from "./platform/platform.js";
import type { ChatStep } from "./platform/chatfake.js";
import { memoryTerminal } from "./testutil/testterm.js";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lap-chat-test-"));
closers.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));

// setup starts a local platform with one chat-only agent and a ready session.
async function setup(opts: PlatformOptions = {}): Promise<{ p: Platform; api: Api; session: Session }> {
  const p = await startPlatform({ bringUpMs: 0, ...opts });
  closers.push(() => p.close());
  const agent = p.addAgent({ name: "sdk", harness_id: "claude-agent-sdk", supports_tui: false });
  const api = new Api(p.url, p.key);
  const session = await api.createSession(agent.id, "chat test");
  assert.equal(session.status, "ready");
  return { p, api, session };
}

// chatIO is an IO whose terminal flags are all tty (or all off), collecting
// stdout as bytes.
function chatIO(tty: boolean, env: Env = {}) {
  const stdin = new PassThrough();
  const out: Buffer[] = [];
  let err = "";
  // Both streams in the order they were written, as a terminal shows them.
  let both = "";
  const m = memoryTerminal({ isTTY: tty });
  const io: IO = {
    stdin,
    stdout: new Writable({ write(chunk: Buffer, _e, done) { out.push(Buffer.from(chunk)); both += chunk.toString(); done(); } }),
    stderr: new Writable({ write(chunk: Buffer, _e, done) { err += chunk.toString(); both += chunk.toString(); done(); } }),
    stdinIsTTY: tty,
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    env,
    settings: readSettings(env, tmp),
    home: tmp,
    fetch,
    dial: () => Promise.reject(new Error("no terminal here")),
    terminal: () => m.term,
  };
  return { io, stdin, m, out: () => Buffer.concat(out).toString("utf8"), err: () => err, both: () => both };
}

async function until(cond: () => boolean, what: () => string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting; so far:\n${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const OPTS: ChatOptions = { name: "sdk", again: "lap sdk", spinMs: 10 };

// piped runs a chat over piped stdin and returns what it printed.
async function piped(opts: PlatformOptions, input: string, chatOpts: Partial<ChatOptions> = {}) {
  const { p, api, session } = await setup(opts);
  const c = chatIO(false);
  c.stdin.end(input);
  const code = await chat(c.io, api, session, { ...OPTS, ...chatOpts });
  return { p, session, code, out: c.out(), err: c.err() };
}

const script = (steps: ChatStep[]) => () => steps;

// ---- streaming ----

test("piped lines are streamed in turn and each answer's text printed exactly; meta goes to stderr", async () => {
  const r = await piped({}, "hello\n\n  \nworld\n");
  assert.equal(r.code, 0);
  assert.equal(r.out, "echo: hello\necho: world\n");
  assert.deepEqual(r.p.chat.sent.map((m) => [m.route, m.body.text]), [["message_stream", "hello"], ["message_stream", "world"]]);
  assert.match(r.err, /^· chatting with sdk \(session [0-9a-f]{8}\)\n· \d+\.\ds\n· \d+\.\ds\n· chat ended — session \S+ keeps running; continue: lap sdk\n$/);
});

test("an answer past the bound a chat holds is cut with one line, not followed again", async () => {
  const mib = 1 << 20;
  const text = "x".repeat(9 * mib);
  const { p, api, session } = await setup({ chatScript: script([{ text, cuts: [3, 6].map((n) => n * mib), noUpdate: true }]) });
  const c = chatIO(false);
  c.stdin.end("go\n");
  await assert.rejects(chat(c.io, api, session, OPTS), /^LapError: the answer is over 8388608 characters; stopped reading it$/);
  assert.equal(p.chat.sent.length, 1, "nothing sent again");
  assert.equal(p.eventStreams(session.id), 0, "and no stream opened to follow it");
});

const TRICKY = "Héllo 😀 wörld\n```ts\nconst a = 1;\n```\nend 🎉";
const CUTS: [string, Partial<PlatformOptions>, ChatStep][] = [
  ["in one delta", {}, { text: TRICKY }],
  ["one code unit at a time", {}, { text: TRICKY, cuts: "each" }],
  ["inside a surrogate pair", {}, { text: TRICKY, cuts: [TRICKY.indexOf("😀") + 1, TRICKY.indexOf("🎉") + 1] }],
  ["inside a code fence marker", {}, { text: TRICKY, cuts: [TRICKY.indexOf("```") + 1, TRICKY.indexOf("```") + 2, TRICKY.lastIndexOf("```") + 1] }],
  ["one byte at a time on the wire", { chunkBytes: 1 }, { text: TRICKY, cuts: [3, 9] }],
  ["with a delta lost (the whole part repairs it)", {}, { text: TRICKY, cuts: [5, 20, 30], skip: [3] }],
];

for (const [how, opts, step] of CUTS) {
  test(`streamed text equals the whole part when deltas are cut ${how}`, async () => {
    const r = await piped({ ...opts, chatScript: script([step]) }, "go\n");
    assert.equal(r.out, TRICKY + "\n");
    const j = await piped({ ...opts, chatScript: script([step]) }, "go\n", { json: true });
    assert.equal(JSON.parse(j.out).text, TRICKY);
  });
}

test("rendered on a terminal, a fence cut across deltas still renders as code", async () => {
  const { api, session } = await setup({ chatScript: script([{ text: TRICKY, cuts: "each" }]) });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("go\r");
  await until(() => c.out().includes("end"), c.out);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
  assert.equal(c.out(), "Héllo 😀 wörld\n\x1b[2m```ts\x1b[22m\n  const a = 1;\n\x1b[2m```\x1b[22m\nend 🎉\n");
});

test("a delta lost in the middle is repaired by showing the part again whole", async () => {
  const r = await piped({ chatScript: script([{ text: "abcdef", cuts: [2, 4], skip: [1] }]) }, "go\n");
  assert.equal(r.out, "abef\nabcdef\n");
  assert.match(r.err, /· part of the answer was lost on the way; here it is whole:\n/);
});

test("the user's own message in the stream is not printed as the answer, even without its role", async () => {
  const r = await piped({}, "only once\n");
  assert.equal(r.out, "echo: only once\n");
  const unnamed = { type: "message.part.updated", properties: { part: { id: "u1", messageID: "unknown", type: "text", text: "[SYSTEM: …]\n\nwhat now" } } };
  const late = await piped({ chatScript: script([{ raw: unnamed }, { text: "this" }]) }, "what now\n");
  assert.equal(late.out, "this\n");
});

test("tool calls are one line each with their outcome; piped, only the outcome", async () => {
  const steps: ChatStep[] = [
    { tool: "bash", states: ["pending", "running", "completed"] },
    { tool: "read", states: ["running", "error"], error: "no such file: x.ts\nstack trace here" },
    { tool: "\x1b[31mevil", states: ["running"] },
    { text: "done" },
  ];
  const r = await piped({ chatScript: script(steps) }, "go\n");
  assert.equal(r.out, "done\n");
  assert.match(r.err, /\n✓ bash\n✗ read: no such file: x.ts\n· \\x1b\[31mevil did not finish\n/);

  const { api, session } = await setup({ chatScript: script(steps) });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("go\r");
  await until(() => c.out().includes("done"), c.err);
  c.stdin.write("\x04");
  await done;
  // On a terminal each status replaces the call's line while it is the last one.
  assert.match(c.err(), /\x1b\[2m· bash waiting…\x1b\[22m\n\x1b\[1A\r\x1b\[K· bash running…\n\x1b\[1A\r\x1b\[K✓ bash\n· read running…\n\x1b\[1A\r\x1b\[K✗ read: no such file: x.ts\n/);
});

test("on a terminal a tool call's line comes after the whole of the text before it, never inside a word", async () => {
  const steps: ChatStep[] = [{ text: "I will read the file", cuts: [10] }, { tool: "read", states: ["running", "completed"] }, { text: "Done." }];
  for (const env of [{}, { NO_COLOR: "1" }]) {
    const { api, session } = await setup({ chatScript: script(steps) });
    const c = chatIO(true, env);
    const done = chat(c.io, api, session, OPTS);
    c.stdin.write("go\r");
    await until(() => c.out().includes("Done."), c.both);
    c.stdin.write("\x04");
    await done;
    const both = c.both();
    assert.match(both, /I will read the file\n(\x1b\[1A\r\x1b\[K)?· read running…\n/, both);
    assert.ok(both.indexOf("file") < both.indexOf("✓ read"), both);
  }
});

test("a turn ends on session.idle, on session.error without idle, and on session.aborted", async () => {
  const idle = await piped({ chatScript: script([{ text: "fine" }, { end: "idle" }]) }, "a\n");
  assert.equal(idle.out, "fine\n");
  const aborted = await piped({ chatScript: script([{ text: "half" }, { end: "aborted" }]) }, "a\nb\n");
  assert.equal(aborted.out, "half\nhalf\n");
  assert.match(aborted.err, /· stopped the agent\n/);
  // Piped, a failed turn stops the script after printing what came.
  const { api, session, p } = await setup({ chatScript: script([{ text: "partial" }, { end: "error", message: "model overloaded\nretry later" }]) });
  const c = chatIO(false);
  c.stdin.end("a\nnever sent\n");
  await assert.rejects(chat(c.io, api, session, OPTS), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.equal(err.message, "the agent's turn failed: model overloaded");
    return true;
  });
  assert.equal(c.out(), "partial\n");
  assert.equal(p.chat.sent.length, 1);
});

test("on a terminal a failed turn is reported and the chat goes on", async () => {
  const { api, session } = await setup({ chatScript: (t) => (t === "bad" ? [{ end: "error", message: "boom" }] : [{ text: "ok " + t }]) });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("bad\r");
  await until(() => c.err().includes("! the agent's turn failed: boom"), c.err);
  c.stdin.write("good\r");
  await until(() => c.out().includes("ok good"), c.out);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
});

test("without the stream route (an older platform) answers come whole, said once", async () => {
  const r = await piped({ noStreamRoute: true }, "one\ntwo\n");
  assert.equal(r.out, "echo: one\necho: two\n");
  assert.deepEqual(r.p.chat.sent.map((m) => m.route), ["message", "message"]);
  assert.equal(r.err.match(/no streamed answer/g)?.length, 1);
  assert.match(r.err, /· no streamed answer \(.*404 not found\); waiting for whole answers instead\n/);
});

test("a stream that fails before ready falls back to the blocking route for that turn", async () => {
  const r = await piped({ streamFailsBeforeReady: true, chatScript: script([{ tool: "bash", states: ["completed"] }, { text: "whole" }, { info: { tokens: { output: 7 }, cost: 0.5 } }]) }, "one\n");
  assert.equal(r.out, "whole\n");
  assert.deepEqual(r.p.chat.sent.map((m) => m.route), ["message_stream", "message"]);
  assert.match(r.err, /· no streamed answer \(harness unreachable\)/);
  assert.match(r.err, /✓ bash\n/);
  assert.match(r.err, /· \d+\.\ds · 7 tokens out · \$0\.5000\n/);
});

test("on a terminal the fallback's notice is written on a line of its own, not over the spinner, which goes on under it", async () => {
  const { api, session } = await setup({ streamFailsBeforeReady: true, chatScript: script([{ sleepMs: 100 }, { text: "whole" }]) });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("go\r");
  await until(() => c.out().includes("whole"), c.err);
  c.stdin.write("\x04");
  await done;
  const err = c.err();
  assert.match(err, /working… \d+s \(Ctrl-C stops the agent\)\r\x1b\[K· no streamed answer \(harness unreachable\); waiting for whole answers instead\n\r\x1b\[K\S sdk is working/, err);
});

test("a stream cut mid-turn is followed through the session's events until the turn ends", async () => {
  const r = await piped({ chatScript: script([{ text: "part one, " }, { cutStream: true }, { sleepMs: 100 }, { text: "part two", cuts: [4] }]) }, "go\n");
  assert.equal(r.out, "part one, \npart two\n");
  assert.ok(r.p.requests.some((q) => q.method === "GET" && q.path.endsWith("/events")), "followed through /events");
});

test("the platform's stream cut (600 s, shortened) is followed too, with heartbeats in between", async () => {
  const r = await piped({ streamCutMs: 150, eventsCutMs: 150, heartbeatMs: 20, chatScript: script([{ text: "before " }, { sleepMs: 500 }, { text: "after" }]) }, "go\n");
  assert.equal(r.out, "before \nafter\n");
  assert.ok(r.p.requests.filter((q) => q.path.endsWith("/events")).length >= 2, "the events tail was cut and followed again");
});

test("a turn that ends while no stream is open is found in the history", async () => {
  const r = await piped({ chatScript: script([{ text: "early " }, { cutStream: true }, { text: "finished meanwhile" }]) }, "go\n");
  assert.equal(r.out, "early \nfinished meanwhile\n");
});

// ---- Ctrl-C ----

test("Ctrl-C during a turn stops the agent once, says so and gives the prompt back", async () => {
  const { p, api, session } = await setup({ chatScript: (t) => (t === "long" ? [{ text: "working on it\n" }, { hold: true }] : [{ text: "next " + t }]) });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("long\r");
  await until(() => c.out().includes("working on it"), c.err);
  c.stdin.write("\x03");
  await until(() => c.err().includes("· stopped the agent"), c.err);
  assert.deepEqual(p.chat.aborts, [session.id]);
  assert.match(c.err(), /· stopping the agent… \(Ctrl-C again stops waiting\)\n/);
  c.stdin.write("again\r");
  await until(() => c.out().includes("next again"), c.out);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
  assert.deepEqual(p.chat.aborts, [session.id], "one abort only");
});

test("when the agent does not stop, Ctrl-C gives the prompt back after a short wait, or at once on a second Ctrl-C", async () => {
  // The abort is slow to arrive: leaving must still wait for it.
  const { p, api, session } = await setup({ abortIgnored: true, abortDelayMs: 100, chatScript: script([{ text: "stuck\n" }, { hold: true }]) });
  const short = chatIO(true);
  const shortDone = chat(short.io, api, session, { ...OPTS, abortWaitMs: 50 });
  short.stdin.write("one\r");
  await until(() => short.out().includes("stuck"), short.err);
  short.stdin.write("\x03");
  await until(() => short.err().includes("· stopped waiting; the agent may still finish that turn"), short.err);
  short.stdin.write("\x04");
  assert.equal(await shortDone, 0);

  const long = chatIO(true);
  const longDone = chat(long.io, api, session, { ...OPTS, abortWaitMs: 600_000, history: 0 });
  long.stdin.write("two\r");
  await until(() => long.out().includes("stuck"), long.err);
  long.stdin.write("\x03");
  await until(() => long.err().includes("· stopping the agent"), long.err);
  long.stdin.write("\x03");
  await until(() => long.err().includes("· stopped waiting"), long.err);
  long.stdin.write("\x04");
  assert.equal(await longDone, 0);
  assert.equal(p.chat.aborts.length, 2, "one abort per turn");
});

test("a refused key ends the chat without trying the blocking route", async () => {
  const { p, session } = await setup();
  const c = chatIO(false);
  c.stdin.end("hi\n");
  await assert.rejects(chat(c.io, new Api(p.url, "wrong"), session, OPTS), /401 unauthorized/);
  assert.doesNotMatch(c.err(), /no streamed answer/);
});

test("a second Ctrl-C at the prompt leaves with status 130", async () => {
  const { api, session } = await setup();
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("half typed\x03");
  await until(() => /press Ctrl-C again to leave/.test(c.err()), c.err);
  c.stdin.write("hi\r");
  await until(() => c.out().includes("echo: hi\n"), c.out);
  c.stdin.write("\x03");
  await until(() => c.err().split("press Ctrl-C again").length === 3, c.err);
  c.stdin.write("\x03");
  assert.equal(await done, 130);
});

test("a signal ends the chat with 128 + its number, dropping lines not yet sent", async () => {
  const { p, api, session } = await setup({ chatScript: script([{ hold: true }]) });
  const c = chatIO(false);
  c.stdin.write("hold\nlater\n");
  const done = chat(c.io, api, session, OPTS);
  await until(() => p.chat.sent.length === 1, c.err);
  c.m.signal("SIGTERM");
  assert.equal(await done, 143);
  assert.equal(p.chat.sent.length, 1);
});

test("with --stdin-message a signal while stdin is read ends the chat at once and sends nothing", async () => {
  const { p, api, session } = await setup();
  const c = chatIO(false);
  c.stdin.write("half of a mess");
  let code: number | undefined;
  const done = chat(c.io, api, session, { ...OPTS, stdinMessage: true }).then((n) => (code = n));
  await until(() => /chatting with/.test(c.err()), c.err);
  c.m.signal("SIGINT");
  // Generous: the chat ends without waiting for the end of stdin.
  await until(() => code !== undefined, c.err);
  c.stdin.end("age\n");
  await done;
  assert.equal(code, 130);
  assert.equal(p.chat.sent.length, 0);
});

// ---- what is shown ----

test("on a colour terminal answers are rendered; NO_COLOR and TERM=dumb show the text, escapes never obeyed", async () => {
  const answer = "# Title\nSome **bold** and `code`.\n\x1b]0;pwned\x07\u202eevil";
  for (const [env, want] of [
    [{}, "\x1b[1m\x1b[4mTitle\x1b[24m\x1b[22m\nSome \x1b[1mbold\x1b[22m and \x1b[36mcode\x1b[39m.\n\\x1b]0;pwned\\x07\\u202eevil\n"],
    [{ NO_COLOR: "1" }, "# Title\nSome **bold** and `code`.\n\\x1b]0;pwned\\x07\\u202eevil\n"],
    [{ TERM: "dumb" }, "# Title\nSome **bold** and `code`.\n\\x1b]0;pwned\\x07\\u202eevil\n"],
  ] as [Env, string][]) {
    const { api, session } = await setup({ chatScript: script([{ text: answer, cuts: [1, 9, 20] }, { info: { tokens: { output: 12 }, cost: 0.01 } }]) });
    const c = chatIO(true, env);
    const done = chat(c.io, api, session, OPTS);
    c.stdin.write("go\r");
    await until(() => c.err().includes("tokens out"), c.err);
    c.stdin.write("\x04");
    await done;
    assert.equal(c.out(), want, JSON.stringify(env));
    const meta = /· \d+\.\ds · 12 tokens out · \$0\.0100/;
    assert.match(c.err(), env.NO_COLOR || env.TERM ? meta : new RegExp("\\x1b\\[2m" + meta.source + "\\x1b\\[22m"));
  }
});

test("reasoning is only counted unless showThinking", async () => {
  const steps = script([{ reasoning: "let me think" }, { text: "answer" }]);
  const counted = await piped({ chatScript: steps }, "go\n");
  assert.equal(counted.out, "answer\n");
  assert.match(counted.err, /· \d+\.\ds · thought 12 characters \(--show-thinking shows them\)\n/);
  assert.doesNotMatch(counted.err, /let me think/);
  const shown = await piped({ chatScript: steps }, "go\n", { showThinking: true });
  assert.match(shown.err, /let me think/);
  assert.equal(shown.out, "answer\n");
});

test("shown reasoning keeps a character the platform cut between two deltas whole", async () => {
  const thought = "hmm 😀 ok";
  const shown = await piped({ chatScript: script([{ reasoning: thought, cuts: [thought.indexOf("😀") + 1] }, { text: "answer" }]) }, "go\n", { showThinking: true });
  assert.match(shown.err, /hmm 😀 ok/);
  assert.doesNotMatch(shown.err, /\ufffd/);
});

test("--json prints one object per turn: text, tool calls, tokens, cost", async () => {
  const r = await piped({ chatScript: (t) => [{ tool: "bash", states: ["running", "completed"] }, { text: "hi " + t, cuts: [2] }, { info: { tokens: { input: 5, output: 3 }, cost: 0.002 } }] }, "a\nb\n", { json: true });
  const lines = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual({ ...lines[1], seconds: 0 }, { text: "hi b", tools: [{ name: "bash", status: "completed" }], tokens: { input: 5, output: 3 }, cost: 0.002, seconds: 0, ended: "idle" });
});

test("with stdinMessage all of stdin is one message", async () => {
  const r = await piped({}, "line one\nline two\n\n", { stdinMessage: true });
  assert.deepEqual(r.p.chat.sent.map((m) => m.body.text), ["line one\nline two"]);
  assert.equal(r.out, "echo: line one\nline two\n");
});

// ---- commands, skills, attachments ----

test("skills: / lists them, /<name> text sends the skill, an unknown /word is refused, //text sends a slash", async () => {
  const r = await piped({}, "/\n/review look at x.ts\n//etc/hosts is odd\n");
  assert.match(r.err, /· skills \(send one with \/<name> text\):\n {2}\/review {5}Review code for bugs\n {2}\/summarise {2}Summarise a text\n/);
  assert.deepEqual(r.p.chat.sent.map((m) => m.body.text), [
    '<skill name="review">\nReview the code for bugs. List each with a line number.\n</skill>\n\nlook at x.ts',
    "/etc/hosts is odd",
  ]);
  const { api, session, p } = await setup();
  const c = chatIO(false);
  c.stdin.end("/reveiw this\nnever\n");
  await assert.rejects(chat(c.io, api, session, OPTS), /unknown command \/reveiw/);
  assert.equal(p.chat.sent.length, 0, "a typo never reaches the agent");
});

test("skills that failed to load are said to have failed, and asked for again at the next /", async () => {
  const { api, session } = await setup();
  const real = api.skills.bind(api);
  let calls = 0;
  api.skills = () => (++calls === 1 ? Promise.reject(new LapError("127.0.0.1: connection reset")) : real());
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("/\r");
  await until(() => /connection reset/.test(c.err()), c.err);
  assert.doesNotMatch(c.err(), /offers no skills/);
  c.stdin.write("/\r");
  await until(() => /\/review/.test(c.err()), c.err);
  c.stdin.write("/quit\r");
  assert.equal(await done, 0);
});

test("Tab while the platform is slow to list its skills leaves the keys working: Ctrl-C twice still leaves", async () => {
  const { api, session } = await setup();
  api.skills = () => new Promise(() => {});
  const c = chatIO(true);
  let code: number | undefined;
  const done = chat(c.io, api, session, OPTS).then((n) => (code = n));
  await until(() => c.err().includes("> "), c.err);
  c.stdin.write("/re\t");
  c.stdin.write("\x03\x03");
  await until(() => code !== undefined, c.err, 15_000);
  await done;
  assert.equal(code, 130);
});

// tabThenSend runs a chat on a terminal: once typed shows (a command's
// answer, or the greeting), it types prefix and Tab, waits for the
// completion to show, then adds text and Enter. It returns the one message
// sent and all the chat wrote.
async function tabThenSend(opts: PlatformOptions, typed: string, shows: string, prefix: string, completed: string, text: string) {
  const { api, session, p } = await setup(opts);
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write(typed);
  await until(() => c.err().includes(shows), c.err);
  c.stdin.write(prefix + "\t");
  await until(() => c.err().includes(completed), c.err);
  c.stdin.write(text + "\r");
  await until(() => p.chat.sent.length === 1, c.err);
  c.stdin.write("/quit\r");
  assert.equal(await done, 0);
  return { sent: p.chat.sent[0]!.body.text, err: c.err() };
}

test("Tab completes skill names and /help lists the commands", async () => {
  const r = await tabThenSend({}, "/help\r", "/attach <file>", "/sum", "/summarise ", "this text");
  assert.equal(r.sent, '<skill name="summarise">\nSummarise in three sentences.\n</skill>\n\nthis text');
});

// png makes a real w×h RGB image.
function png(w: number, h: number): Buffer {
  const crcTable = [...Array(256).keys()].map((n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = Buffer.alloc((w * 3 + 1) * h, 0x80);
  for (let y = 0; y < h; y++) rows[y * (w * 3 + 1)] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", zlib.deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

test("/attach sends a real image with the next message; too big or not an image is refused before sending", async () => {
  const image = png(4, 3);
  fs.writeFileSync(path.join(tmp, "dot.png"), image);
  fs.writeFileSync(path.join(tmp, "notes.txt"), "just text");
  const big = Buffer.alloc(5 * 1024 * 1024 + 1);
  image.copy(big);
  fs.writeFileSync(path.join(tmp, "big.png"), big);
  const { api, session, p } = await setup();
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("/attach ~/notes.txt\r/attach ~/big.png\r/attach /nowhere.png\r");
  await until(() => c.err().includes("nowhere.png: no such file"), c.err);
  assert.match(c.err(), /! not attached: ~\/notes.txt is not a PNG, JPEG, GIF or WebP image\n/);
  assert.match(c.err(), /! not attached: ~\/big.png is 5.0 MB; the platform takes at most 5.0 MB per image\n/);
  c.stdin.write("/attach ~/dot.png\rwhat is this?\r");
  await until(() => p.chat.sent.length === 1, c.err);
  assert.match(c.err(), /· attached ~\/dot.png \(image\/png, 1 KB\); it goes with your next message\n/);
  c.stdin.write("and this?\r");
  await until(() => p.chat.sent.length === 2, c.err);
  c.stdin.write("\x04");
  await done;
  const [first, second] = p.chat.sent;
  assert.deepEqual(first!.body.attachments, [{ name: "dot.png", mime_type: "image/png", base64: image.toString("base64") }]);
  assert.equal(first!.body.text, "what is this?");
  assert.equal(second!.body.attachments, undefined, "attachments go with one message only");
});

test("images are told by their first bytes", () => {
  assert.equal(imageType(png(1, 1)), "image/png");
  assert.equal(imageType(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
  assert.equal(imageType(Buffer.from("GIF89a....")), "image/gif");
  assert.equal(imageType(Buffer.from("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
  assert.equal(imageType(Buffer.from("<svg></svg>")), null);
});

// ---- history, paste ----

test("entering a chat with turns shows the last ones, rendered, without the platform's injected text", async () => {
  const { api, session, p } = await setup();
  p.chat.seed(session.id, [
    { user: "first question", parts: [{ type: "text", text: "first answer" }] },
    { user: "second question", parts: [{ type: "tool", tool: "bash", state: { status: "completed" } }, { type: "text", text: "**second** answer" }] },
    { user: '<skill name="review">\nReview.\n</skill>\n\nthird question', parts: [{ type: "text", text: "third answer" }] },
    { user: "fourth question", parts: [{ type: "text", text: "fourth answer" }] },
  ]);
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  await until(() => c.out().includes("fourth answer"), c.out);
  c.stdin.write("/history 4\r");
  await until(() => c.out().includes("first answer"), c.out);
  c.stdin.write("\x04");
  await done;
  const [entry, asked] = c.out().split("\x1b[2m> first question");
  assert.equal(entry, "\x1b[2m> second question\x1b[22m\n\x1b[1msecond\x1b[22m answer\n\x1b[2m> /review third question\x1b[22m\nthird answer\n\x1b[2m> fourth question\x1b[22m\nfourth answer\n");
  assert.doesNotMatch(asked!, /SYSTEM|system_instructions/);
  assert.match(c.err(), /where this chat left off: the last 3 turns\x1b\[22m\n/);
  assert.match(c.err(), /✓ bash\n/);

  const none = chatIO(true);
  const quiet = chat(none.io, api, session, { ...OPTS, history: 0 });
  none.stdin.write("\x04");
  await quiet;
  assert.equal(none.out(), "");
});

test("the platform's injected text is dropped from the first message", () => {
  assert.equal(withoutInjected("[SYSTEM: Your LAP session_id is s1. Use it.]\n\n<system_instructions>\nx\n</system_instructions>\n\n<previous_session_history>\ny\n</previous_session_history>\nhello"), "hello");
  assert.equal(withoutInjected("plain [SYSTEM: not at the start]"), "plain [SYSTEM: not at the start]");
});

test("a bracketed paste of several lines is sent as one message", async () => {
  const { api, session, p } = await setup();
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  c.stdin.write("look: \x1b[200~line one\r\nline");
  c.stdin.write(" two\x1b[2");
  c.stdin.write("01~\r");
  await until(() => p.chat.sent.length === 1, c.err);
  c.stdin.write("\x04");
  await done;
  assert.equal(p.chat.sent[0]!.body.text, "look: line one\nline two");
  assert.match(c.err(), /look: \[pasted text #1, 2 lines\]/);
  assert.ok(c.err().startsWith("· chatting") && c.err().includes("\x1b[?2004h") && c.err().includes("\x1b[?2004l"));
});

test("the paste filter passes keys and one-line pastes as typed", async () => {
  const f = new PasteFilter();
  let got = "";
  f.on("data", (d: Buffer) => (got += d.toString()));
  f.write("\x1b[Aab\x1b[200~one line\x1b[201~\r");
  await new Promise((r) => setImmediate(r));
  assert.equal(got, "\x1b[Aabone line\r");
});

test("elapsed time reads in seconds, then minutes, then hours", () => {
  assert.deepEqual([0, 999, 7_000, 59_999, 60_000, 125_000, 3_599_000, 3_720_000].map(elapsed),
    ["0s", "0s", "7s", "59s", "1m00s", "2m05s", "59m59s", "1h02m"]);
});

test("an events stream that keeps ending empty is opened at most once a second, and given up after five in a row", async () => {
  const started = Date.now();
  const { p, api, session } = await setup({ eventsEmpty: true, chatScript: script([{ text: "part one, " }, { cutStream: true }, { sleepMs: 60_000 }, { text: "never" }]) });
  const c = chatIO(false);
  c.stdin.end("go\n");
  const outcome = await chat(c.io, api, session, OPTS).then((code) => `exit ${code}`, (err: Error) => err.message);
  const opened = p.requests.filter((q) => q.method === "GET" && q.path.endsWith("/events")).length;
  assert.equal(opened, 5, `opened ${opened} times; ${outcome}\n${c.err()}`);
  assert.ok(Date.now() - started >= 4_000, "four waits of a second between the five");
  assert.match(`${outcome}\n${c.err()}`, /event stream ended 5 times in a row with nothing in it/);
});

test("Tab offers only skills whose names are plain words: readline would write a hostile name as it is", async () => {
  const skills = [
    { name: "deploy\x1b]0;PWNED\x07\x1b[2J", description: "hostile", content: "x" },
    { name: "debug\u009b5m", description: "hostile", content: "x" },
    { name: "describe", description: "plain", content: "Describe it." },
  ];
  // Typed while the history loads: the completion lands after it all the same.
  const r = await tabThenSend({ skills }, "", "chatting with", "/de", "scribe ", "this");
  assert.equal(r.sent, '<skill name="describe">\nDescribe it.\n</skill>\n\nthis', "Tab completed the one plain name");
  assert.doesNotMatch(r.err, /\x1b\]0;|\x1b\[2J|\u009b/);
});

test("Tab offers a bounded list: at most 30 names, the rest counted, and no name too long to show", async () => {
  const skills = [...Array(100).keys()].map((i) => ({ name: `team-${String(i).padStart(3, "0")}`, description: "d", content: "c" }));
  skills.push({ name: "x".repeat(500), description: "long", content: "c" });
  const { api, session } = await setup({ skills });
  const c = chatIO(true);
  const done = chat(c.io, api, session, OPTS);
  await until(() => c.err().includes("chatting with"), c.err);
  // What all the names start with is completed, then a second Tab lists them.
  c.stdin.write("/t\t");
  await until(() => c.err().includes("eam-"), c.err);
  c.stdin.write("\t");
  await until(() => c.err().includes("more: type more of the name)"), c.err);
  // Readline takes the keys after a Tab only once its completion is done:
  // the one name completed last shows the long name's Tabs were answered.
  c.stdin.write("\x15/x\t\t\x15/team-099\t");
  await until(() => c.err().includes("team-099"), c.err);
  c.stdin.write("\x15\x04");
  await done;
  const err = c.err();
  assert.equal(err.match(/^\/team-\d{3} /gm)?.length, 30, err);
  assert.match(err, /^\(\+70 more: type more of the name\)/m);
  assert.doesNotMatch(err, /xxxxx/, "the long name is not offered");
});

test("--json escapes what a terminal would obey in the agent's text, as every --json document does", async () => {
  const text = "ok \u009b31m \u202eevil\u202c \u2028after";
  const r = await piped({ chatScript: script([{ text }]) }, "go\n", { json: true });
  assert.doesNotMatch(r.out, /[\u0080-\u009f\u202a-\u202e\u2028]/);
  assert.match(r.out, /\\u009b31m \\u202eevil\\u202c \\u2028after/);
  assert.equal(JSON.parse(r.out).text, text);
});

test("--json on a terminal keeps stdout one JSON object a line: coming back and /history print no turns there", async () => {
  const { api, session, p } = await setup();
  p.chat.seed(session.id, [{ user: "earlier question", parts: [{ type: "text", text: "earlier answer" }] }]);
  const c = chatIO(true);
  c.io.stdoutIsTTY = false;
  const done = chat(c.io, api, session, { ...OPTS, json: true });
  c.stdin.write("hi\r");
  await until(() => c.out().includes("echo: hi"), c.out);
  c.stdin.write("/history\r");
  await until(() => /history/.test(c.err()), c.err);
  c.stdin.write("\x04");
  assert.equal(await done, 0);
  const lines = c.out().split("\n").slice(0, -1);
  assert.deepEqual(lines.map((l) => JSON.parse(l).text), ["echo: hi"]);
});
