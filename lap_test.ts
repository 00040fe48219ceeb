import { test } from "node:test";
import assert from "node:assert/strict";
import { parseCommand, parseDuration } from "./lap.js";
import { LapError } from "./internal/errors.js";

const TEN_MINUTES = 600_000;

test("argv becomes a command, with flags before or after the positionals", () => {
  const table: [string[], unknown][] = [
    [[], { cmd: "help", topic: "lap" }],
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
  ];
  for (const [argv, want] of table) assert.deepEqual(parseCommand(argv), want, argv.join(" "));
});

test("bad argv is a usage error (exit 2) with the exact message", () => {
  const table: [string[], string][] = [
    [["--nope"], "unknown flag '--nope'"],
    [["demo", "--timeout"], "flag '--timeout' needs a value"],
    [["attach"], "attach needs a session id"],
    [["attach", "a", "b"], "unexpected argument 'b'"],
    [["agents", "x"], "unexpected argument 'x' for 'lap agents'"],
    [["agents", "--new"], "--new does not apply to 'lap agents'"],
    [["login", "--timeout", "3s"], "--timeout does not apply to 'lap login'"],
    [["--resume", "a", "--new"], "--resume attaches to a known session; it does not take --new or --agent"],
    [["--agent", ""], "the agent name is empty"],
    [["--agent", "x", "y"], "unexpected argument 'y'"],
    [["demo", "--timeout", "0"], "--timeout '0' is not a duration"],
  ];
  for (const [argv, message] of table) {
    assert.throws(() => parseCommand(argv), (err: unknown) => {
      assert.ok(err instanceof LapError);
      assert.equal(err.message, message, argv.join(" "));
      assert.equal(err.code, 2);
      return true;
    });
  }
});

test("durations take seconds by default and ms, s, m, h units", () => {
  assert.equal(parseDuration("90"), 90_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration("1.5m"), 90_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.throws(() => parseDuration("-1s"));
  assert.throws(() => parseDuration("soon"));
});
