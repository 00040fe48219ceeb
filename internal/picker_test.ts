import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Api } from "./api.js";
import { LapError } from "./errors.js";
import { nodeFetch } from "./nodefetch.js";
import {
  Interrupted, agentItems, attachPicked, decodeKeys, filterItems, firstRun, layout, pickAgent, pickSession, pickable, sessionItems, step,
  type Item, type PickOptions, type State,
} from "./picker.js";
import { cellWidth } from "./output.js";
import { startPlatform, type Platform } from "./platform/platform.js";
import { memoryIO } from "./testutil/testio.js";
import { memoryTerminal } from "./testutil/testterm.js";

const started: Platform[] = [];
after(async () => {
  for (const p of started) await p.close();
});

function items(n: number): Item<number>[] {
  return Array.from({ length: n }, (_, i) => ({ value: i, cells: [`agent-${i}`, i % 2 ? "codex" : "claude-code"], search: [`agent-${i}`, i % 2 ? "codex" : "claude-code"] }));
}

function options(list: Item<number>[]): PickOptions<number> {
  return { what: "agent", header: ["NAME", "HARNESS"], items: list, summary: (v) => `· agent agent-${v}` };
}

const ESC = "\x1b";

test("the filter is a case-insensitive substring of any search field", () => {
  const list = items(12);
  assert.equal(filterItems(list, "").length, 12);
  assert.deepEqual(filterItems(list, "CODEX").map((i) => i.value), [1, 3, 5, 7, 9, 11]);
  assert.deepEqual(filterItems(list, "nt-1").map((i) => i.value), [1, 10, 11]);
  assert.deepEqual(filterItems(list, "zzz"), []);
});

test("keys decode from what a terminal sends, also when a sequence is split across reads", () => {
  assert.deepEqual(decodeKeys(`${ESC}[A${ESC}OB\x10\x0e\r\x7f\x08\x03\x15`).keys.map((k) => k.key),
    ["up", "down", "up", "down", "enter", "backspace", "backspace", "interrupt", "clear"]);
  assert.deepEqual(decodeKeys("ab c").keys, [{ key: "char", text: "ab c" }]);
  assert.deepEqual(decodeKeys(`${ESC}[5~${ESC}[6~${ESC}[1;5C${ESC}x`).keys.map((k) => k.key), ["pageup", "pagedown"]);
  assert.deepEqual(decodeKeys(`a${ESC}`), { keys: [{ key: "char", text: "a" }], rest: ESC });
  assert.deepEqual(decodeKeys(`${ESC}[`), { keys: [], rest: `${ESC}[` });
  assert.deepEqual(decodeKeys(`${ESC}${ESC}[B`).keys.map((k) => k.key), ["esc", "down"]);
});

test("moving stays within the matches, typing filters and resets the selection, Enter picks a match", () => {
  const list = items(5);
  const s: State = { query: "", selected: 0, top: 0 };
  assert.equal(step(s, { key: "up" }, list, 3), null);
  assert.equal(s.selected, 0);
  for (let i = 0; i < 9; i++) step(s, { key: "down" }, list, 3);
  assert.equal(s.selected, 4);
  step(s, { key: "pageup" }, list, 3);
  assert.equal(s.selected, 1);
  step(s, { key: "char", text: "Codex" }, list, 3);
  assert.deepEqual(s, { query: "Codex", selected: 0, top: 0 });
  step(s, { key: "down" }, list, 3);
  assert.equal(step(s, { key: "enter" }, list, 3), 1);
  step(s, { key: "backspace" }, list, 3);
  assert.equal(s.query, "Code");
  step(s, { key: "char", text: "zz" }, list, 3);
  assert.equal(step(s, { key: "enter" }, list, 3), null, "nothing to pick");
  assert.equal(step(s, { key: "esc" }, list, 3), "esc");
  assert.equal(step(s, { key: "interrupt" }, list, 3), "interrupt");
});

test("the layout fits the window at 80x24 and 40x10, scrolling to keep the selection in view", () => {
  const list = items(50);
  for (const [cols, rows] of [[80, 24], [40, 10]]) {
    const s: State = { query: "", selected: 0, top: 0 };
    for (let i = 0; i < 30; i++) step(s, { key: "down" }, list, rows - 3);
    const { lines, cursor } = layout(s, options(list), cols, rows);
    assert.equal(lines.length, rows);
    for (const l of lines) assert.ok([...l.replace(/\x1b\[\d*m/g, "")].length < cols, `${cols}x${rows}: ${l}`);
    const selected = lines.filter((l) => l.startsWith("\x1b[7m"));
    assert.equal(selected.length, 1);
    assert.match(selected[0], /^\x1b\[7m> agent-30 /);
    assert.match(lines[0], /^Pick an agent \(50\/50\)/);
    assert.deepEqual(cursor, { row: 1, col: 2 });
  }
  const none = layout({ query: "zz", selected: 0, top: 0 }, options(list), 40, 10).lines;
  assert.deepEqual(none.slice(1), ["> zz", "  NAME  HARNESS", "  no agent matches 'zz'"]);
  // A window too short for it all still shows the selected row.
  const tiny = (rows: number) => layout({ query: "", selected: 30, top: 0 }, options(list), 40, rows);
  assert.equal(tiny(3).lines.length, 3);
  assert.match(tiny(3).lines[2], /^\x1b\[7m> agent-30 /);
  assert.deepEqual(tiny(2).lines.map((l) => l.slice(0, 14)), ["> ", "\x1b[7m> agent-30"]);
  assert.deepEqual(tiny(2).cursor, { row: 0, col: 2 });
  assert.match(tiny(1).lines.join("\n"), /^\x1b\[7m> agent-30 [^\n]*$/);
  const wide = items(3).map((i) => ({ ...i, cells: ["エージェント名前がとても長い", "claude-code"] }));
  for (const l of layout({ query: "", selected: 0, top: 0 }, options(wide), 30, 8).lines) {
    assert.ok(cellWidth(l.replace(/\x1b\[\d*m/g, "")) < 30, l);
  }
});

test("agent rows show name, harness, terminal or chat, and whether a session is live; hostile names are made visible", () => {
  const rows = agentItems([
    { id: "a1", name: "\x1b[2Jevil", harness_id: "claude-code", has_active_session: true },
    { id: "a2", name: null, harness_id: "opencode", supports_tui: false, has_active_session: false },
    { id: "a3", name: "old", harness_id: "codex" },
  ]).map((i) => i.cells);
  assert.deepEqual(rows, [["\\x1b[2Jevil", "claude-code", "terminal", "live"], ["a2", "opencode", "chat", "-"], ["old", "codex", "terminal", "?"]]);
  const s = sessionItems([{ id: "4f0c2a11-0000", agent_id: "a1", status: "ready", created_at: new Date(1000).toISOString() }], new Map([["a1", "demo"]]), 61_000);
  assert.deepEqual(s[0].cells, ["4f0c2a11", "demo", "ready", "1m"]);
});

async function platform(agents: number): Promise<Platform> {
  const p = await startPlatform({ bringUpMs: 0 });
  started.push(p);
  for (let i = 0; i < agents; i++) p.addAgent({ name: `agent-${i}`, harness_id: i % 2 ? "codex" : "claude-code", supports_tui: true });
  return p;
}

function terminalIO(p: Platform) {
  const term = memoryTerminal({ size: { cols: 40, rows: 10 } });
  const env = { LAP_BASE_URL: p.url, LAP_MASTER_KEY: p.key };
  const m = memoryIO({ env, fetch: nodeFetch as typeof fetch, stdinIsTTY: true, stderrIsTTY: true, terminal: () => term.term });
  return { ...m, term };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check());
}

test("pick draws on the alternate screen of stderr, picks with Enter and gives the terminal back", async () => {
  const p = await platform(50);
  const t = terminalIO(p);
  const done = pickAgent(t.io, new Api(p.url, p.key, nodeFetch as typeof fetch));
  await until(() => t.stderr().includes("agent-49"));
  t.term.input.write("agent-4");
  t.term.input.write(`${ESC}[B`);
  t.term.input.write("\r");
  const agent = await done;
  assert.equal(agent?.name, "agent-48", "the second match of agent-4: agent-49, agent-48, ... newest first");
  assert.deepEqual(t.term.rawCalls, [true, false]);
  assert.ok(t.stderr().startsWith("\x1b[?1049h"));
  assert.ok(t.stderr().endsWith("\x1b[?1049l\x1b[?25h· agent agent-48\n"));
  assert.equal(t.stdout(), "");
});

test("Esc cancels with nothing picked, Ctrl-C throws Interrupted (130), a resize redraws at the new size", async () => {
  const p = await platform(3);
  const api = new Api(p.url, p.key, nodeFetch as typeof fetch);
  const esc = terminalIO(p);
  const cancelled = pickAgent(esc.io, api);
  await until(() => esc.stderr().includes("agent-0"));
  esc.term.resize(30, 6);
  await until(() => /Pick an agent \(3\/3\) — ↑↓ mov…/.test(esc.stderr()));
  esc.term.input.write(ESC);
  assert.equal(await cancelled, null);
  assert.match(esc.stderr(), /· no agent picked\n$/);
  assert.deepEqual(esc.term.rawCalls, [true, false]);

  const ctrlC = terminalIO(p);
  const interrupted = pickSession(ctrlC.io, api).catch((e: unknown) => e);
  assert.match(String(await interrupted), /no live sessions/);
  await api.createSession(p.agents[0].id, "t");
  const again = pickSession(ctrlC.io, api);
  await until(() => ctrlC.stderr().includes("agent-0"));
  ctrlC.term.input.write("\x03");
  await assert.rejects(again, (err: unknown) => err instanceof Interrupted && err.code === 130);
  assert.deepEqual(ctrlC.term.rawCalls, [true, false]);

  const hup = terminalIO(p);
  const hungUp = pickAgent(hup.io, api);
  await until(() => hup.stderr().includes("agent-0"));
  hup.term.signal("SIGHUP");
  await assert.rejects(hungUp, (err: unknown) => err instanceof LapError && err.code === 129 && /SIGHUP: no agent picked/.test(err.message));
  assert.deepEqual(hup.term.rawCalls, [true, false], "a signal gives the terminal back too");
});

test("with no agents the picker does not open: one line says so and where agents are made", async () => {
  const p = await platform(0);
  const t = terminalIO(p);
  await assert.rejects(pickAgent(t.io, new Api(p.url, p.key, nodeFetch as typeof fetch)), (err: unknown) => {
    assert.ok(err instanceof LapError);
    assert.match(err.message, /^no agents on http:\/\/127\.0\.0\.1:\d+: agents are created in the platform's web UI$/);
    assert.equal(err.hint, "");
    return true;
  });
  assert.deepEqual(t.term.rawCalls, []);
});

test("the picker needs a terminal on stdin and stderr", () => {
  assert.equal(pickable(memoryIO().io), false);
  assert.equal(pickable(memoryIO({ stdinIsTTY: true }).io), false);
  assert.equal(pickable(memoryIO({ stdinIsTTY: true, stderrIsTTY: true }).io), true);
});

test("first run: Esc in the agent picker exits 0 without opening anything, Ctrl-C exits 130", async () => {
  const p = await platform(2);
  for (const [key, code] of [[ESC, 0], ["\x03", 130]] as const) {
    const t = terminalIO(p);
    const done = firstRun(t.io, { timeoutMs: 5000 });
    await until(() => t.stderr().includes("agent-1"));
    t.term.input.write(key);
    assert.equal(await done, code);
    assert.equal(p.sessions.size, 0);
  }
});

test("lap attach without an id: Esc in the session picker exits 0 and attaches to nothing", async () => {
  const p = await platform(1);
  await new Api(p.url, p.key, nodeFetch as typeof fetch).createSession(p.agents[0].id, "t");
  const t = terminalIO(p);
  const done = attachPicked(t.io, { timeoutMs: 5000 });
  await until(() => t.stderr().includes("agent-0"));
  t.term.input.write(ESC);
  assert.equal(await done, 0);
  assert.match(t.stderr(), /· no session picked\n$/);
  assert.equal(p.spawnCount, 0);
});
